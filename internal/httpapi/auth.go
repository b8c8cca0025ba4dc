package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/warden"
)

// localPrincipal is who every request acts as without authentication.
var localPrincipal = auth.Principal{Name: "local", Role: auth.RoleAdmin}

// authenticate finds the request's principal and checks that its role may
// call a route with access a.
func (s *server) authenticate(r *http.Request, a access) (auth.Principal, error) {
	if a == public {
		return auth.Principal{}, nil
	}
	if s.noAuth {
		return localPrincipal, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, warden.Errorf(warden.CodeUnauthorized, "missing bearer token; send Authorization: Bearer %s…", auth.SecretPrefix)
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, warden.Errorf(warden.CodeUnauthorized, "the Authorization header must be Bearer %s…", auth.SecretPrefix)
	}
	p, err := auth.Authenticate(r.Context(), s.tokens, strings.TrimSpace(secret))
	if err != nil {
		return auth.Principal{}, err
	}
	need, what := auth.Role(""), ""
	switch a {
	case agentRole:
		need, what = auth.RoleAgent, "an agent or admin token"
	case approverRole:
		need, what = auth.RoleApprover, "an approver or admin token"
	case adminRole:
		need, what = auth.RoleAdmin, "an admin token"
	}
	if need != "" && !p.Has(need) {
		return auth.Principal{}, warden.Errorf(warden.CodeForbidden, "%s (%s) may not do this; it needs %s", p.Name, p.Role, what)
	}
	return p, nil
}

// session loads a session p may see. An agent sees only the sessions it
// created; another's session is "not found", exactly as an unknown id is,
// so that ids are not confirmed.
func (s *server) session(ctx context.Context, p auth.Principal, id string) (*gateway.Session, error) {
	sess, err := s.gw.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ownerOK(p, sess.Owner) {
		return nil, warden.Errorf(warden.CodeNotFound, "session %q not found", id)
	}
	return sess, nil
}

// ownerOK reports whether p may act on something owned by owner.
func ownerOK(p auth.Principal, owner string) bool {
	return p.Role != auth.RoleAgent || owner == p.Name
}

// ownerFilter restricts an agent's listings to its own sessions.
func ownerFilter(p auth.Principal) string {
	if p.Role == auth.RoleAgent {
		return p.Name
	}
	return ""
}

// approver is the gateway identity of an approving principal.
func approver(p auth.Principal) gateway.Approver {
	return gateway.Approver{ID: p.Name, Groups: p.Groups}
}

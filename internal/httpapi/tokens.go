package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/warden"
)

// The token routes are for admins only (the route table says so); a
// token's secret is in the answer to its creation and nowhere else.

type v1TokenRequest struct {
	Name   *string  `json:"name"`
	Role   *string  `json:"role"`
	Groups []string `json:"groups"`
}

func (*v1TokenRequest) example() string {
	return `{"name": "ci-agent", "role": "agent", "groups": ["release"]}`
}

// issuedToken answers a token's creation: the token and, this once, its
// secret.
type issuedToken struct {
	Secret string     `json:"secret"`
	Token  auth.Token `json:"token"`
}

type tokenList struct {
	Tokens []auth.Token `json:"tokens"`
}

// tokenStore returns the token store, or an error saying the server has
// none (it serves without authentication).
func (s *server) tokenStore() (auth.Store, error) {
	if s.tokens == nil {
		return nil, warden.Errorf(warden.CodeNotFound, "this server keeps no tokens: it serves without authentication")
	}
	return s.tokens, nil
}

func (s *server) v1ListTokens(r *http.Request, _ auth.Principal) (int, any, error) {
	store, err := s.tokenStore()
	if err != nil {
		return 0, nil, err
	}
	list, err := store.List(r.Context())
	if err != nil {
		return 0, nil, err
	}
	if list == nil {
		list = []auth.Token{}
	}
	return http.StatusOK, tokenList{Tokens: list}, nil
}

func (s *server) v1CreateToken(r *http.Request, _ auth.Principal) (int, any, error) {
	var req v1TokenRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return 0, nil, missing("name", req.example())
	}
	if req.Role == nil || *req.Role == "" {
		return 0, nil, missing("role", req.example())
	}
	if role := auth.Role(*req.Role); !role.Valid() {
		return 0, nil, invalid("field \"role\" must be agent, approver or admin, not %q", *req.Role)
	}
	store, err := s.tokenStore()
	if err != nil {
		return 0, nil, err
	}
	secret, t, err := auth.Issue(r.Context(), store, *req.Name, auth.Role(*req.Role), req.Groups)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, issuedToken{Secret: secret, Token: t}, nil
}

func (s *server) v1RevokeToken(r *http.Request, _ auth.Principal) (int, any, error) {
	store, err := s.tokenStore()
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if err := store.Revoke(r.Context(), id); err != nil {
		return 0, nil, tokenError(id, err)
	}
	t, err := findToken(r.Context(), store, id)
	if err != nil {
		return 0, nil, tokenError(id, err)
	}
	return http.StatusOK, t, nil
}

// findToken returns the token with this ID, or auth.ErrNotFound.
func findToken(ctx context.Context, store auth.Store, id string) (auth.Token, error) {
	list, err := store.List(ctx)
	if err != nil {
		return auth.Token{}, err
	}
	for _, t := range list {
		if t.ID == id {
			return t, nil
		}
	}
	return auth.Token{}, auth.ErrNotFound
}

// tokenError turns the store's "not found" into NOT_FOUND.
func tokenError(id string, err error) error {
	if errors.Is(err, auth.ErrNotFound) {
		return warden.Errorf(warden.CodeNotFound, "token %q not found; GET /v1/tokens lists the tokens", id)
	}
	return err
}

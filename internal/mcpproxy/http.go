package mcpproxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/warden"
)

// Paths the HTTP transports are served at.
const (
	PathHTTP = "/mcp"
	PathSSE  = "/sse"
)

// statelessVersion is the first protocol version that Streamable HTTP
// serves without sessions.
const statelessVersion = "2026-07-28"

// Handler returns the agent-facing HTTP handler for transport (TransportHTTP
// or TransportSSE), serving at PathHTTP or PathSSE. Streamable HTTP speaks
// every protocol version: requests of 2026-07-28 and later are served
// statelessly, as that revision requires, and older clients get sessions.
// The handler does not authenticate; wrap it with Authenticate.
func (p *Proxy) Handler(transport string) http.Handler {
	get := func(*http.Request) *mcp.Server { return p.server }
	mux := http.NewServeMux()
	switch transport {
	case TransportSSE:
		// The SDK hands the token of an SSE request to no handler: the
		// identity comes from the context of the event stream instead.
		if _, added := sseIdentityAdded.LoadOrStore(p, true); !added {
			p.server.AddReceivingMiddleware(sseIdentity)
		}
		mux.Handle(PathSSE, &sseOwners{next: mcp.NewSSEHandler(get, nil), owner: map[string]string{}})
	default:
		stateful := mcp.NewStreamableHTTPHandler(get, nil)
		stateless := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
		mux.Handle(PathHTTP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Mcp-Protocol-Version") >= statelessVersion {
				stateless.ServeHTTP(w, r)
				return
			}
			stateful.ServeHTTP(w, r)
		}))
	}
	return mux
}

// principalKey carries the authenticated principal from Authenticate to
// the SDK's token verifier.
type principalKey struct{}

// sseIdentityAdded records the proxies whose server has sseIdentity.
var sseIdentityAdded sync.Map

// sseIdentity gives a request that came over legacy SSE the token of the
// event stream it belongs to. The SDK fills RequestExtra.TokenInfo for
// Streamable HTTP only; an SSE session's handlers run in the context of
// the GET that opened the stream, which Authenticate has checked.
func sseIdentity(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if ti := sdkauth.TokenInfoFromContext(ctx); ti != nil {
			switch r := req.(type) {
			case *mcp.CallToolRequest:
				r.Extra = withToken(r.Extra, ti)
			case *mcp.ReadResourceRequest:
				r.Extra = withToken(r.Extra, ti)
			case *mcp.GetPromptRequest:
				r.Extra = withToken(r.Extra, ti)
			}
		}
		return next(ctx, method, req)
	}
}

func withToken(extra *mcp.RequestExtra, ti *sdkauth.TokenInfo) *mcp.RequestExtra {
	if extra == nil {
		return &mcp.RequestExtra{TokenInfo: ti}
	}
	if extra.TokenInfo == nil {
		extra.TokenInfo = ti
	}
	return extra
}

// sseOwners keeps each legacy SSE session to the token that opened it: a
// message posted to a session with another token is refused, as the SDK
// does for Streamable HTTP sessions.
type sseOwners struct {
	next  http.Handler
	mu    sync.Mutex
	owner map[string]string // session id → token id ("" without a token)
}

func tokenID(r *http.Request) string {
	pr, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return pr.TokenID
}

func (o *sseOwners) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		sw := &sessionSniffer{ResponseWriter: w, owners: o, token: tokenID(r)}
		defer func() {
			if sw.id != "" {
				o.mu.Lock()
				delete(o.owner, sw.id)
				o.mu.Unlock()
			}
		}()
		o.next.ServeHTTP(sw, r)
	case http.MethodPost:
		if id := r.URL.Query().Get("sessionid"); id != "" {
			o.mu.Lock()
			owner, known := o.owner[id]
			o.mu.Unlock()
			if known && owner != tokenID(r) {
				http.Error(w, "this SSE session was opened with another token; post with the token that opened it", http.StatusForbidden)
				return
			}
		}
		o.next.ServeHTTP(w, r)
	default:
		o.next.ServeHTTP(w, r)
	}
}

// sessionSniffer learns an SSE session's id from the endpoint event the
// SDK writes first ("data: /sse?sessionid=ID").
type sessionSniffer struct {
	http.ResponseWriter
	owners *sseOwners
	token  string
	id     string
	seen   bool
}

func (s *sessionSniffer) Write(b []byte) (int, error) {
	// Only the first event is looked at: what follows is the agent's data.
	if !s.seen && len(b) > 0 {
		s.seen = true
		if _, rest, ok := strings.Cut(string(b), "sessionid="); ok && strings.HasPrefix(string(b), "event: endpoint\n") {
			if i := strings.IndexAny(rest, "&\r\n "); i >= 0 {
				rest = rest[:i]
			}
			if id, err := url.QueryUnescape(rest); err == nil && id != "" {
				s.id = id
				s.owners.mu.Lock()
				s.owners.owner[id] = s.token
				s.owners.mu.Unlock()
			}
		}
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController flush the event stream.
func (s *sessionSniffer) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Authenticate returns middleware that authenticates agents by the bearer
// tokens in store: a token of role agent or admin may use the proxy, and
// its identity becomes the actor of the calls it makes. With required
// false (a loopback address) a request without an Authorization header
// passes as it is; a token that is present is still checked.
func Authenticate(store auth.Store, required bool) func(http.Handler) http.Handler {
	verifier := func(ctx context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
		pr, ok := r.Context().Value(principalKey{}).(auth.Principal)
		if !ok {
			return nil, sdkauth.ErrInvalidToken
		}
		return &sdkauth.TokenInfo{UserID: pr.Name, Scopes: []string{string(pr.Role)},
			Extra: map[string]any{"tokenId": pr.TokenID, "role": string(pr.Role)}}, nil
	}
	sdk := sdkauth.RequireBearerToken(verifier, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})
	return func(next http.Handler) http.Handler {
		withToken := sdk(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			if h == "" && !required {
				next.ServeHTTP(w, r)
				return
			}
			if h == "" {
				unauthorized(w, http.StatusUnauthorized, fmt.Sprintf("missing bearer token: send Authorization: Bearer %s… (an agent token: warden token create --name NAME --role agent)", auth.SecretPrefix))
				return
			}
			scheme, secret, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				unauthorized(w, http.StatusUnauthorized, fmt.Sprintf("the Authorization header must be Bearer %s…", auth.SecretPrefix))
				return
			}
			pr, err := auth.Authenticate(r.Context(), store, strings.TrimSpace(secret))
			if err != nil {
				if warden.ErrorCode(err) == warden.CodeUnauthorized {
					unauthorized(w, http.StatusUnauthorized, warden.ErrorMessage(err))
				} else {
					http.Error(w, "could not check the token", http.StatusInternalServerError)
				}
				return
			}
			if !pr.Has(auth.RoleAgent) {
				unauthorized(w, http.StatusForbidden, fmt.Sprintf("%s (%s) may not use the MCP proxy; it needs an agent or admin token", pr.Name, pr.Role))
				return
			}
			withToken.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, pr)))
		})
	}
}

func unauthorized(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="warden"`)
	}
	http.Error(w, msg, status)
}

// IsLoopback reports whether a listen address (host:port) binds only the
// loopback interface, where the proxy may serve without tokens.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Package httpapi is Warden's HTTP API: det-acp's session endpoints at
// det-acp's paths and bodies, so that det-acp clients keep working, and the
// /v1 API with SPEC §5's result envelope, approvals, decisions and
// templates, policy validation, explain, health, Prometheus metrics and an
// OpenAPI document.
//
// Every handler is thin — decode, authorize, one gateway call, encode — and
// every failure goes through one error mapper that turns a warden.Error
// code into an HTTP status. Requests carry a bearer token whose role and
// identity decide what they may do; the identity, never a body field, is
// the requester or approver the gateway records.
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
)

// Config configures the API handler.
type Config struct {
	// Gateway serves the sessions and approvals; required.
	Gateway *gateway.Gateway
	// Tokens authenticates bearer tokens; required unless NoAuth.
	Tokens auth.Store
	// NoAuth serves every request as the admin "local", without a token.
	// Only for a server reachable from this machine alone.
	NoAuth bool
	// PolicyDir is the only directory server-side policy files may be read
	// from; when empty, policies are accepted inline only.
	PolicyDir string
	// Logger receives one structured record per request; a JSON logger on
	// stderr when nil.
	Logger *slog.Logger
	// Registry receives the API's metrics, which /metrics serves; a new
	// private registry when nil. It should not be the global registry.
	Registry *prometheus.Registry
	// Version is reported by the health endpoints.
	Version string
	// Ledger serves the ledger routes; without it they answer 404.
	Ledger *ledger.Ledger
	// ExecRoot is the directory inside which sessions' roots must lie for
	// the server to execute their actions; when empty it executes none.
	ExecRoot string
	// Decisions serves the decision and template routes; without it they
	// answer 404.
	Decisions *decision.Service
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// style is the response format of a route family.
type style uint8

const (
	// styleDetACP answers with det-acp's bare bodies and {error, code}.
	styleDetACP style = iota
	// styleV1 answers with the {ok, data} / {ok, error} envelope.
	styleV1
)

// access is who may call a route.
type access uint8

const (
	public       access = iota // no token needed
	anyRole                    // any valid token
	agentRole                  // agents and admins
	approverRole               // approvers and admins
	adminRole                  // admins
)

// apiFunc is a handler: it returns the success status and body, or an
// error for the mapper.
type apiFunc func(r *http.Request, p auth.Principal) (int, any, error)

// route is one registered endpoint.
type route struct {
	pattern string
	style   style
	access  access
	fn      apiFunc
	raw     http.Handler // for non-JSON endpoints, instead of fn
}

// blob is a handler's answer that is not JSON: sent as is, with its
// media type, outside the envelope. Errors are still JSON.
type blob struct {
	contentType string
	data        []byte
}

func (b blob) write(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", b.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b.data)
}

// server is the API handler.
type server struct {
	gw        *gateway.Gateway
	tokens    auth.Store
	noAuth    bool
	policyDir string
	execRoot  string
	ledger    *ledger.Ledger
	decs      *decision.Service
	log       *slog.Logger
	metrics   *metrics
	version   string
	mux       *http.ServeMux
	routes    []string
}

// New returns the API handler for cfg.
func New(cfg Config) (http.Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newServer(cfg Config) (*server, error) {
	if cfg.Gateway == nil {
		return nil, errors.New("httpapi: Config.Gateway is required")
	}
	if cfg.Tokens == nil && !cfg.NoAuth {
		return nil, errors.New("httpapi: Config.Tokens is required unless NoAuth is set")
	}
	s := &server{gw: cfg.Gateway, tokens: cfg.Tokens, noAuth: cfg.NoAuth, ledger: cfg.Ledger, decs: cfg.Decisions, log: cfg.Logger, version: cfg.Version, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.ExecRoot != "" {
		dir, err := filepath.Abs(cfg.ExecRoot)
		if err == nil {
			dir, err = filepath.EvalSymlinks(dir)
		}
		if fi, serr := os.Stat(dir); err != nil || serr != nil || !fi.IsDir() {
			return nil, fmt.Errorf("httpapi: execution root %s is not an existing directory", cfg.ExecRoot)
		}
		s.execRoot = dir
	}
	if cfg.PolicyDir != "" {
		dir, err := filepath.Abs(cfg.PolicyDir)
		if err != nil {
			return nil, fmt.Errorf("httpapi: policy directory: %w", err)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("httpapi: policy directory %s is not an existing directory", cfg.PolicyDir)
		}
		s.policyDir = dir
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	for _, rt := range s.table() {
		s.mux.Handle(rt.pattern, s.wrap(rt))
		s.routes = append(s.routes, rt.pattern)
	}
	return s, nil
}

// table lists every endpoint.
func (s *server) table() []route {
	return []route{
		// det-acp's endpoints, paths and bodies.
		{pattern: "GET /health", style: styleDetACP, access: public, fn: s.detHealth},
		{pattern: "POST /validate", style: styleDetACP, access: anyRole, fn: s.detValidate},
		{pattern: "POST /sessions", style: styleDetACP, access: agentRole, fn: s.detCreateSession},
		{pattern: "GET /sessions", style: styleDetACP, access: anyRole, fn: s.detListSessions},
		{pattern: "GET /sessions/{id}", style: styleDetACP, access: anyRole, fn: s.detGetSession},
		{pattern: "POST /sessions/{id}/evaluate", style: styleDetACP, access: agentRole, fn: s.detEvaluate},
		{pattern: "POST /sessions/{id}/record", style: styleDetACP, access: agentRole, fn: s.detRecord},
		{pattern: "POST /sessions/{id}/approve", style: styleDetACP, access: approverRole, fn: s.detApprove},
		{pattern: "POST /sessions/{id}/reject", style: styleDetACP, access: approverRole, fn: s.detReject},
		{pattern: "POST /sessions/{id}/terminate", style: styleDetACP, access: agentRole, fn: s.detTerminate},
		{pattern: "GET /sessions/{id}/report", style: styleDetACP, access: anyRole, fn: s.detReport},
		{pattern: "GET /sessions/{id}/ledger", style: styleDetACP, access: anyRole, fn: s.detLedger},
		{pattern: "GET /sessions/{id}/ledger/summary", style: styleDetACP, access: anyRole, fn: s.detLedgerSummary},
		{pattern: "GET /sessions/{id}/ledger/verify", style: styleDetACP, access: anyRole, fn: s.detLedgerVerify},

		// The /v1 API.
		{pattern: "POST /v1/sessions", style: styleV1, access: agentRole, fn: s.v1CreateSession},
		{pattern: "GET /v1/sessions", style: styleV1, access: anyRole, fn: s.v1ListSessions},
		{pattern: "GET /v1/sessions/{id}", style: styleV1, access: anyRole, fn: s.v1GetSession},
		{pattern: "POST /v1/sessions/{id}/evaluate", style: styleV1, access: agentRole, fn: s.v1Evaluate},
		{pattern: "POST /v1/sessions/{id}/record", style: styleV1, access: agentRole, fn: s.v1Record},
		{pattern: "POST /v1/sessions/{id}/execute", style: styleV1, access: agentRole, fn: s.v1Execute},
		{pattern: "POST /v1/sessions/{id}/rollback", style: styleV1, access: anyRole, fn: s.v1Rollback},
		{pattern: "POST /v1/sessions/{id}/terminate", style: styleV1, access: agentRole, fn: s.v1Terminate},
		{pattern: "GET /v1/sessions/{id}/report", style: styleV1, access: anyRole, fn: s.v1Report},
		{pattern: "GET /v1/approvals", style: styleV1, access: approverRole, fn: s.v1ListApprovals},
		{pattern: "GET /v1/approvals/{id}", style: styleV1, access: anyRole, fn: s.v1GetApproval},
		{pattern: "POST /v1/approvals/{id}/approve", style: styleV1, access: approverRole, fn: s.v1Approve},
		{pattern: "POST /v1/approvals/{id}/reject", style: styleV1, access: approverRole, fn: s.v1Reject},
		{pattern: "POST /v1/policies/validate", style: styleV1, access: anyRole, fn: s.v1Validate},
		{pattern: "POST /v1/explain", style: styleV1, access: anyRole, fn: s.v1Explain},
		{pattern: "GET /v1/sessions/{id}/ledger", style: styleV1, access: anyRole, fn: s.v1Ledger},
		{pattern: "GET /v1/sessions/{id}/ledger/export", style: styleV1, access: anyRole, fn: s.v1LedgerExport},
		{pattern: "GET /v1/ledger/checkpoint", style: styleV1, access: anyRole, fn: s.v1Checkpoint},
		{pattern: "GET /v1/ledger/proof", style: styleV1, access: anyRole, fn: s.v1Proof},
		{pattern: "GET /v1/tokens", style: styleV1, access: adminRole, fn: s.v1ListTokens},
		{pattern: "POST /v1/tokens", style: styleV1, access: adminRole, fn: s.v1CreateToken},
		{pattern: "POST /v1/tokens/{id}/revoke", style: styleV1, access: adminRole, fn: s.v1RevokeToken},
		{pattern: "POST /v1/decisions", style: styleV1, access: agentRole, fn: s.v1RequestDecision},
		{pattern: "GET /v1/decisions", style: styleV1, access: anyRole, fn: s.v1ListDecisions},
		{pattern: "GET /v1/decisions/{id}", style: styleV1, access: anyRole, fn: s.v1GetDecision},
		{pattern: "GET /v1/decisions/{id}/inspect", style: styleV1, access: anyRole, fn: s.v1InspectDecision},
		{pattern: "GET /v1/decisions/{id}/events", style: styleV1, access: anyRole, fn: s.v1DecisionEvents},
		{pattern: "POST /v1/decisions/{id}/approve", style: styleV1, access: approverRole, fn: s.v1ApproveDecision},
		{pattern: "POST /v1/decisions/{id}/revoke", style: styleV1, access: approverRole, fn: s.v1RevokeDecision},
		{pattern: "POST /v1/decisions/{id}/reject", style: styleV1, access: approverRole, fn: s.v1RejectDecision},
		{pattern: "POST /v1/decisions/{id}/execute", style: styleV1, access: agentRole, fn: s.v1ExecuteDecision},
		{pattern: "POST /v1/templates", style: styleV1, access: adminRole, fn: s.v1CreateTemplate},
		{pattern: "GET /v1/templates", style: styleV1, access: anyRole, fn: s.v1ListTemplates},
		{pattern: "GET /v1/templates/{name}", style: styleV1, access: anyRole, fn: s.v1GetTemplate},
		{pattern: "POST /v1/webhooks/approvals/{id}", style: styleV1, access: public, fn: s.v1WebhookCallback},
		{pattern: "GET /healthz", style: styleV1, access: public, fn: s.v1Healthz},
		{pattern: "GET /metrics", style: styleV1, access: adminRole, raw: s.metrics.handler()},
		{pattern: "GET /openapi.json", style: styleV1, access: public, raw: http.HandlerFunc(serveOpenAPI)},
	}
}

// reqInfo is what the middleware learns about a request as it is served.
type reqInfo struct {
	matched   bool
	route     string
	style     style
	principal string
	code      string
}

// respWriter records the status and holds back the mux's own plain-text
// 404 and 405 answers so that they can be re-sent in the API's format.
type respWriter struct {
	http.ResponseWriter
	info   reqInfo
	status int
	wrote  bool
	// hold is set until a route takes the request; while it is, the mux's
	// 404 and 405 are held back in intercepted.
	hold        bool
	intercepted int
}

func (w *respWriter) WriteHeader(code int) {
	if w.wrote || w.intercepted != 0 {
		return
	}
	if w.hold && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.intercepted = code
		return
	}
	w.status, w.wrote = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.intercepted != 0 {
		return len(b), nil
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
		if w.intercepted != 0 {
			return len(b), nil
		}
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP recovers from panics, serves the request, and logs and counts
// it.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &respWriter{ResponseWriter: w, hold: true}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "route", rw.info.route, "panic", fmt.Sprint(v), "stack", string(stack()))
			if !rw.wrote {
				rw.hold, rw.intercepted = false, 0
				s.fail(rw, r, rw.info.style, errPanic)
			}
		}
		s.observe(r, rw, time.Since(start))
	}()
	s.mux.ServeHTTP(rw, r)
	rw.hold = false
	switch rw.intercepted {
	case http.StatusNotFound:
		rw.info.style = styleFor(r.URL.Path)
		rw.intercepted = 0
		s.fail(rw, r, rw.info.style, notFoundRoute(r))
	case http.StatusMethodNotAllowed:
		rw.info.style = styleFor(r.URL.Path)
		rw.intercepted = 0
		s.fail(rw, r, rw.info.style, methodNotAllowed(r, w.Header().Get("Allow")))
	}
}

// styleFor picks the error format for a path no route matched: det-acp's
// for det-acp's paths, the envelope for everything else.
func styleFor(path string) style {
	if path == "/health" || path == "/validate" || path == "/sessions" || strings.HasPrefix(path, "/sessions/") {
		return styleDetACP
	}
	return styleV1
}

// wrap turns a route into a handler: authenticate, check the role, run the
// handler, encode its answer or its error.
func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw, ok := w.(*respWriter)
		if !ok {
			rw = &respWriter{ResponseWriter: w}
		}
		rw.hold = false
		rw.info.matched, rw.info.route, rw.info.style = true, rt.pattern, rt.style
		p, err := s.authenticate(r, rt.access)
		if err != nil {
			s.fail(rw, r, rt.style, err)
			return
		}
		rw.info.principal = p.Name
		if rt.raw != nil {
			rt.raw.ServeHTTP(rw, r)
			return
		}
		status, body, err := rt.fn(r, p)
		if err != nil {
			s.fail(rw, r, rt.style, err)
			return
		}
		if b, ok := body.(blob); ok {
			b.write(rw, status)
			return
		}
		if rt.style == styleV1 {
			body = envelope{OK: true, Data: body}
		}
		s.writeJSON(rw, r, rt.style, status, body)
	})
}

// observe logs the request and updates the request metrics.
func (s *server) observe(r *http.Request, rw *respWriter, d time.Duration) {
	route := rw.info.route
	if !rw.info.matched {
		route = "unmatched"
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.observe(route, status, d)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("principal", rw.info.principal),
	}
	if rw.info.code != "" {
		attrs = append(attrs, slog.String("code", rw.info.code))
	}
	s.log.LogAttrs(r.Context(), level, "http request", attrs...)
}

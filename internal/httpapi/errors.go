package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/wardenhq/warden/internal/warden"
)

// Codes of this edge only: they describe HTTP requests, not the domain.
const (
	codeMethodNotAllowed     warden.Code = "METHOD_NOT_ALLOWED"
	codeUnsupportedMediaType warden.Code = "UNSUPPORTED_MEDIA_TYPE"
)

// statusOf maps an error code to its HTTP status: the one mapping of this
// edge. A domain code not listed is a problem with the request.
func statusOf(code warden.Code) int {
	switch code {
	case warden.CodeInvalidInput, warden.CodeInvalidPolicy, warden.CodeConflictModeInvalid, warden.CodeBundleInvalid:
		return http.StatusBadRequest
	case warden.CodeUnauthorized:
		return http.StatusUnauthorized
	case warden.CodeForbidden, warden.CodeSelfApproval, warden.CodeNotAnApprover, warden.CodeDenied, warden.CodePolicyViolation:
		return http.StatusForbidden
	case warden.CodeNotFound, warden.CodeDecisionNotFound, warden.CodeTemplateNotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case warden.CodeConflict, warden.CodeInvalidState, warden.CodeAlreadyApproved, warden.CodeNotReversible,
		warden.CodeDecisionExists, warden.CodeTemplateExists, warden.CodeNotApproved, warden.CodeNoRouterLink:
		return http.StatusConflict
	case warden.CodeExpired:
		return http.StatusGone
	case warden.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case codeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case warden.CodeIntegrityMismatch, warden.CodeReplayInvalid, warden.CodeRouterDigestMismatch:
		return http.StatusUnprocessableEntity
	case warden.CodeNoExecutor:
		return http.StatusNotImplemented
	case warden.CodeRouterError:
		return http.StatusBadGateway
	case warden.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// envelope is SPEC §5's result envelope.
type envelope struct {
	OK    bool       `json:"ok"`
	Data  any        `json:"data,omitempty"`
	Error *errorBody `json:"error,omitempty"`
}

// errorBody is the envelope's error.
type errorBody struct {
	Code    warden.Code    `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// errPanic stands for a recovered panic.
var errPanic = errors.New("panic")

// fail answers err in the route's format. Errors that are not a
// warden.Error, and INTERNAL ones, are logged with their detail and
// answered with "internal error" only.
func (s *server) fail(w *respWriter, r *http.Request, st style, err error) {
	code := warden.ErrorCode(err)
	msg := warden.ErrorMessage(err)
	var details map[string]any
	var we *warden.Error
	if errors.As(err, &we) {
		details = we.Details
	}
	if code == warden.CodeInternal {
		if !errors.Is(err, errPanic) {
			s.log.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("method", r.Method), slog.String("route", w.info.route), slog.String("error", err.Error()))
		}
		msg, details = "internal error", nil
	}
	w.info.code = string(code)
	s.metrics.errors.WithLabelValues(string(code)).Inc()
	status := statusOf(code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="warden"`)
	}
	var body any
	if st == styleV1 {
		if details == nil {
			details = map[string]any{}
		}
		body = envelope{Error: &errorBody{Code: code, Message: msg, Details: details}}
	} else {
		// det-acp's {"error": message}, plus the code and any details at
		// the top level, where det-acp put them (POST /validate's
		// "valid" and "errors").
		m := make(map[string]any, len(details)+2)
		for k, v := range details {
			m[k] = v
		}
		m["error"], m["code"] = msg, code
		body = m
	}
	s.writeJSON(w, r, st, status, body)
}

// writeJSON encodes body with status. An encoding failure is a bug,
// answered as an internal error.
func (s *server) writeJSON(w *respWriter, r *http.Request, st style, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		if status == http.StatusInternalServerError {
			http.Error(w, `{"error":"internal error"}`, status)
			return
		}
		s.fail(w, r, st, fmt.Errorf("encode response: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func invalid(format string, args ...any) error {
	return warden.Errorf(warden.CodeInvalidInput, format, args...)
}

func notFoundRoute(r *http.Request) error {
	return warden.Errorf(warden.CodeNotFound, "no endpoint %s %s; /openapi.json lists the endpoints", r.Method, r.URL.Path)
}

func methodNotAllowed(r *http.Request, allow string) error {
	return &warden.Error{Code: codeMethodNotAllowed,
		Message: fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, allow),
		Details: map[string]any{"allow": allow}}
}

func stack() []byte { return debug.Stack() }

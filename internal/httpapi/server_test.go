package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/warden"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testServer(t *testing.T, logs *lockedBuffer) *server {
	t.Helper()
	s, err := newServer(Config{Gateway: gateway.New(gateway.Config{Store: gateway.NewMemStore()}), NoAuth: true,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Panics and non-domain errors become 500 INTERNAL with "internal error";
// the detail is logged, never sent.
func TestInternalErrorsAreNotLeaked(t *testing.T) {
	logs := &lockedBuffer{}
	s := testServer(t, logs)
	for _, rt := range []route{
		{pattern: "GET /test/panic", style: styleV1, access: anyRole, fn: func(*http.Request, auth.Principal) (int, any, error) {
			panic("boom: secret detail")
		}},
		{pattern: "GET /test/error", style: styleV1, access: anyRole, fn: func(*http.Request, auth.Principal) (int, any, error) {
			return 0, nil, errors.New("disk on fire: secret detail")
		}},
		{pattern: "GET /test/internal", style: styleDetACP, access: anyRole, fn: func(*http.Request, auth.Principal) (int, any, error) {
			return 0, nil, &warden.Error{Code: warden.CodeInternal, Message: "secret detail", Details: map[string]any{"path": "/secret"}}
		}},
		{pattern: "GET /test/encode", style: styleV1, access: anyRole, fn: func(*http.Request, auth.Principal) (int, any, error) {
			return 200, map[string]any{"bad": func() {}}, nil
		}},
	} {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	for _, tc := range []struct {
		path string
		want any
	}{
		{"/test/panic", map[string]any{"ok": false, "error": map[string]any{"code": "INTERNAL", "message": "internal error", "details": map[string]any{}}}},
		{"/test/error", map[string]any{"ok": false, "error": map[string]any{"code": "INTERNAL", "message": "internal error", "details": map[string]any{}}}},
		{"/test/internal", map[string]any{"error": "internal error", "code": "INTERNAL"}},
		{"/test/encode", map[string]any{"ok": false, "error": map[string]any{"code": "INTERNAL", "message": "internal error", "details": map[string]any{}}}},
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		var got any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v: %s", tc.path, err, rec.Body)
		}
		if rec.Code != 500 {
			t.Errorf("%s: status %d", tc.path, rec.Code)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.path, d)
		}
	}
	log := logs.String()
	for _, want := range []string{"boom: secret detail", `"stack"`, "disk on fire", `"level":"ERROR"`, `"route":"GET /test/panic"`, `"status":500`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
}

// Every error code maps to its status.
func TestStatusOf(t *testing.T) {
	for code, want := range map[warden.Code]int{
		warden.CodeInvalidInput: 400, warden.CodeInvalidPolicy: 400, warden.CodeUnauthorized: 401,
		warden.CodeForbidden: 403, warden.CodeSelfApproval: 403, warden.CodeNotAnApprover: 403,
		warden.CodeNotFound: 404, codeMethodNotAllowed: 405, warden.CodeConflict: 409, warden.CodeInvalidState: 409,
		warden.CodeAlreadyApproved: 409, warden.CodeExpired: 410, warden.CodeTooLarge: 413,
		codeUnsupportedMediaType: 415, warden.CodeInternal: 500, "SOME_NEW_CODE": 400,
		warden.CodeDenied: 403, warden.CodeNotReversible: 409, warden.CodeNoExecutor: 501,
		warden.CodeDecisionNotFound: 404, warden.CodeDecisionExists: 409, warden.CodeTemplateNotFound: 404,
		warden.CodeTemplateExists: 409, warden.CodeNotApproved: 409, warden.CodePolicyViolation: 403,
		warden.CodeRouterError: 502, warden.CodeIntegrityMismatch: 422, warden.CodeReplayInvalid: 422,
		warden.CodeConflictModeInvalid: 400, warden.CodeBundleInvalid: 400, warden.CodeNoRouterLink: 409,
		warden.CodeRouterDigestMismatch: 422,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, want)
		}
	}
}

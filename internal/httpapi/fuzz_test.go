package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/httpapi"
)

// FuzzHandler sends random methods, paths and bodies: the API never
// answers 5xx, never panics, and always answers JSON.
func FuzzHandler(f *testing.F) {
	e := newEnv(f, func(c *httpapi.Config) { c.NoAuth = true; c.Tokens = nil })
	s := e.must(201, request{method: "POST", path: "/v1/sessions", body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "data", "id")
	g := e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/x"}}})
	apr, act := str(g, "data", "approvalId"), str(g, "data", "actionId")

	for _, seed := range []struct{ method, path, body string }{
		{"GET", "/health", ""},
		{"GET", "/healthz", ""},
		{"GET", "/openapi.json", ""},
		{"GET", "/metrics", ""},
		{"POST", "/validate", `{"yaml": "name: p\ncapabilities: [{tool: file:read, scope: {}}]"}`},
		{"POST", "/sessions", `{"policy": "/etc/passwd"}`},
		{"POST", "/sessions", `{"policy": ` + policyJSON + `, "metadata": {"a": [1, {"b": null}]}}`},
		{"GET", "/sessions", ""},
		{"GET", "/sessions/" + sid, ""},
		{"POST", "/sessions/" + sid + "/evaluate", `{"action": {"tool": "command:run", "input": {"command": "echo $(rm -rf /)"}}}`},
		{"POST", "/sessions/" + sid + "/evaluate", `{"action": {"tool": "file:read", "input": {"path": ["a", 1, null]}}}`},
		{"POST", "/sessions/" + sid + "/record", `{"actionId": "` + act + `", "result": {"success": true, "output": {"x": 1e308}}}`},
		{"POST", "/sessions/" + sid + "/approve", `{"actionId": "` + act + `"}`},
		{"POST", "/sessions/" + sid + "/reject", `{"actionId": "` + act + `", "reason": "x"}`},
		{"POST", "/sessions/" + sid + "/terminate", ``},
		{"GET", "/sessions/" + sid + "/report", ""},
		{"POST", "/v1/sessions", `{"policy_path": "../../etc/passwd"}`},
		{"GET", "/v1/sessions?state=active", ""},
		{"POST", "/v1/sessions/" + sid + "/evaluate", `{"tool": "http:request", "input": {"url": "http://[::1]:80/", "method": "POST"}}`},
		{"POST", "/v1/sessions/" + sid + "/record", `{"action_id": "x", "result": {"success": false, "artifacts": [{"type": "diff", "value": ""}]}}`},
		{"POST", "/v1/sessions/" + sid + "/terminate", `{"reason": "\u0000"}`},
		{"GET", "/v1/sessions/" + sid + "/report?actions=1", ""},
		{"GET", "/v1/approvals?session=" + sid, ""},
		{"GET", "/v1/approvals/" + apr, ""},
		{"POST", "/v1/approvals/" + apr + "/approve", `{"comment": "ok", "for_session": true}`},
		{"POST", "/v1/approvals/" + apr + "/reject", `{"reason": "no"}`},
		{"POST", "/v1/policies/validate", `{"policy": "a: &a [*a]"}`},
		{"POST", "/v1/explain", `{"policy": ` + policyJSON + `, "tool": "file:read", "input": {"path": "../../../.env"}, "dir": "/"}`},
		{"GET", "/v1/sessions/" + sid + "/ledger/export", ""},
		{"GET", "/v1/tokens", ""},
		{"POST", "/v1/tokens", `{"name": "x", "role": "admin", "groups": ["a", ""]}`},
		{"POST", "/v1/tokens/tok_x/revoke", ""},
		{"DELETE", "/v1/sessions/" + sid, ""},
		{"GET", "/sessions/%2e%2e/health", ""},
		{"POST", "/v1/sessions/" + sid + "/evaluate", "{\"tool\": \"\xff\"}"},
		{"OPTIONS", "*", ""},
	} {
		f.Add(seed.method, seed.path, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://warden.test"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%q %q %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 300 && rec.Code < 400 {
			return // the mux's redirect to a cleaned path
		}
		if ct := rec.Header().Get("Content-Type"); method != "HEAD" && strings.HasPrefix(ct, "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q %q: invalid JSON %s", method, path, rec.Body)
		}
	})
}

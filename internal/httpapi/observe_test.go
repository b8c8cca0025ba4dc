package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/httpapi"
)

// One JSON record per request with method, route pattern, status,
// duration and principal — and never a token or a body.
func TestRequestLogs(t *testing.T) {
	e := newEnv(t)
	const marker = "BODY-MARKER-7f3a"
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy, "metadata": map[string]any{"note": marker}}})
	sid := str(s, "data", "id")
	e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(), body: map[string]any{"tool": "file:read", "input": map[string]any{"path": "/data/" + marker}}})
	e.send(request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(), body: `{"tool": "` + marker})
	e.send(request{method: "GET", path: "/v1/sessions", token: "wdn_" + strings.Repeat("Z", 32)})
	e.send(request{method: "GET", path: "/no/such/" + marker})

	logs := e.logs.String()
	for _, secret := range []string{marker, e.agent(), e.alice(), strings.Repeat("Z", 32)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
	var records []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a JSON record: %s", line)
		}
		records = append(records, r)
	}
	if len(records) != 5 {
		t.Fatalf("%d records for 5 requests:\n%s", len(records), logs)
	}
	want := []struct {
		route, principal, code string
		status                 float64
	}{
		{"POST /v1/sessions", "agent-1", "", 201},
		{"POST /v1/sessions/{id}/evaluate", "agent-1", "", 200},
		{"POST /v1/sessions/{id}/evaluate", "agent-1", "INVALID_INPUT", 400},
		{"GET /v1/sessions", "", "UNAUTHORIZED", 401},
		{"unmatched", "", "NOT_FOUND", 404},
	}
	for i, w := range want {
		r := records[i]
		if r["msg"] != "http request" || r["route"] != w.route || r["status"] != w.status || r["principal"] != w.principal ||
			r["method"] == nil || r["duration"] == nil || (w.code != "" && r["code"] != w.code) {
			t.Errorf("record %d = %v, want %+v", i, r, w)
		}
	}
}

// /metrics serves the private registry: requests and latency by route and
// status, evaluations by decision, errors by code.
func TestMetrics(t *testing.T) {
	var reg *prometheus.Registry
	e := newEnv(t, func(c *httpapi.Config) { reg = c.Registry })
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "data", "id")
	for _, p := range []string{"/data/a", "/data/.env"} {
		e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(), body: map[string]any{"tool": "file:read", "input": map[string]any{"path": p}}})
	}
	e.must(200, request{method: "POST", path: "/sessions/" + sid + "/evaluate", token: e.agent(), body: map[string]any{"action": map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/x"}}}})
	e.send(request{method: "GET", path: "/v1/sessions/nope", token: e.agent()})
	e.send(request{method: "GET", path: "/v1/sessions/nope", token: e.agent()})
	e.send(request{method: "DELETE", path: "/v1/sessions"})

	res := e.send(request{method: "GET", path: "/metrics", token: e.admin()})
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", res.status, res.header)
	}
	text := string(res.raw)
	for _, line := range []string{
		`warden_http_requests_total{route="POST /v1/sessions",status="201"} 1`,
		`warden_http_requests_total{route="POST /v1/sessions/{id}/evaluate",status="200"} 2`,
		`warden_http_requests_total{route="POST /sessions/{id}/evaluate",status="200"} 1`,
		`warden_http_requests_total{route="GET /v1/sessions/{id}",status="404"} 2`,
		`warden_http_requests_total{route="unmatched",status="405"} 1`,
		`warden_http_request_duration_seconds_count{route="POST /v1/sessions/{id}/evaluate",status="200"} 2`,
		`warden_evaluations_total{decision="allow"} 1`,
		`warden_evaluations_total{decision="deny"} 1`,
		`warden_evaluations_total{decision="gate"} 1`,
		`warden_http_errors_total{code="NOT_FOUND"} 2`,
		`warden_http_errors_total{code="METHOD_NOT_ALLOWED"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, n := range []string{"warden_http_requests_total", "warden_http_request_duration_seconds", "warden_evaluations_total", "warden_http_errors_total"} {
		if !names[n] {
			t.Errorf("the configured registry lacks %s", n)
		}
	}
}

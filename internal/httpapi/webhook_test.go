package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/notify"
)

// A webhook gate: the request reaches the webhook signed, and the
// webhook's signed callbacks vote; forged, stale or misdirected callbacks
// are refused.
func TestWebhookGate(t *testing.T) {
	t.Setenv("WARDEN_HOOK_SECRET", "hook-secret")
	received := make(chan notify.Payload, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Check([]byte("hook-secret"), r.Header.Get(notify.TimestampHeader), r.Header.Get(notify.SignatureHeader), body, time.Now()); err != nil {
			t.Errorf("unsigned request: %v", err)
		}
		var p notify.Payload
		json.Unmarshal(body, &p)
		received <- p
	}))
	defer hook.Close()

	var e *env
	e = newEnv(t, func(c *httpapi.Config) {
		c.Gateway = gateway.New(gateway.Config{Store: gateway.NewMemStore(), OnApproval: (&notify.Webhook{}).Hook()})
	})
	policy := `name: hooks
capabilities: [{tool: file:delete, scope: {}}]
gates:
  - action: file:delete
    approval: webhook
    min_approvals: 2
    webhook: {url: "` + hook.URL + `", secret_env: WARDEN_HOOK_SECRET}
`
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": policy}})
	sid := str(s, "data", "id")
	ev := e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(),
		body: map[string]any{"tool": "file:delete", "input": map[string]any{"path": "old.txt"}}})
	id := str(ev, "data", "approvalId")
	select {
	case p := <-received:
		if p.ApprovalID != id || p.Tool != "file:delete" || p.Needed != 2 {
			t.Fatalf("payload %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook was not called")
	}

	callback := func(secret string, at time.Time, body map[string]any, approvalID string) int {
		b, _ := json.Marshal(body)
		ts := strconv.FormatInt(at.Unix(), 10)
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/webhooks/approvals/"+approvalID, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(notify.TimestampHeader, ts)
		req.Header.Set(notify.SignatureHeader, notify.Sign([]byte(secret), ts, b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	vote := map[string]any{"decision": "approve", "approver": "alice"}
	if code := callback("wrong-secret", time.Now(), vote, id); code != 401 {
		t.Errorf("forged callback: %d", code)
	}
	if code := callback("hook-secret", time.Now().Add(-10*time.Minute), vote, id); code != 401 {
		t.Errorf("stale callback: %d", code)
	}
	if code := callback("hook-secret", time.Now(), vote, "apr_nope"); code != 404 {
		t.Errorf("unknown approval: %d", code)
	}
	if code := callback("hook-secret", time.Now(), map[string]any{"decision": "maybe", "approver": "alice"}, id); code != 400 {
		t.Errorf("bad decision: %d", code)
	}
	if code := callback("hook-secret", time.Now(), vote, id); code != 200 {
		t.Fatalf("first vote: %d", code)
	}
	if code := callback("hook-secret", time.Now(), vote, id); code != 409 {
		t.Errorf("the same approver twice: %d", code)
	}
	if code := callback("hook-secret", time.Now(), map[string]any{"decision": "approve", "approver": "bob"}, id); code != 200 {
		t.Fatalf("second vote: %d", code)
	}
	again := e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(),
		body: map[string]any{"tool": "file:delete", "input": map[string]any{"path": "old.txt"}}})
	if str(again, "data", "decision") != "allow" {
		t.Fatalf("after two webhook votes: %v", again)
	}
}

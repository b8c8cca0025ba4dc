package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/warden"
)

func TestSignCheck(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"decision":"approve"}`)
	sig := Sign(secret, ts, body)
	if err := Check(secret, ts, sig, body, now); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for _, tc := range []struct {
		name    string
		secret  []byte
		ts, sig string
		body    []byte
		now     time.Time
		want    string
	}{
		{"edited body", secret, ts, sig, []byte(`{"decision":"reject"}`), now, "does not match"},
		{"wrong secret", []byte("other"), ts, sig, body, now, "does not match"},
		{"replayed later", secret, ts, sig, body, now.Add(6 * time.Minute), "away from now"},
		{"from the future", secret, ts, sig, body, now.Add(-6 * time.Minute), "away from now"},
		{"no timestamp", secret, "", sig, body, now, "Unix seconds"},
		{"no secret", nil, ts, sig, body, now, "no secret"},
		{"no signature", secret, ts, "", body, now, "does not match"},
	} {
		if err := Check(tc.secret, tc.ts, tc.sig, tc.body, tc.now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func approval(url, format string) *gateway.Approval {
	return &gateway.Approval{
		ID: "apr_1", SessionID: "s1", Tool: "file:delete", Input: map[string]any{"path": "src/a.go"},
		Digest: "sha256:00", Reasons: []string{"Gate required"},
		Requirement: warden.GateRequirement{MinApprovals: 2, RiskLevel: "high", Webhook: &warden.WebhookTarget{URL: url, SecretEnv: "WARDEN_TEST_SECRET", Format: format}},
	}
}

func TestSend(t *testing.T) {
	t.Setenv("WARDEN_TEST_SECRET", "s3cret")
	var calls atomic.Int32
	got := make(chan *http.Request, 1)
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // the first try fails; Send retries
			return
		}
		body, _ = io.ReadAll(r.Body)
		got <- r
	}))
	defer srv.Close()
	w := &Webhook{BaseURL: "https://warden.example.com/"}
	if err := w.Send(t.Context(), approval(srv.URL, "")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if err := Check([]byte("s3cret"), r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), body, time.Now()); err != nil {
		t.Fatalf("the request is not signed: %v", err)
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.ApprovalID != "apr_1" || p.Needed != 2 || p.CallbackURL != "https://warden.example.com/v1/webhooks/approvals/apr_1" || p.Command != "warden approve apr_1" {
		t.Errorf("payload: %+v", p)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2 (one retry)", calls.Load())
	}
}

func TestSlackFormatAndMissingSecret(t *testing.T) {
	w := &Webhook{}
	b, err := w.Body(approval("https://hooks.slack.com/x", "slack"))
	if err != nil || !strings.Contains(string(b), `"text":"*Warden: approval needed* for`) {
		t.Fatalf("slack body: %s %v", b, err)
	}
	t.Setenv("WARDEN_TEST_SECRET", "")
	if err := w.Send(t.Context(), approval("https://127.0.0.1:1/", "")); err == nil || !strings.Contains(err.Error(), "WARDEN_TEST_SECRET is empty") {
		t.Fatalf("missing secret: %v", err)
	}
}

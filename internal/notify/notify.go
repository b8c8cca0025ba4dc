// Package notify announces approval requests to webhooks and checks the
// signed callbacks that answer them. A request is signed with
// HMAC-SHA256 over "<timestamp>.<body>" using the gate's secret; a callback
// must be signed the same way and be fresh, so it can be neither forged
// nor replayed later.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
)

// The headers of a signed request or callback.
const (
	SignatureHeader = "X-Warden-Signature"
	TimestampHeader = "X-Warden-Timestamp"
)

// MaxSkew is how old, or how far in the future, a signed callback may be.
const MaxSkew = 5 * time.Minute

// Sign returns "sha256=<hex>" of HMAC-SHA256(secret, timestamp "." body).
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Check verifies a signature and that its timestamp (Unix seconds) is
// within MaxSkew of now.
func Check(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return errors.New("no secret is configured for this webhook")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%s must be Unix seconds", TimestampHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%s is %s away from now; sign callbacks when sending them", TimestampHeader, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature)) {
		return fmt.Errorf("%s does not match the body", SignatureHeader)
	}
	return nil
}

// Secret returns a webhook's secret from the environment.
func Secret(env string) []byte { return []byte(os.Getenv(env)) }

// Webhook delivers approval requests.
type Webhook struct {
	// Client sends the requests; one with a 10 s timeout when nil.
	Client *http.Client
	// BaseURL is the server's public URL, for the callback and command
	// links in each request; empty leaves the callback link out.
	BaseURL string
	// Logger receives delivery failures; they never fail the evaluation
	// that raised the gate.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Payload is the JSON a webhook receives.
type Payload struct {
	Event       string         `json:"event"`
	ApprovalID  string         `json:"approvalId"`
	SessionID   string         `json:"sessionId"`
	Tool        string         `json:"tool"`
	Input       map[string]any `json:"input"`
	Digest      string         `json:"digest"`
	Reasons     []string       `json:"reasons"`
	Risk        string         `json:"risk,omitempty"`
	Needed      int            `json:"approvalsNeeded"`
	Approvers   []string       `json:"approvers,omitempty"`
	Requester   string         `json:"requester,omitempty"`
	ExpiresAt   *time.Time     `json:"expiresAt,omitempty"`
	CallbackURL string         `json:"callbackUrl,omitempty"`
	Command     string         `json:"command"`
}

// Body returns the request body for an approval in the target's format.
func (w *Webhook) Body(a *gateway.Approval) ([]byte, error) {
	p := Payload{
		Event: "approval.requested", ApprovalID: a.ID, SessionID: a.SessionID, Tool: a.Tool, Input: a.Input,
		Digest: a.Digest, Reasons: a.Reasons, Risk: a.Requirement.RiskLevel, Needed: a.Requirement.MinApprovals,
		Approvers: a.Requirement.Approvers, Requester: a.Requester, ExpiresAt: a.ExpiresAt,
		Command: "warden approve " + a.ID,
	}
	if w.BaseURL != "" {
		p.CallbackURL = strings.TrimRight(w.BaseURL, "/") + "/v1/webhooks/approvals/" + a.ID
	}
	if t := a.Requirement.Webhook; t != nil && t.Format == "slack" {
		input, _ := json.Marshal(a.Input)
		text := fmt.Sprintf("*Warden: approval needed* for `%s` %s\n%s\nApprove with `%s` (%d approval(s) needed).",
			a.Tool, input, strings.Join(a.Reasons, "; "), p.Command, p.Needed)
		return json.Marshal(map[string]any{"text": text, "warden": p})
	}
	return json.Marshal(p)
}

// Send posts an approval request to its gate's webhook, signed, retrying
// twice on failure.
func (w *Webhook) Send(ctx context.Context, a *gateway.Approval) error {
	t := a.Requirement.Webhook
	if t == nil {
		return nil
	}
	body, err := w.Body(a)
	if err != nil {
		return err
	}
	secret := Secret(t.SecretEnv)
	if len(secret) == 0 {
		return fmt.Errorf("webhook for %s: environment variable %s is empty; set the shared secret there", a.ID, t.SecretEnv)
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	var last error
	for attempt, pause := 0, 200*time.Millisecond; attempt < 3; attempt, pause = attempt+1, pause*4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
		ts := strconv.FormatInt(now().Unix(), 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(secret, ts, body))
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
	}
	return fmt.Errorf("webhook for %s: %w", a.ID, last)
}

// Hook returns a gateway.Config.OnApproval function that sends each
// request in the background and logs what could not be delivered.
func (w *Webhook) Hook() func(*gateway.Approval) {
	return func(a *gateway.Approval) {
		go func() {
			if err := w.Send(context.Background(), a); err != nil && w.Logger != nil {
				w.Logger.Warn("webhook delivery failed", "approval", a.ID, "error", err.Error())
			}
		}()
	}
}

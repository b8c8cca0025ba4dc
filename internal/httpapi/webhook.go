package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/warden"
)

// webhookCallback is a webhook's answer to an approval request.
type webhookCallback struct {
	Decision string   `json:"decision"`
	Approver string   `json:"approver"`
	Groups   []string `json:"groups"`
	Comment  string   `json:"comment"`
	Reason   string   `json:"reason"`
}

func (*webhookCallback) example() string {
	return `{"decision": "approve", "approver": "alice@example.com", "comment": "ok"}`
}

// v1WebhookCallback answers POST /v1/webhooks/approvals/{id}: a vote from
// the gate's webhook, authenticated by the HMAC signature of the exact
// body with the gate's secret and a fresh timestamp, not by a token.
func (s *server) v1WebhookCallback(r *http.Request, _ auth.Principal) (int, any, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return 0, nil, invalid("reading the request body: %v", err)
	}
	if len(data) > maxBody {
		return 0, nil, tooLarge()
	}
	id := r.PathValue("id")
	a, err := s.gw.Approval(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	t := a.Requirement.Webhook
	if t == nil {
		return 0, nil, warden.Errorf(warden.CodeNotFound, "approval %q was not sent to a webhook", id)
	}
	if err := notify.Check(notify.Secret(t.SecretEnv), r.Header.Get(notify.TimestampHeader), r.Header.Get(notify.SignatureHeader), data, time.Now()); err != nil {
		return 0, nil, warden.Errorf(warden.CodeUnauthorized, "webhook callback: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	var cb webhookCallback
	if err := decode(r, &cb, true, required); err != nil {
		return 0, nil, err
	}
	if cb.Approver == "" {
		return 0, nil, invalid("approver is required: the identity the webhook vouches for")
	}
	who := gateway.Approver{ID: cb.Approver, Groups: cb.Groups}
	switch cb.Decision {
	case "approve":
		a, err = s.gw.Approve(r.Context(), id, who, gateway.ApproveOptions{Comment: cb.Comment})
	case "reject":
		a, err = s.gw.Reject(r.Context(), id, who, cb.Reason)
	default:
		return 0, nil, invalid("decision must be \"approve\" or \"reject\", not %q", cb.Decision)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a, nil
}

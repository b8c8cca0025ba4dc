package decision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// EventType names what an event records.
type EventType string

// The event types of a decision's history.
const (
	DecisionCreated    EventType = "DECISION_CREATED"
	PolicyAttached     EventType = "POLICY_ATTACHED"
	ApprovalGranted    EventType = "APPROVAL_GRANTED"
	ApprovalRevoked    EventType = "APPROVAL_REVOKED"
	ExecutionRequested EventType = "EXECUTION_REQUESTED"
	ExecutionStarted   EventType = "EXECUTION_STARTED"
	ExecutionCompleted EventType = "EXECUTION_COMPLETED"
	ExecutionFailed    EventType = "EXECUTION_FAILED"
	DecisionRejected   EventType = "DECISION_REJECTED"
	DecisionExpired    EventType = "DECISION_EXPIRED"
)

// EventTypes lists every event type, in the order of a decision's life.
var EventTypes = []EventType{
	DecisionCreated, PolicyAttached, ApprovalGranted, ApprovalRevoked,
	ExecutionRequested, ExecutionStarted, ExecutionCompleted, ExecutionFailed,
	DecisionRejected, DecisionExpired,
}

// Valid reports whether t is one of EventTypes.
func (t EventType) Valid() bool {
	for _, x := range EventTypes {
		if t == x {
			return true
		}
	}
	return false
}

// Actor types.
const (
	Human  = "human"
	System = "system"
)

// SystemActor is the actor of the events Warden writes itself: the start
// and the outcome of an execution, expiry and recovery.
var SystemActor = Actor{Type: System, ID: "warden"}

// MaxIDLen bounds an actor id, a decision id and a template name.
const MaxIDLen = 256

// An Actor is who caused an event: a human or a system, named by an id.
// Identity is the id alone: "human alice" and "system alice" are one
// identity, so N of M can never count one id twice.
type Actor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// String returns the id, prefixed with "system:" for a system actor.
func (a Actor) String() string {
	if a.Type == System {
		return "system:" + a.ID
	}
	return a.ID
}

// Validate checks the actor's type and id; field names the actor in the
// error.
func (a Actor) Validate(field string) error {
	var fe fieldErrors
	a.check(&fe, field)
	return fe.err(warden.CodeInvalidInput)
}

func (a Actor) check(fe *fieldErrors, field string) {
	if a.Type != Human && a.Type != System {
		fe.add(field+".type", "must be %q or %q, got %q", Human, System, a.Type)
	}
	checkName(fe, field+".id", a.ID)
}

// checkName checks an identifier: non-empty, at most MaxIDLen bytes, valid
// UTF-8, no surrounding space and no control characters.
func checkName(fe *fieldErrors, field, s string) {
	switch {
	case s == "":
		fe.add(field, "is required")
	case len(s) > MaxIDLen:
		fe.add(field, "is %d bytes, more than %d", len(s), MaxIDLen)
	case !utf8.ValidString(s):
		fe.add(field, "is not valid UTF-8")
	case strings.TrimSpace(s) != s:
		fe.add(field, "has leading or trailing space")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		fe.add(field, "contains a control character")
	}
}

// TimeFormat is how timestamps appear in event digests: UTC with exactly
// six fractional digits. Warden keeps every time it records at microsecond
// precision, so a stored or exported time formats back to the same text.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Stamp returns t in UTC, truncated to the microsecond, without a monotonic
// reading: the form in which decisions keep times.
func Stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// An Event is one entry of a decision's history. Events are numbered from
// 0 by Seq and hash-chained: Prev is the previous event's Digest ("" for
// the first), and Digest covers the type, the payload, the actor, the
// timestamp, the seq and Prev, so no event can be altered, removed,
// reordered or inserted without breaking every digest after it.
type Event struct {
	DecisionID string    `json:"decision_id"`
	Seq        int64     `json:"seq"`
	Type       EventType `json:"type"`
	TS         time.Time `json:"ts"`
	Actor      Actor     `json:"actor"`
	// Payload is the event's data as canonical JSON (RFC 8785): a JSON
	// object whose keys depend on Type.
	Payload json.RawMessage `json:"payload"`
	Prev    string          `json:"prev"`
	Digest  string          `json:"digest"`
}

// ID returns the event's derived id, "evt_<decision id>_<seq>".
func (e *Event) ID() string { return "evt_" + e.DecisionID + "_" + strconv.FormatInt(e.Seq, 10) }

// ComputeDigest returns the digest the event should carry:
// "sha256:" + hex(SHA-256(JCS({type, payload, actor, ts, seq, prev}))),
// with ts in TimeFormat.
func (e *Event) ComputeDigest() (string, error) {
	payload := e.Payload
	if !canon.IsCanonical(payload) {
		c, err := canon.JCS(payload)
		if err != nil {
			return "", fmt.Errorf("payload: %w", err)
		}
		payload = c
	}
	if len(payload) == 0 || payload[0] != '{' {
		return "", fmt.Errorf("payload is not a JSON object")
	}
	for _, s := range []string{e.Actor.ID, e.Actor.Type, e.Prev, string(e.Type)} {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("invalid UTF-8 in the event")
		}
	}
	if e.Seq < 0 || e.Seq > 1<<53 {
		return "", fmt.Errorf("seq %d out of range", e.Seq)
	}
	// The canonical form is written directly: keys in RFC 8785 order, the
	// payload already canonical. TestDigestIsJCS checks it against
	// canon.DigestJSON(digestInput).
	b := make([]byte, 0, len(payload)+320)
	b = append(b, `{"actor":{"id":`...)
	b = canon.AppendString(b, e.Actor.ID)
	b = append(b, `,"type":`...)
	b = canon.AppendString(b, e.Actor.Type)
	b = append(b, `},"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"prev":`...)
	b = canon.AppendString(b, e.Prev)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"ts":`...)
	b = canon.AppendString(b, e.TS.UTC().Format(TimeFormat))
	b = append(b, `,"type":`...)
	b = canon.AppendString(b, string(e.Type))
	b = append(b, '}')
	return canon.Digest(b), nil
}

// VerifyChain checks that events are decision id's history or its
// beginning: seq from 0 without gap, each Prev the previous Digest, each
// Digest recomputed. The error, INTEGRITY_MISMATCH, names the first event
// that fails.
func VerifyChain(id string, events []Event) error {
	prev := ""
	for i := range events {
		e := &events[i]
		if e.DecisionID != id {
			return integrityErr(e.Seq, "belongs to decision %q, not %q", e.DecisionID, id)
		}
		if e.Seq != int64(i) {
			return integrityErr(e.Seq, "is at position %d of the history", i)
		}
		if e.Prev != prev {
			return integrityErr(e.Seq, "prev is %q, the previous event's digest is %q", e.Prev, prev)
		}
		d, err := e.ComputeDigest()
		if err != nil {
			return integrityErr(e.Seq, "%v", err)
		}
		if d != e.Digest {
			return integrityErr(e.Seq, "digest is %q, its content hashes to %q", e.Digest, d)
		}
		prev = e.Digest
	}
	return nil
}

// The payloads of the events. Keys follow the bundle format of SPEC §6, so
// that bundles carry them unchanged; Warden's additions are optional keys.

// CreatedPayload is the payload of DECISION_CREATED. The fields of the
// payloads are in key order, so that encoding/json writes them canonical.
type CreatedPayload struct {
	// SessionID, Action and ActionDigest bind a decision raised by a gate
	// to its session and to the exact call: ActionDigest is
	// sha256(JCS({tool, input})).
	Action       *warden.Action `json:"action,omitempty"`
	ActionDigest string         `json:"action_digest,omitempty"`
	// ExpiresAt is when the decision expires if it has not executed.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Goal      string     `json:"goal"`
	Labels    []string   `json:"labels"`
	// Plan is what the executor runs: null, a string, or a list of
	// actions ({tool, input}).
	Plan          json.RawMessage `json:"plan"`
	RequestedMode Mode            `json:"requested_mode"`
	SessionID     string          `json:"session_id,omitempty"`
}

// PolicyPayload is the payload of POLICY_ATTACHED: the effective policy
// and, when a template was used, which one and what was overridden.
type PolicyPayload struct {
	Policy
	TemplateName     string            `json:"template_name,omitempty"`
	TemplateDigest   string            `json:"template_digest,omitempty"`
	TemplateSnapshot *TemplateSnapshot `json:"template_snapshot,omitempty"`
	OverridesApplied map[string]any    `json:"overrides_applied,omitempty"`
}

// GrantedPayload is the payload of APPROVAL_GRANTED.
type GrantedPayload struct {
	Comment   string     `json:"comment,omitempty"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// ReasonPayload is the payload of APPROVAL_REVOKED and DECISION_REJECTED.
type ReasonPayload struct {
	Reason string `json:"reason"`
}

// ExpiredPayload is the payload of DECISION_EXPIRED.
type ExpiredPayload struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// RequestedPayload is the payload of EXECUTION_REQUESTED, the claim of the
// decision's one execution.
type RequestedPayload struct {
	AdapterID string `json:"adapter_id"`
	DryRun    bool   `json:"dry_run"`
	Mode      Mode   `json:"mode"`
}

// StartedPayload is the payload of EXECUTION_STARTED: the digest of the
// request handed to the executor.
type StartedPayload struct {
	RequestDigest string `json:"router_request_digest"`
}

// CompletedPayload is the payload of EXECUTION_COMPLETED: the run record.
type CompletedPayload struct {
	ResponseDigest string `json:"response_digest"`
	RunID          string `json:"run_id"`
	Steps          []Step `json:"steps,omitempty"`
	StepsExecuted  int    `json:"steps_executed"`
}

// FailedPayload is the payload of EXECUTION_FAILED.
type FailedPayload struct {
	ErrorCode    string  `json:"error_code"`
	ErrorMessage string  `json:"error_message"`
	RunID        *string `json:"run_id"`
}

// marshalPayload returns the canonical JSON of a payload. Payloads whose
// fields are in key order come out of encoding/json canonical already, and
// skip the transformation.
func marshalPayload(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if canon.IsCanonical(b) {
		return b, nil
	}
	c, err := canon.JCS(b)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return c, nil
}

// decodePayload decodes an event's payload strictly: unknown keys are
// refused, so a payload says exactly what replay applies.
func decodePayload(e *Event, v any) error {
	dec := json.NewDecoder(bytes.NewReader(e.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return replayErr(e.Seq, e.Type, "bad payload: %v", err)
	}
	if dec.More() {
		return replayErr(e.Seq, e.Type, "bad payload: data after the object")
	}
	return nil
}

package decision

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// digestInput is the reference form of what an event digest covers:
// ComputeDigest writes its canonical JSON directly.
type digestInput struct {
	Type    EventType       `json:"type"`
	Payload json.RawMessage `json:"payload"`
	Actor   Actor           `json:"actor"`
	TS      string          `json:"ts"`
	Seq     int64           `json:"seq"`
	Prev    string          `json:"prev"`
}

func TestDigestIsJCS(t *testing.T) {
	for _, e := range []Event{
		{Type: DecisionCreated, Payload: json.RawMessage(`{"goal":"g"}`), Actor: human("alice"), TS: t0},
		{Type: ApprovalGranted, Payload: json.RawMessage(`{ "z": 1, "a": [1.50, "é\u2028<>&"] }`), Actor: Actor{System, "scanner\t\"x\"\\"},
			TS: t0.Add(1234567 * time.Microsecond), Seq: 42, Prev: canon.Digest([]byte("p"))},
		{Type: "X", Payload: json.RawMessage(`{"😀":"\u0001","a":{"b":null}}`), Actor: Actor{Human, "ünïcødé 😀"}, TS: t0.In(time.FixedZone("x", 3600)), Seq: 1 << 40},
	} {
		got, err := e.ComputeDigest()
		if err != nil {
			t.Fatal(err)
		}
		want, err := canon.DigestJSON(digestInput{e.Type, e.Payload, e.Actor, e.TS.UTC().Format(TimeFormat), e.Seq, e.Prev})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("event %+v: digest %s, JCS gives %s", e, got, want)
		}
	}
	for name, e := range map[string]Event{
		"array payload":  {Payload: json.RawMessage(`[1]`)},
		"bad payload":    {Payload: json.RawMessage(`{`)},
		"big int":        {Payload: json.RawMessage(`{"n":9007199254740993}`)},
		"bad utf-8":      {Payload: json.RawMessage(`{}`), Actor: Actor{ID: "\xff"}},
		"negative seq":   {Payload: json.RawMessage(`{}`), Seq: -1},
		"empty payload":  {},
		"duplicate keys": {Payload: json.RawMessage(`{"a":1,"a":2}`)},
	} {
		if _, err := e.ComputeDigest(); err == nil {
			t.Errorf("%s: digest computed", name)
		}
	}
}

// TestPayloadsAreCanonical checks that the payloads come out canonical, the
// fast path of marshalPayload included.
func TestPayloadsAreCanonical(t *testing.T) {
	exp := t0.Add(time.Hour)
	run := "r"
	for _, p := range []any{
		CreatedPayload{Goal: "<goal> & more", Labels: []string{"b", "a"}, Plan: json.RawMessage(`["x"]`), RequestedMode: Apply, ExpiresAt: &exp,
			SessionID: "s", Action: &warden.Action{Tool: "file:write", Input: map[string]any{"path": "a", "content": "é"}}, ActionDigest: "d"},
		PolicyPayload{Policy: Policy{MinApprovals: 2, AllowedModes: []Mode{DryRun}, RequireCapabilities: []string{}}, TemplateName: "t",
			OverridesApplied: map[string]any{"min_approvals": 2, "labels": []string{"x"}}},
		GrantedPayload{Comment: "ok", ExpiresAt: &exp}, GrantedPayload{},
		ReasonPayload{Reason: "why\n"}, ExpiredPayload{ExpiresAt: exp},
		RequestedPayload{AdapterID: "a", Mode: DryRun, DryRun: true}, StartedPayload{RequestDigest: "d"},
		CompletedPayload{RunID: "r", ResponseDigest: "d", StepsExecuted: 1, Steps: []Step{{Index: 0, Tool: "t", OK: true, Error: "e", OutputDigest: "o"}}},
		FailedPayload{ErrorCode: "E", ErrorMessage: "m", RunID: &run}, FailedPayload{ErrorCode: "E"},
	} {
		b, err := marshalPayload(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := canon.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(c) {
			t.Errorf("%T: payload %s, canonical %s", p, b, c)
		}
	}
}

// TestVerifyChain alters each field of each event of a real history in
// turn: verification fails, naming the altered event.
func TestVerifyChain(t *testing.T) {
	d := newDraft("d")
	events := build(t, d, t0,
		createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}),
		draft{ApprovalGranted, human("alice"), GrantedPayload{Comment: "ok"}})
	if err := VerifyChain("d", events); err != nil {
		t.Fatal(err)
	}
	alter := map[string]func(e *Event){
		"decision id": func(e *Event) { e.DecisionID = "other" },
		"seq":         func(e *Event) { e.Seq += 10 },
		"type":        func(e *Event) { e.Type = DecisionRejected },
		"ts":          func(e *Event) { e.TS = e.TS.Add(time.Microsecond) },
		"actor type":  func(e *Event) { e.Actor.Type = System },
		"actor id":    func(e *Event) { e.Actor.ID = "mallory" },
		"payload":     func(e *Event) { e.Payload = json.RawMessage(strings.Replace(string(e.Payload), "}", `,"x":0}`, 1)) },
		"prev":        func(e *Event) { e.Prev = canon.Digest([]byte("forged")) },
		"digest":      func(e *Event) { e.Digest = canon.Digest([]byte("forged")) },
	}
	for name, fn := range alter {
		for i := range events {
			forged := append([]Event(nil), events...)
			fn(&forged[i])
			err := VerifyChain("d", forged)
			if warden.ErrorCode(err) != CodeIntegrityMismatch {
				t.Errorf("%s of event %d: %v, want INTEGRITY_MISMATCH", name, i, err)
				continue
			}
			if got := err.(*warden.Error).Details["seq"]; got != forged[i].Seq && got != int64(i) {
				t.Errorf("%s of event %d: error names event %v", name, i, got)
			}
		}
	}
	// Reordered and truncated-in-the-middle histories fail too; a
	// prefix verifies (it is the history as it was then).
	if err := VerifyChain("d", []Event{events[1], events[0], events[2]}); err == nil {
		t.Error("reordered history verified")
	}
	if err := VerifyChain("d", []Event{events[0], events[2]}); err == nil {
		t.Error("history with a hole verified")
	}
	if err := VerifyChain("d", events[:2]); err != nil {
		t.Errorf("prefix: %v", err)
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	d := newDraft("d")
	events := build(t, d, t0.Add(123456*time.Microsecond), createdDraft("g", DryRun), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}}))
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	var back []Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events, back); diff != "" {
		t.Errorf("(-before +after):\n%s", diff)
	}
	if err := VerifyChain("d", back); err != nil {
		t.Error(err)
	}
	if id := back[1].ID(); id != "evt_d_1" {
		t.Errorf("ID() = %q", id)
	}
}

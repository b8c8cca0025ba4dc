package decision

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

// exchangeFixture is a Service over a memory store with a settable clock
// and a scripted executor.
type exchangeFixture struct {
	ctx   context.Context
	st    *MemStore
	clock *Clock
	exec  *ScriptedExecutor
	svc   *Service
}

func newExchangeFixture() *exchangeFixture {
	f := &exchangeFixture{ctx: context.Background(), st: NewMemStore(), clock: NewClock(t0), exec: &ScriptedExecutor{RunID: "run-1", Steps: 2, Caps: []string{"apply", "dry_run"}}}
	f.svc = New(Config{Store: f.st, Executor: f.exec, Now: f.clock.Now})
	return f
}

// decisionsOfEveryKind creates decisions in every state and with every
// optional payload field, and returns their ids.
func (f *exchangeFixture) decisionsOfEveryKind(t *testing.T) []string {
	t.Helper()
	ctx := f.ctx
	exp := t0.Add(48 * time.Hour)
	tpl := must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "prod-deploy", Description: "déploiement", MinApprovals: intp(2),
		AllowedModes: []Mode{Apply, DryRun}, RequireCapabilities: []string{"apply"}, MaxSteps: intp(50), Labels: []string{"prod"},
		Approvers: []string{"bob", "carol", "dave"}}, human("admin")))
	plan := json.RawMessage(`[{"tool":"file:write","input":{"path":"a.txt","content":"x é \ud83d\ude00","n":1.5e-7}}]`)
	reqs := []*Request{
		{ID: "pending", Goal: "rotate keys", Actor: human("alice")},
		{ID: "approved", Goal: "deploy", Actor: human("alice"), Mode: Apply, MinApprovals: intp(2), Labels: []string{"prod", "eu"}},
		{ID: "revoked", Goal: "revoke", Actor: human("alice"), MinApprovals: intp(2)},
		{ID: "rejected", Goal: "reject me", Actor: human("alice")},
		{ID: "expired", Goal: "expire me", Actor: human("alice"), ExpiresAt: &exp},
		{ID: "completed", Goal: "run it: x < y && z > 0 \u2028", Actor: human("alice"), Mode: Apply, Plan: plan, MaxSteps: intp(5)},
		{ID: "failed", Goal: "fail it", Actor: human("alice")},
		{ID: "templated", Goal: "from a template", Actor: human("alice"), Mode: Apply, Template: tpl.Name, MinApprovals: intp(3), Labels: []string{"prod", "eu"}},
		{ID: "gated", Goal: "gate: file:write", Actor: Actor{Type: System, ID: "gateway"}, SessionID: "sess-1",
			Action: &warden.Action{Tool: "file:write", Input: map[string]any{"path": "b.txt", "content": "hi"}}, Approvers: []string{"bob", "carol"}},
	}
	var ids []string
	for _, r := range reqs {
		must(f.svc.Create(ctx, r))
		ids = append(ids, r.ID)
	}
	f.clock.Advance(time.Second)
	inAnHour := f.clock.Now().Add(time.Hour)
	must(f.svc.Approve(ctx, "approved", human("bob"), ApproveOptions{Comment: "LGTM ✓"}))
	must(f.svc.Approve(ctx, "approved", human("carol"), ApproveOptions{ExpiresAt: &inAnHour}))
	must(f.svc.Approve(ctx, "revoked", human("bob"), ApproveOptions{}))
	must(f.svc.Revoke(ctx, "revoked", human("bob"), "changed my mind"))
	must(f.svc.Approve(ctx, "revoked", human("bob"), ApproveOptions{Comment: "again"}))
	must(f.svc.Reject(ctx, "rejected", human("bob"), "too risky"))
	must(f.svc.Approve(ctx, "completed", human("bob"), ApproveOptions{}))
	must(f.svc.Approve(ctx, "failed", human("bob"), ApproveOptions{}))
	for _, who := range []string{"bob", "carol", "dave"} {
		must(f.svc.Approve(ctx, "templated", human(who), ApproveOptions{}))
	}
	must(f.svc.Approve(ctx, "gated", human("carol"), ApproveOptions{}))
	f.clock.Advance(time.Second)
	must(f.svc.Execute(ctx, "completed", ExecuteOptions{Actor: human("alice"), AdapterID: "builtin"}))
	must(f.svc.Execute(ctx, "templated", ExecuteOptions{Actor: human("alice")}))
	must(f.svc.Execute(ctx, "gated", ExecuteOptions{Actor: Actor{Type: System, ID: "gateway"}}))
	f.exec.set(func(x *ScriptedExecutor) { x.Err = errors.New("backend down") })
	if _, err := f.svc.Execute(ctx, "failed", ExecuteOptions{Actor: human("alice")}); err == nil {
		t.Fatal("the failing execution succeeded")
	}
	f.exec.set(func(x *ScriptedExecutor) { x.Err = nil })
	f.clock.Advance(49 * time.Hour)
	must(f.svc.Expire(ctx, "expired"))
	return ids
}

// roundTrip writes a bundle as JSON and parses it back, as a file would
// carry it.
func roundTrip(t *testing.T, b *nexus.Bundle) *nexus.Bundle {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := nexus.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

var verifyAll = ImportOptions{VerifyDigest: true, ReplayAfterImport: true}

// Every decision exports to a bundle that nexus.VerifyBundle passes, with
// every event in nexus-control's form, and imports into another store as
// exactly the same history and state; exported again it has the same
// digest.
func TestExportImportRoundTrip(t *testing.T) {
	src := newExchangeFixture()
	ids := src.decisionsOfEveryKind(t)
	dst := newExchangeFixture()
	// A bundle's status depends on the time approvals are counted at:
	// both sides share the clock.
	dst.clock = src.clock
	dst.svc = New(Config{Store: dst.st, Executor: dst.exec, Now: src.clock.Now})
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			for _, opts := range []ExportOptions{{}, {IncludeTemplateSnapshot: true, IncludeRouterLink: true}} {
				b := must(src.svc.ExportBundle(src.ctx, id, opts))
				if r := nexus.VerifyBundle(roundTrip(t, b), nexus.VerifyOptions{}); !r.OK() {
					t.Fatalf("exported bundle does not verify: %v", r.Err())
				}
				if !opts.IncludeRouterLink && !b.RouterLink.IsEmpty() || !opts.IncludeTemplateSnapshot && b.TemplateSnapshot.Present {
					t.Errorf("options %+v not applied", opts)
				}
			}
			b := must(src.svc.ExportBundle(src.ctx, id, ExportOptions{IncludeTemplateSnapshot: true, IncludeRouterLink: true}))
			checkNexusForm(t, b)
			res, err := dst.svc.ImportBundle(dst.ctx, roundTrip(t, b), verifyAll)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, mustJSON(res))
			}
			if res.DecisionID != id || res.Replaced || res.EventsImported != len(b.Events) || !res.Report.OK() {
				t.Errorf("result %s", mustJSON(res))
			}
			if c, _ := res.Report.Get(CheckWardenChain); !strings.Contains(c.Message, "rebuild to the Warden hash chain") {
				t.Errorf("chain check: %+v", c)
			}
			want := must(src.svc.Events(src.ctx, id))
			got := must(dst.svc.Events(dst.ctx, id))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("imported events (-exported +imported):\n%s", diff)
			}
			if diff := cmp.Diff(must(src.svc.Get(src.ctx, id)), must(dst.svc.Get(dst.ctx, id)), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("imported state (-exported +imported):\n%s", diff)
			}
			again := must(dst.svc.ExportBundle(dst.ctx, id, ExportOptions{IncludeTemplateSnapshot: true, IncludeRouterLink: true}))
			if again.Integrity.CanonicalDigest != b.Integrity.CanonicalDigest {
				t.Errorf("re-export digest %s, first export %s", again.Integrity.CanonicalDigest, b.Integrity.CanonicalDigest)
			}
			CheckReplay(t, dst.st, id)
		})
	}
}

// checkNexusForm checks that a Warden bundle's events look as
// nexus-control writes them.
func checkNexusForm(t *testing.T, b *nexus.Bundle) {
	t.Helper()
	for _, e := range b.Events {
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.TS, "+00:00") || !nexus.IsHexDigest(e.Digest) || e.EventID != fmt.Sprintf("evt_%s_%d", b.Decision.DecisionID, e.Seq) {
			t.Errorf("event %d: ts %q, digest %q, id %q", e.Seq, e.TS, e.Digest, e.EventID)
		}
		need := map[string][]string{
			"DECISION_CREATED":    {"goal", "plan", "requested_mode", "labels"},
			"POLICY_ATTACHED":     {"min_approvals", "allowed_modes", "require_adapter_capabilities", "max_steps", "labels"},
			"APPROVAL_GRANTED":    {"expires_at"},
			"EXECUTION_REQUESTED": {"adapter_id", "dry_run"},
			"EXECUTION_STARTED":   {"router_request_digest"},
			"EXECUTION_COMPLETED": {"run_id", "response_digest", "steps_executed"},
			"EXECUTION_FAILED":    {"error_code", "error_message", "run_id"},
		}[e.Type]
		for _, k := range need {
			if _, ok := p[k]; !ok {
				t.Errorf("event %d (%s): no %q in %s", e.Seq, e.Type, k, e.Payload)
			}
		}
		for _, k := range []string{"router_request_digest", "response_digest", "template_digest"} {
			if v, ok := p[k].(string); ok && !nexus.IsHexDigest(v) {
				t.Errorf("event %d (%s): %s = %q, want 64 hex digits", e.Seq, e.Type, k, v)
			}
		}
		if v, ok := p["expires_at"].(string); ok && !strings.HasSuffix(v, "+00:00") {
			t.Errorf("event %d (%s): expires_at %q is not in isoformat", e.Seq, e.Type, v)
		}
		if _, ok := p["mode"]; ok && e.Type == "EXECUTION_REQUESTED" {
			t.Errorf("event %d: EXECUTION_REQUESTED keeps Warden's mode", e.Seq)
		}
		if s, ok := p["template_snapshot"].(map[string]any); ok {
			if _, ok := s["template_name"]; !ok {
				t.Errorf("template snapshot not in nexus-control's shape: %v", s)
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// Random histories, legal and not, export, verify and import back
// exactly.
func TestExportImportRandomHistories(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	src := newExchangeFixture()
	dst := newExchangeFixture()
	people := []string{"creator", "alice", "bob", "carol"}
	for round := range 40 {
		r := &Request{Goal: fmt.Sprint("goal ", round), Actor: human("creator"), Mode: Apply, MinApprovals: intp(1 + rng.IntN(2))}
		if rng.IntN(2) == 0 {
			e := src.clock.Now().Add(time.Duration(1+rng.IntN(20)) * time.Minute)
			r.ExpiresAt = &e
		}
		d := must(src.svc.Create(ctx, r))
		for range 12 {
			who := human(people[rng.IntN(len(people))])
			switch rng.IntN(6) {
			case 0, 1:
				var opts ApproveOptions
				if rng.IntN(2) == 0 {
					e := src.clock.Now().Add(time.Duration(1+rng.IntN(10))*time.Minute + 123456*time.Microsecond)
					opts.ExpiresAt = &e
				}
				_, _ = src.svc.Approve(ctx, d.ID, who, opts)
			case 2:
				_, _ = src.svc.Revoke(ctx, d.ID, who, "r")
			case 3:
				_, _ = src.svc.Execute(ctx, d.ID, ExecuteOptions{Actor: who, Mode: DryRun})
			case 4:
				_, _ = src.svc.Expire(ctx, d.ID)
			case 5:
				src.clock.Advance(time.Duration(rng.IntN(300)) * time.Second)
			}
		}
		b := must(src.svc.ExportBundle(ctx, d.ID, ExportOptions{IncludeTemplateSnapshot: true, IncludeRouterLink: true}))
		if _, err := dst.svc.ImportBundle(ctx, roundTrip(t, b), verifyAll); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if diff := cmp.Diff(must(src.svc.Events(ctx, d.ID)), must(dst.svc.Events(ctx, d.ID)), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round %d: events (-src +dst):\n%s", round, diff)
		}
	}
}

func TestExportErrors(t *testing.T) {
	f := newExchangeFixture()
	_, err := f.svc.ExportBundle(f.ctx, "nope", ExportOptions{})
	wantCode(t, err, CodeDecisionNotFound)
	_, err = f.svc.ExportBundle(f.ctx, "", ExportOptions{})
	wantCode(t, err, warden.CodeInvalidInput)
	// A decision whose stored history was edited is not exported.
	must(f.svc.Create(f.ctx, &Request{ID: "d", Goal: "g", Actor: human("alice")}))
	f.st.mu.Lock()
	e := &f.st.decisions["d"].events[0]
	e.Payload = json.RawMessage(strings.Replace(string(e.Payload), `"goal":"g"`, `"goal":"G"`, 1))
	f.st.mu.Unlock()
	_, err = f.svc.ExportBundle(f.ctx, "d", ExportOptions{})
	wantCode(t, err, CodeIntegrityMismatch)
}

// The three conflict modes, as nexus-control's tests exercise them, and an
// invalid one.
func TestImportConflictModes(t *testing.T) {
	f := newExchangeFixture()
	ctx := f.ctx
	must(f.svc.Create(ctx, &Request{ID: "d-1", Goal: "rotate API keys", Actor: human("alice"), Mode: Apply, MinApprovals: intp(2)}))
	must(f.svc.Approve(ctx, "d-1", human("bob"), ApproveOptions{}))
	b := must(f.svc.ExportBundle(ctx, "d-1", ExportOptions{IncludeRouterLink: true, IncludeTemplateSnapshot: true}))

	_, err := f.svc.ImportBundle(ctx, b, ImportOptions{Mode: "invalid_mode", VerifyDigest: true})
	wantCode(t, err, CodeConflictModeInvalid)

	for _, mode := range []string{"", ImportRejectOnConflict} {
		_, err = f.svc.ImportBundle(ctx, b, ImportOptions{Mode: mode, VerifyDigest: true})
		wantCode(t, err, CodeDecisionExists)
	}

	res := must(f.svc.ImportBundle(ctx, b, ImportOptions{Mode: ImportNewDecisionID, VerifyDigest: true, ReplayAfterImport: true}))
	if res.DecisionID == "d-1" || res.OriginalDecisionID != "d-1" || res.Replaced {
		t.Errorf("new_decision_id: %s", mustJSON(res))
	}
	orig, copy := must(f.svc.Get(ctx, "d-1")), must(f.svc.Get(ctx, res.DecisionID))
	if copy.Goal != orig.Goal || copy.Tally.Granted != 1 || copy.Head != orig.Head {
		t.Errorf("the copy differs: %+v", copy)
	}
	CheckReplay(t, f.st, res.DecisionID)

	// A free id is kept in every mode.
	for _, mode := range []string{ImportNewDecisionID, ImportOverwrite} {
		other := newExchangeFixture()
		res := must(other.svc.ImportBundle(ctx, b, ImportOptions{Mode: mode, VerifyDigest: true}))
		if res.DecisionID != "d-1" || res.Replaced || res.OriginalDecisionID != "" {
			t.Errorf("%s into a store without d-1: %s", mode, mustJSON(res))
		}
	}

	// Overwrite: d-1 moves on, and the bundle of its earlier state
	// replaces it, atomically, keeping the id.
	must(f.svc.Approve(ctx, "d-1", human("carol"), ApproveOptions{}))
	must(f.svc.Execute(ctx, "d-1", ExecuteOptions{Actor: human("alice")}))
	res = must(f.svc.ImportBundle(ctx, b, ImportOptions{Mode: ImportOverwrite, VerifyDigest: true, ReplayAfterImport: true}))
	if res.DecisionID != "d-1" || !res.Replaced {
		t.Errorf("overwrite: %s", mustJSON(res))
	}
	if got := must(f.svc.Get(ctx, "d-1")); got.State != StatePending || got.EventCount != 3 || len(got.Approvals) != 1 {
		t.Errorf("after overwrite: state %s, %d events, %d approvals", got.State, got.EventCount, len(got.Approvals))
	}
	if _, ok := res.Report.Get(CheckStoredReplay); !ok {
		t.Error("no stored_replay check with ReplayAfterImport")
	}
	CheckReplay(t, f.st, "d-1")
	// The overwritten decision carries on.
	must(f.svc.Approve(ctx, "d-1", human("carol"), ApproveOptions{}))
	CheckReplay(t, f.st, "d-1")

	_, err = f.svc.ImportBundle(ctx, nil, ImportOptions{})
	wantCode(t, err, CodeBundleInvalid)
}

// failingReplace is a store whose Replace fails after it has started.
type failingReplace struct{ *MemStore }

func (failingReplace) Replace(context.Context, *Decision, []Event) error {
	return errors.New("disk full")
}

// An overwrite that fails, in the store or because the bundle does not
// replay, leaves the existing decision as it was (nexus-control deletes
// it first and loses both).
func TestImportOverwriteIsAtomic(t *testing.T) {
	ctx := context.Background()
	src := newExchangeFixture()
	must(src.svc.Create(ctx, &Request{ID: "d", Goal: "new version", Actor: human("alice")}))
	b := must(src.svc.ExportBundle(ctx, "d", ExportOptions{}))

	st := NewMemStore()
	svc := New(Config{Store: failingReplace{st}, Now: src.clock.Now})
	must(svc.Create(ctx, &Request{ID: "d", Goal: "old version", Actor: human("bob")}))
	must(svc.Approve(ctx, "d", human("carol"), ApproveOptions{}))
	before := must(svc.Events(ctx, "d"))
	if _, err := svc.ImportBundle(ctx, b, ImportOptions{Mode: ImportOverwrite, VerifyDigest: true}); err == nil {
		t.Fatal("overwrite through a failing store succeeded")
	}
	if diff := cmp.Diff(before, must(svc.Events(ctx, "d"))); diff != "" {
		t.Errorf("the failed overwrite changed the decision:\n%s", diff)
	}

	// A bundle that does not replay under Warden's rules (self-approval)
	// is refused before anything is written.
	bad := roundTrip(t, b)
	bad.Events = append(bad.Events, nexus.Event{Seq: 2, Type: "APPROVAL_GRANTED", TS: "2026-11-22T12:00:05+00:00",
		Actor: nexus.Actor{Type: "human", ID: "alice"}, Payload: json.RawMessage(`{"expires_at":null}`)})
	reseal(t, bad)
	svc2 := New(Config{Store: st, Now: src.clock.Now})
	res, err := svc2.ImportBundle(ctx, bad, ImportOptions{Mode: ImportOverwrite, VerifyDigest: true})
	wantCode(t, err, CodeReplayInvalid)
	if c, ok := res.Report.Get(CheckWardenReplay); !ok || c.OK || !strings.Contains(c.Message, "may not approve") {
		t.Errorf("replay check: %+v", c)
	}
	if diff := cmp.Diff(before, must(svc2.Events(ctx, "d"))); diff != "" {
		t.Errorf("the refused overwrite changed the decision:\n%s", diff)
	}
}

// reseal recomputes a bundle's event digests, header, digest and
// provenance after a test edited it, and drops Warden's chain: what a
// forger without Warden would do.
func reseal(t *testing.T, b *nexus.Bundle) {
	t.Helper()
	for i := range b.Events {
		e := &b.Events[i]
		e.DecisionID, e.EventID = b.Decision.DecisionID, fmt.Sprintf("evt_%s_%d", b.Decision.DecisionID, e.Seq)
		d, err := nexus.EventDigest(e.Type, e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		e.Digest = d
	}
	if dec, err := nexus.Replay(b.Decision.DecisionID, b.Events, time.Now()); err == nil {
		b.Decision = dec.Header()
	}
	delete(b.Extra, BundleExtension)
	b.Meta = nil
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
}

// Tampering, with and without digest verification, as nexus-control's
// tests tamper, plus what it never checks.
func TestImportTampering(t *testing.T) {
	src := newExchangeFixture()
	ctx := src.ctx
	must(src.svc.Create(ctx, &Request{ID: "d-1", Goal: "rotate API keys", Actor: human("alice"), Mode: Apply}))
	must(src.svc.Approve(ctx, "d-1", human("bob"), ApproveOptions{Comment: "ok"}))
	good := must(src.svc.ExportBundle(ctx, "d-1", ExportOptions{IncludeRouterLink: true, IncludeTemplateSnapshot: true}))

	cases := []struct {
		name   string
		edit   func(b *nexus.Bundle)
		opts   ImportOptions
		code   warden.Code
		checks []string // failing checks expected in the report
	}{
		{"goal changed", func(b *nexus.Bundle) {
			b.Events[0].Payload = json.RawMessage(strings.Replace(string(b.Events[0].Payload), "rotate API keys", "drop tables", 1))
		}, verifyAll, CodeIntegrityMismatch, []string{nexus.CheckEventDigests, nexus.CheckBundleDigest, nexus.CheckDecisionHeader, CheckWardenChain}},
		{"digest zeroed", func(b *nexus.Bundle) { b.Integrity.CanonicalDigest = "sha256:0000000000000000" },
			verifyAll, CodeIntegrityMismatch, []string{nexus.CheckBundleDigest, nexus.CheckProvenance}},
		{"actor changed, resealed", func(b *nexus.Bundle) {
			b.Events[2].Actor.ID = "mallory"
			b.Seal()
		}, verifyAll, CodeIntegrityMismatch, []string{CheckWardenChain}},
		{"timestamp changed, resealed", func(b *nexus.Bundle) {
			b.Events[2].TS = "2026-11-22T12:00:00.5+00:00"
			b.Seal()
		}, verifyAll, CodeIntegrityMismatch, []string{CheckWardenChain}},
		{"chain edited", func(b *nexus.Bundle) {
			b.Extra[BundleExtension] = json.RawMessage(strings.Replace(string(b.Extra[BundleExtension]), "sha256:", "sha256:0", 1))
		}, verifyAll, CodeIntegrityMismatch, []string{CheckWardenChain}},
		{"event of another decision", func(b *nexus.Bundle) {
			b.Events[1].DecisionID = "d-2"
			b.Seal()
		}, ImportOptions{}, CodeIntegrityMismatch, []string{nexus.CheckEventIdentity}},
		{"seq gap, digests not verified", func(b *nexus.Bundle) { b.Events[1].Seq = 5 },
			ImportOptions{}, CodeReplayInvalid, []string{nexus.CheckEventSequence}},
		{"seqs shifted, digests not verified", func(b *nexus.Bundle) {
			for i := range b.Events {
				b.Events[i].Seq++
			}
		}, ImportOptions{}, CodeReplayInvalid, []string{nexus.CheckEventSequence}},
		{"unknown payload key", func(b *nexus.Bundle) {
			b.Events[2].Payload = json.RawMessage(`{"comment":"ok","expires_at":null,"tampered":true}`)
			reseal(t, b)
		}, verifyAll, CodeReplayInvalid, []string{CheckWardenReplay}},
		{"other bundle version", func(b *nexus.Bundle) { b.BundleVersion = "0.4"; b.Seal() },
			verifyAll, CodeBundleInvalid, []string{nexus.CheckBundleVersion}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := newExchangeFixture()
			b := roundTrip(t, good)
			c.edit(b)
			res, err := dst.svc.ImportBundle(ctx, roundTrip(t, b), c.opts)
			wantCode(t, err, c.code)
			failed := map[string]bool{}
			for _, fc := range res.Report.Failed() {
				failed[fc.Name] = true
			}
			for _, name := range c.checks {
				if !failed[name] {
					t.Errorf("check %s did not fail; failed: %v", name, res.Report.Failed())
				}
			}
			if _, err := dst.svc.Get(ctx, "d-1"); warden.ErrorCode(err) != CodeDecisionNotFound {
				t.Errorf("after a refused import, Get: %v", err)
			}
		})
	}

	// Without digest verification an edited bundle imports, hashed afresh
	// (nexus-control: "mutated bundle with verify_digest=False → success").
	dst := newExchangeFixture()
	b := roundTrip(t, good)
	b.Events[0].Payload = json.RawMessage(strings.Replace(string(b.Events[0].Payload), "rotate API keys", "rotate all keys", 1))
	res, err := dst.svc.ImportBundle(ctx, b, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.DigestVerified || res.Report.OK() {
		t.Errorf("unverified import: %s", mustJSON(res))
	}
	if got := must(dst.svc.Get(ctx, "d-1")); got.Goal != "rotate all keys" {
		t.Errorf("goal %q", got.Goal)
	}
	CheckReplay(t, dst.st, "d-1")
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile("../nexus/testdata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The bundle nexus-control exported (reference/nexus-control.md Appendix
// B) imports and replays into a Warden decision, and Warden exports it
// back to the same canonical digest, byte for byte.
func TestImportNexusControlFixture(t *testing.T) {
	data := readFixture(t, "golden/bundle-d-1.json")
	b, err := nexus.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	f := newExchangeFixture()
	res, err := f.svc.ImportBundle(f.ctx, b, verifyAll)
	if err != nil {
		t.Fatalf("%v\n%s", err, mustJSON(res))
	}
	if c, _ := res.Report.Get(CheckWardenChain); !strings.Contains(c.Message, "no Warden chain") {
		t.Errorf("chain check: %+v", c)
	}
	d := must(f.svc.Get(f.ctx, "d-1"))
	if d.State != StateCompleted || d.Goal != "rotate keys" || d.Mode != Apply || d.Execution.RunID != "run-1" ||
		d.Execution.StepsExecuted != 3 || d.Execution.AdapterID != "adp" || d.Approvals["bob"].Comment != "LGTM" ||
		d.Execution.RequestedBy != (Actor{Type: System, ID: "scheduler"}) {
		t.Errorf("imported decision: %s", mustJSON(d))
	}
	CheckReplay(t, f.st, "d-1")
	again := must(f.svc.ExportBundle(f.ctx, "d-1", ExportOptions{IncludeTemplateSnapshot: true, IncludeRouterLink: true}))
	if again.Integrity.CanonicalDigest != b.Integrity.CanonicalDigest {
		t.Errorf("re-export digest %s, nexus-control's %s", again.Integrity.CanonicalDigest, b.Integrity.CanonicalDigest)
	}
	want := strings.TrimSpace(string(readFixture(t, "golden/bundle-d-1-payload.canonical")))
	if got := string(must(again.CanonicalPayload())); got != want {
		t.Errorf("re-exported canonical payload differs:\n got %s\nwant %s", got, want)
	}
	// nexus-control's audit package of it verifies too, once Warden
	// exports it.
	p := must(f.svc.ExportAuditPackage(f.ctx, "d-1", AuditOptions{}))
	if p.Integrity.BindingDigest != "sha256:cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907" {
		t.Errorf("binding digest %s, nexus-control's golden one differs", p.Integrity.BindingDigest)
	}
}

// A history nexus-control accepts but Warden's state machine does not (a
// failed execution retried) is refused with the reason (Warden executes
// a decision at most once), and nothing is stored.
func TestImportRefusesWhatWardenForbids(t *testing.T) {
	b, err := nexus.ParseBundle(readFixture(t, "synth/bundle-template.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := newExchangeFixture()
	res, err := f.svc.ImportBundle(f.ctx, b, verifyAll)
	wantCode(t, err, CodeReplayInvalid)
	if c, _ := res.Report.Get(nexus.CheckBundleDigest); !c.OK {
		t.Errorf("the fixture's own digest: %+v", c)
	}
	if page := must(f.svc.List(f.ctx, Filter{})); len(page.Decisions) != 0 {
		t.Errorf("stored %d decisions", len(page.Decisions))
	}
}

func TestParsePyTime(t *testing.T) {
	for in, want := range map[string]string{
		"2025-01-15T10:00:00+00:00":        "2025-01-15T10:00:00.000000Z",
		"2025-01-15T10:00:00.123456+00:00": "2025-01-15T10:00:00.123456Z",
		"2025-01-15T12:00:00.5+02:00":      "2025-01-15T10:00:00.500000Z",
		"2025-01-15T10:00:00Z":             "2025-01-15T10:00:00.000000Z",
	} {
		got, err := parsePyTime(in)
		if err != nil || got.Format(TimeFormat) != want {
			t.Errorf("parsePyTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"2025-01-15T10:00:00", "2025-01-15T10:00:00.1234567+00:00", "yesterday"} {
		if _, err := parsePyTime(in); err == nil {
			t.Errorf("parsePyTime(%q) succeeded", in)
		}
	}
}

// BenchmarkExportAuditPackage measures a signed audit package of an
// executed decision with two approvals, verified export included.
func BenchmarkExportAuditPackage(b *testing.B) {
	f := newExchangeFixture()
	ctx := f.ctx
	must(f.svc.Create(ctx, &Request{ID: "d", Goal: "deploy", Actor: human("alice"), Mode: Apply, MinApprovals: intp(2)}))
	must(f.svc.Approve(ctx, "d", human("bob"), ApproveOptions{}))
	must(f.svc.Approve(ctx, "d", human("carol"), ApproveOptions{}))
	must(f.svc.Execute(ctx, "d", ExecuteOptions{Actor: human("alice")}))
	_, key, _ := ed25519.GenerateKey(nil)
	for b.Loop() {
		if _, err := f.svc.ExportAuditPackage(ctx, "d", AuditOptions{Signer: key}); err != nil {
			b.Fatal(err)
		}
	}
}

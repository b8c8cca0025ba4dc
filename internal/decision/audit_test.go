package decision

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

// auditFixture has a gate's decision, approved by two of three approvers
// (one more approved and revoked, one approval expired) and executed, and
// a ledger holding the gate's entries and the run's session.
type auditFixture struct {
	*exchangeFixture
	ledger *ledger.Ledger
	key    ed25519.PrivateKey
	vkey   string
	action warden.Action
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	f := &auditFixture{exchangeFixture: newExchangeFixture()}
	ctx := f.ctx
	signer, skey, vkey, err := ledger.GenerateSigner("warden")
	if err != nil {
		t.Fatal(err)
	}
	f.key, f.vkey = must(SigningKey(skey)), vkey
	f.ledger = ledger.New(ledger.NewMemStore(), signer, ledger.Options{})
	f.action = warden.Action{Tool: "file:write", Input: map[string]any{"path": "notes.txt", "content": "hello"}}
	must(f.svc.Create(ctx, &Request{ID: "gate-1", Goal: "gate: file:write notes.txt", Actor: Actor{Type: System, ID: "gateway"},
		Mode: Apply, MinApprovals: intp(2), SessionID: "sess-1", Action: &f.action, Approvers: []string{"alice", "bob", "carol", "dave"}}))
	f.clock.Advance(time.Second)
	soon := f.clock.Now().Add(time.Minute)
	must(f.svc.Approve(ctx, "gate-1", human("alice"), ApproveOptions{Comment: "ok"}))
	must(f.svc.Approve(ctx, "gate-1", human("carol"), ApproveOptions{}))
	must(f.svc.Revoke(ctx, "gate-1", human("carol"), "wrong file"))
	must(f.svc.Approve(ctx, "gate-1", human("dave"), ApproveOptions{ExpiresAt: &soon}))
	f.clock.Advance(2 * time.Minute)
	must(f.svc.Approve(ctx, "gate-1", human("bob"), ApproveOptions{}))
	must(f.svc.Execute(ctx, "gate-1", ExecuteOptions{Actor: Actor{Type: System, ID: "gateway"}, AdapterID: "builtin"}))

	digest := must(canon.DigestJSON(f.action))
	for _, r := range []ledger.Record{
		{SessionID: "sess-1", Type: "session:start", Data: map[string]any{"policy": "p"}},
		{SessionID: "sess-1", Type: "action:evaluate", Data: map[string]any{"actionId": "act-1", "digest": digest, "verdict": "gate"}},
		{SessionID: "sess-1", Type: "gate:requested", Data: map[string]any{"approvalId": "ap-1", "actionId": "act-1", "digest": digest}},
		{SessionID: "sess-1", Type: "action:evaluate", Data: map[string]any{"actionId": "act-0", "digest": "sha256:" + strings.Repeat("0", 64), "verdict": "allow"}},
		{SessionID: "sess-1", Type: "gate:vote", Data: map[string]any{"approvalId": "ap-1", "actionId": "act-1", "approver": "alice"}},
		{SessionID: "sess-1", Type: "gate:approved", Data: map[string]any{"approvalId": "ap-1", "actionId": "act-1"}},
		{SessionID: "run-1", Type: "session:start", Data: map[string]any{"policy": "p"}},
		{SessionID: "run-1", Type: "action:evaluate", Data: map[string]any{"actionId": "r-1", "digest": digest, "verdict": "allow"}},
		{SessionID: "run-1", Type: "action:result", Data: map[string]any{"actionId": "r-1", "success": true}},
	} {
		if _, err := f.ledger.Append(ctx, r.SessionID, r.Type, r.Data); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *auditFixture) pub() ed25519.PublicKey { return f.key.Public().(ed25519.PublicKey) }

// packageRoundTrip writes a package as JSON and parses it back.
func packageRoundTrip(t *testing.T, p *nexus.AuditPackage) *nexus.AuditPackage {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := nexus.ParseAuditPackage(data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestAuditPackageSignedWithLedgerProofs(t *testing.T) {
	f := newAuditFixture(t)
	p := must(f.svc.ExportAuditPackage(f.ctx, "gate-1", AuditOptions{Signer: f.key, KeyName: "warden", Ledger: f.ledger}))
	data := must(json.Marshal(p))

	r := nexus.VerifyAuditPackage(packageRoundTrip(t, p), nexus.VerifyOptions{PublicKey: f.pub(), AuditChecks: []nexus.AuditCheck{LedgerCheck(f.pub())}})
	if !r.OK() {
		t.Fatalf("package does not verify: %v", r.Err())
	}
	for _, name := range []string{nexus.CheckBindingDigest, nexus.CheckControlBundleDigest, nexus.CheckBindingControlMatch,
		nexus.CheckBindingRouterMatch, nexus.CheckBindingLinkMatch, nexus.CheckWardenSignature, CheckLedger} {
		if _, ok := r.Get(name); !ok {
			t.Errorf("no %s check", name)
		}
	}
	r2 := must(VerifyExport(data, nexus.VerifyOptions{PublicKey: f.pub()}))
	if !r2.OK() {
		t.Fatalf("VerifyExport: %v", r2.Err())
	}
	if c, _ := r2.Get(CheckLedger); !strings.Contains(c.Message, "signed by the given key") || !strings.Contains(c.Message, "7 ledger entries") {
		t.Errorf("ledger check: %+v", c)
	}

	// The extension: action digest, the approvers that counted (not the
	// revoked one, not the expired one), the chain head, the key name.
	x := p.Warden
	if x.ActionDigest == nil || *x.ActionDigest != must(canon.DigestJSON(f.action)) {
		t.Errorf("action digest %v", x.ActionDigest)
	}
	var ids []string
	for _, a := range x.Approvers {
		ids = append(ids, a.Actor.ID)
	}
	if strings.Join(ids, ",") != "alice,bob" {
		t.Errorf("approvers %v, want alice and bob", ids)
	}
	d := must(f.svc.Get(f.ctx, "gate-1"))
	if string(x.Extra[ExtDecisionHead]) != `"`+d.Head+`"` || string(x.Extra[ExtKeyName]) != `"warden"` {
		t.Errorf("extension extras %s", x.Extra)
	}
	var proofs []LedgerProof
	if err := json.Unmarshal(x.InclusionProofs, &proofs); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, lp := range proofs {
		types = append(types, lp.Entry.SessionID+" "+lp.Entry.Type)
	}
	want := "sess-1 action:evaluate,sess-1 gate:requested,sess-1 gate:vote,sess-1 gate:approved,run-1 session:start,run-1 action:evaluate,run-1 action:result"
	if strings.Join(types, ",") != want {
		t.Errorf("proved entries:\n got %s\nwant %s", strings.Join(types, ","), want)
	}

	// Another key verifies neither the signature nor the checkpoint.
	_, other, _ := ed25519.GenerateKey(nil)
	r3 := must(VerifyExport(data, nexus.VerifyOptions{PublicKey: other.Public().(ed25519.PublicKey)}))
	failed := map[string]bool{}
	for _, c := range r3.Failed() {
		failed[c.Name] = true
	}
	if !failed[nexus.CheckWardenSignature] || !failed[CheckLedger] || len(failed) != 2 {
		t.Errorf("with another key, failed: %v", r3.Failed())
	}
	// Without a key the signature cannot be checked (it fails, saying so)
	// and the checkpoint verifies against its declared key only.
	r4 := must(VerifyExport(data, nexus.VerifyOptions{}))
	if c, _ := r4.Get(CheckLedger); !c.OK || !strings.Contains(c.Message, "declares") {
		t.Errorf("ledger check without key: %+v", c)
	}
}

// Tampering with each part of a signed package makes the check that
// covers it fail, by name; re-forging it without the key fails the
// signature.
func TestAuditPackageTampering(t *testing.T) {
	f := newAuditFixture(t)
	good := must(f.svc.ExportAuditPackage(f.ctx, "gate-1", AuditOptions{Signer: f.key, Ledger: f.ledger}))
	cases := []struct {
		name string
		edit func(p *nexus.AuditPackage)
		want []string
	}{
		{"binding digest zeroed", func(p *nexus.AuditPackage) {
			p.Integrity.BindingDigest = "sha256:" + strings.Repeat("0", 64)
		}, []string{nexus.CheckBindingDigest, nexus.CheckProvenance, nexus.CheckWardenSignature}},
		{"control event payload", func(p *nexus.AuditPackage) {
			p.ControlBundle.Events[0].Payload = json.RawMessage(strings.Replace(string(p.ControlBundle.Events[0].Payload), "notes.txt", "passwd", -1))
		}, []string{nexus.CheckControlBundleDigest, nexus.ControlBundlePrefix + nexus.CheckEventDigests}},
		{"router reference digest", func(p *nexus.AuditPackage) {
			p.Router.Ref.Digest = "sha256:" + strings.Repeat("ab", 32)
		}, []string{nexus.CheckBindingRouterMatch}},
		{"link digest in the control bundle", func(p *nexus.AuditPackage) {
			s := "sha256:" + strings.Repeat("cd", 32)
			p.ControlBundle.RouterLink.ControlRouterLinkDigest = &s
		}, []string{nexus.CheckBindingLinkMatch, nexus.CheckControlBundleDigest}},
		{"approvers", func(p *nexus.AuditPackage) {
			p.Warden.Approvers[0].Actor.ID = "mallory"
		}, []string{nexus.CheckWardenSignature}},
		{"action digest", func(p *nexus.AuditPackage) {
			s := "sha256:" + strings.Repeat("ef", 32)
			p.Warden.ActionDigest = &s
		}, []string{nexus.CheckWardenSignature, CheckLedger}},
		{"proved ledger entry", func(p *nexus.AuditPackage) {
			p.Warden.InclusionProofs = json.RawMessage(strings.Replace(string(p.Warden.InclusionProofs), `"approver":"alice"`, `"approver":"mallory"`, 1))
		}, []string{nexus.CheckWardenSignature, CheckLedger}},
		{"decision head", func(p *nexus.AuditPackage) {
			p.Warden.Extra[ExtDecisionHead] = jsonString("sha256:" + strings.Repeat("0", 64))
		}, []string{nexus.CheckWardenSignature}},
		{"re-forged with another key", func(p *nexus.AuditPackage) {
			p.Warden.Approvers[0].Actor.ID = "mallory"
			p.Seal()
			_, other, _ := ed25519.GenerateKey(nil)
			if err := nexus.SignAuditPackage(p, other); err != nil {
				t.Fatal(err)
			}
		}, []string{nexus.CheckWardenSignature}},
		{"signature removed", func(p *nexus.AuditPackage) { p.Warden.Signature = nil }, []string{nexus.CheckWardenSignature}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := packageRoundTrip(t, good)
			c.edit(p)
			r := must(VerifyExport(must(json.Marshal(p)), nexus.VerifyOptions{PublicKey: f.pub()}))
			failed := map[string]bool{}
			for _, fc := range r.Failed() {
				failed[fc.Name] = true
			}
			for _, name := range c.want {
				if !failed[name] {
					t.Errorf("%s did not fail; failed: %v", name, r.Failed())
				}
			}
			if r.OK() {
				t.Error("tampered package verifies")
			}
		})
	}
}

func TestAuditPackageModesAndErrors(t *testing.T) {
	f := newAuditFixture(t)
	ctx := f.ctx

	// Reference mode without options: nexus-control's five checks plus
	// Warden's, all passing; no signature, no ledger proofs.
	p := must(f.svc.ExportAuditPackage(ctx, "gate-1", AuditOptions{}))
	if p.Router.Mode != nexus.RouterModeReference || p.Router.Ref.RunID != "run-1" || p.Warden.Signature != nil || p.Warden.Checkpoint != nil {
		t.Errorf("reference package: %s", mustJSON(p))
	}
	if r := nexus.VerifyAuditPackage(packageRoundTrip(t, p), nexus.VerifyOptions{}); !r.OK() {
		t.Error(r.Err())
	}
	if p.Binding.RouterDigest != *p.ControlBundle.RouterLink.RouterResultDigest {
		t.Errorf("router digest %s", p.Binding.RouterDigest)
	}

	// Embedded: the run record, whose digest the extension signs.
	e := must(f.svc.ExportAuditPackage(ctx, "gate-1", AuditOptions{Embed: true, Signer: f.key}))
	if e.Router.Mode != nexus.RouterModeEmbedded || e.Router.Bundle == nil {
		t.Fatalf("embedded package: %s", mustJSON(e.Router))
	}
	r := nexus.VerifyAuditPackage(packageRoundTrip(t, e), nexus.VerifyOptions{PublicKey: f.pub()})
	if c, ok := r.Get(nexus.CheckRouterDigest); !r.OK() || !ok || !c.OK {
		t.Errorf("embedded package: %v", r.Err())
	}
	var rec RunRecord
	if err := json.Unmarshal(e.Router.Bundle, &rec); err != nil {
		t.Fatal(err)
	}
	d := must(f.svc.Get(ctx, "gate-1"))
	if rec.RunID != "run-1" || rec.ResponseDigest != d.Execution.ResponseDigest || rec.StepsExecuted != 2 || len(rec.Steps) != 2 {
		t.Errorf("run record %+v", rec)
	}
	if got := string(e.Warden.Extra[ExtRouterBundleDigest]); got != `"`+canon.Digest(e.Router.Bundle)+`"` {
		t.Errorf("router bundle digest %s", got)
	}
	if !bytes.Contains(must(json.Marshal(e)), []byte(`"mode":"embedded"`)) {
		t.Error("mode not written")
	}

	// Deterministic apart from meta.
	a, b := must(f.svc.ExportAuditPackage(ctx, "gate-1", AuditOptions{})), must(f.svc.ExportAuditPackage(ctx, "gate-1", AuditOptions{}))
	if a.Integrity.BindingDigest != b.Integrity.BindingDigest {
		t.Error("two exports differ")
	}

	// No executed run, no package.
	must(f.svc.Create(ctx, &Request{ID: "pending", Goal: "g", Actor: human("alice")}))
	_, err := f.svc.ExportAuditPackage(ctx, "pending", AuditOptions{})
	wantCode(t, err, CodeNoRouterLink)
	must(f.svc.Create(ctx, &Request{ID: "failed", Goal: "g", Actor: human("alice")}))
	must(f.svc.Approve(ctx, "failed", human("bob"), ApproveOptions{}))
	f.exec.set(func(x *ScriptedExecutor) { x.Err = context.DeadlineExceeded })
	_, _ = f.svc.Execute(ctx, "failed", ExecuteOptions{Actor: human("alice")})
	_, err = f.svc.ExportAuditPackage(ctx, "failed", AuditOptions{})
	wantCode(t, err, CodeNoRouterLink)
	_, err = f.svc.ExportAuditPackage(ctx, "nope", AuditOptions{})
	wantCode(t, err, CodeDecisionNotFound)
}

func TestKeysOfTheLedger(t *testing.T) {
	_, skey, vkey, err := ledger.GenerateSigner("warden.example")
	if err != nil {
		t.Fatal(err)
	}
	priv := must(SigningKey(skey))
	pub := must(VerifierPublicKey(vkey))
	if !pub.Equal(priv.Public()) {
		t.Error("the verifier key's public key is not the signing key's")
	}
	for _, bad := range []string{"", "PRIVATE+KEY+x", vkey} {
		if _, err := SigningKey(bad); err == nil {
			t.Errorf("SigningKey(%q) succeeded", bad)
		}
	}
	if _, err := VerifierPublicKey(skey); err == nil {
		t.Error("VerifierPublicKey of a private key succeeded")
	}
}

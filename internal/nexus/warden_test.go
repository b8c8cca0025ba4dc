package nexus

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/warden golden files")

// TestWardenGolden keeps a signed Warden audit package in
// testdata/warden/audit-d-1-signed.json (key: ed25519 seed of 32 bytes 0x07)
// so that the format of the extension is visible and stable.
func TestWardenGolden(t *testing.T) {
	p := signedFixture(t)
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/warden/audit-d-1-signed.json"
	if *update {
		if err := os.MkdirAll("testdata/warden", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, golden)
	if !bytes.Equal(got, want) {
		t.Fatalf("signed package differs from %s (run with -update if intended):\n%s", golden, got)
	}
	parsed, err := ParseAuditPackage(want)
	if err != nil {
		t.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	r := VerifyAuditPackage(parsed, VerifyOptions{PublicKey: pub})
	if !r.OK() {
		t.Fatalf("golden package: %v", r.Err())
	}
	c, _ := r.Get(CheckWardenSignature)
	if !strings.Contains(c.Message, KeyID(pub)) {
		t.Errorf("signature check message %q does not name the key", c.Message)
	}
	// The extension is invisible to nexus-control's checks: the binding
	// digest and every other digest are the golden ones.
	if parsed.Integrity.BindingDigest != "sha256:cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907" {
		t.Errorf("binding digest changed: %s", parsed.Integrity.BindingDigest)
	}
}

func TestWardenSignatureCases(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name   string
		edit   func(p *AuditPackage)
		key    ed25519.PublicKey
		ok     bool
		reason string
	}{
		{"valid", func(*AuditPackage) {}, pub, true, "Ed25519 signature by"},
		{"no key given", func(*AuditPackage) {}, nil, false, "no public key was given"},
		{"other key", func(*AuditPackage) {}, otherPub, false, "signed by another key"},
		{"short key", func(*AuditPackage) {}, pub[:31], false, "has 31 bytes"},
		{"key given, no signature", func(p *AuditPackage) { p.Warden.Signature = nil }, pub, false, "has no Warden signature"},
		{"key given, no extension", func(p *AuditPackage) { p.Warden = nil }, pub, false, "has no Warden signature"},
		{"unknown algorithm", func(p *AuditPackage) { p.Warden.Signature.Alg = "rsa" }, pub, false, `unknown signature algorithm "rsa"`},
		{"not base64", func(p *AuditPackage) { p.Warden.Signature.Value = "!!" }, pub, false, "not a base64 Ed25519 signature"},
		{"short signature", func(p *AuditPackage) { p.Warden.Signature.Value = base64.StdEncoding.EncodeToString(make([]byte, 10)) }, pub, false, "not a base64"},
		{"extension claim changed", func(p *AuditPackage) { s := "sha256:" + strings.Repeat("cd", 32); p.Warden.ActionDigest = &s }, pub, false, "does not match"},
		{"approver identity changed", func(p *AuditPackage) { s := "token:mallory"; p.Warden.Approvers[0].Identity = &s }, pub, false, "does not match"},
		{"unknown extension field added", func(p *AuditPackage) {
			p.Warden.Extra = map[string]json.RawMessage{"later": json.RawMessage(`1`)}
		}, pub, false, "does not match"},
		{"binding digest changed", func(p *AuditPackage) { p.Integrity.BindingDigest = "sha256:" + strings.Repeat("0", 64) }, pub, false, "does not match"},
		{"signature extra field is not signed", func(p *AuditPackage) {
			p.Warden.Signature.Extra = map[string]json.RawMessage{"note": json.RawMessage(`"x"`)}
		}, pub, true, "Ed25519 signature by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := signedFixture(t)
			tt.edit(p)
			r := VerifyAuditPackage(p, VerifyOptions{PublicKey: tt.key})
			c, found := r.Get(CheckWardenSignature)
			if !found || c.OK != tt.ok || !strings.Contains(c.Message, tt.reason) {
				t.Errorf("%s: found %v, %+v; want ok %v with %q", tt.name, found, c, tt.ok, tt.reason)
			}
		})
	}
	// A signature is reported only when there is one or a key is given.
	p, _ := ParseAuditPackage(readFile(t, "testdata/golden/audit-d-1-reference.json"))
	if _, found := VerifyAuditPackage(p, VerifyOptions{}).Get(CheckWardenSignature); found {
		t.Error("signature check without signature or key")
	}
	action := "sha256:" + strings.Repeat("ab", 32)
	p.Warden = &WardenExtension{ActionDigest: &action}
	if r := VerifyAuditPackage(p, VerifyOptions{}); !r.OK() || len(r.Checks) != len(VerifyAuditPackage(p, VerifyOptions{}).Checks) {
		t.Errorf("unsigned extension: %v", r.Err())
	}
	if err := SignAuditPackage(p, testKey[:10]); err == nil {
		t.Error("signed with a truncated key")
	}
}

func TestSignatureMessage(t *testing.T) {
	p := signedFixture(t)
	msg, err := SignatureMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"binding_digest":"sha256:cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907",` +
		`"context":"warden.audit_package.signature.v1","warden":{"action_digest":"sha256:` + strings.Repeat("ab", 32) + `",` +
		`"approvers":[{"actor":{"id":"bob","type":"human"},"identity":"token:bob@example.org"}],` +
		`"checkpoint":"warden.example/ledger\n42\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",` +
		`"inclusion_proofs":[{"hashes":["AAAA","BBBB"],"index":7}]}}`
	if diff := cmp.Diff(want, string(msg)); diff != "" {
		t.Errorf("signed message (-want +got):\n%s", diff)
	}
	if got := KeyID(testKey.Public().(ed25519.PublicKey)); !strings.HasPrefix(got, "ed25519:") || len(got) != len("ed25519:")+16 {
		t.Errorf("KeyID = %s", got)
	}
}

// TestAuditChecksPlugIn: further checks join the report by name, and see
// the replayed control bundle.
func TestAuditChecksPlugIn(t *testing.T) {
	p := signedFixture(t)
	approvers := func(p *AuditPackage, r *Report) Check {
		c := Check{Name: "warden_approvers"}
		for _, a := range p.Warden.Approvers {
			if ap := r.Decision.Approvals[a.Actor.ID]; ap == nil || !ap.Active(r.Decision.Now) {
				return c.fail(a.Actor.ID + " has no active approval in the control bundle")
			}
		}
		return c.pass("every approver has an active approval")
	}
	checkpoint := func(p *AuditPackage, r *Report) Check {
		return Check{Name: "warden_checkpoint", OK: false, Message: "not yet verified"}
	}
	r := VerifyAuditPackage(p, VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey), AuditChecks: []AuditCheck{approvers, checkpoint}})
	names := checkNames(r)
	if diff := cmp.Diff([]string{CheckWardenSignature, "warden_approvers", "warden_checkpoint"}, names[len(names)-3:]); diff != "" {
		t.Errorf("last checks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"warden_checkpoint"}, failedNames(r)); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
}

func TestReportJSON(t *testing.T) {
	p, _ := ParseAuditPackage(readFile(t, "testdata/golden/audit-d-1-reference.json"))
	p.Integrity.BindingDigest = "sha256:" + strings.Repeat("0", 64)
	p.Router.Ref.Digest = "sha256:x"
	r := VerifyAuditPackage(p, VerifyOptions{})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Subject string  `json:"subject"`
		OK      bool    `json:"ok"`
		Digest  string  `json:"digest"`
		Checks  []Check `json:"checks"`
		Passed  int     `json:"passed"`
		Failed  int     `json:"failed"`
		Total   int     `json:"total"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject != SubjectAuditPackage || got.OK || got.Failed != 3 || got.Passed+got.Failed != got.Total || got.Total != len(r.Checks) {
		t.Errorf("report %s", b)
	}
	for _, c := range got.Checks {
		if !c.OK && (c.Expected == "" || c.Actual == "") && c.Name != CheckProvenance {
			t.Errorf("failed check %s has no expected/actual", c.Name)
		}
	}
	err = r.Err()
	if err == nil || !strings.Contains(err.Error(), "audit package failed 3 of") || !strings.Contains(err.Error(), "binding_digest: ") || !strings.Contains(err.Error(), "binding_router_match: ") {
		t.Errorf("Err() = %v", err)
	}
	if (&Report{Subject: SubjectBundle}).Err() != nil {
		t.Error("empty report fails")
	}
	if b, _ := json.Marshal(&Report{Subject: SubjectBundle}); !bytes.Contains(b, []byte(`"checks":[]`)) {
		t.Errorf("empty report JSON %s", b)
	}
	if _, err := Verify([]byte(`{"a":1}`), VerifyOptions{}); err == nil {
		t.Error("Verify accepted a document of neither kind")
	}
	if _, err := Verify([]byte(`{"bundle_version":1}`), VerifyOptions{}); err == nil {
		t.Error("Verify accepted a malformed bundle")
	}
	if _, err := Verify([]byte(`{"package_version":"0.6"}`), VerifyOptions{}); err == nil {
		t.Error("Verify accepted a malformed package")
	}
	if _, err := Verify([]byte(`{`), VerifyOptions{}); err == nil {
		t.Error("Verify accepted broken JSON")
	}
}

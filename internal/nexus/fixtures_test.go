package nexus

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const goldenDir = "testdata/golden"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGoldenVectors checks every golden digest vector of nexus-control
// (testdata/golden): NAME.input.json canonicalises to NAME.canonical byte
// for byte, whose SHA-256 is the digest recorded in NAME.digest (in the
// form nexus-control gives it, prefixed or not). A vector without input is
// its own input.
func TestGoldenVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.canonical"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 14 {
		t.Fatalf("found %d vectors, want 14", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".canonical")
		t.Run(name, func(t *testing.T) {
			want := readFile(t, file)
			input := want
			if in, err := os.ReadFile(filepath.Join(goldenDir, name+".input.json")); err == nil {
				input = in
			}
			got, err := Canonical(input)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("canonical form differs:\ngot  %s\nwant %s", got, want)
			}
			rec, err := os.ReadFile(filepath.Join(goldenDir, name+".digest"))
			if os.IsNotExist(err) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recorded := strings.TrimSpace(string(rec))
			digest := SHA256Hex(got)
			if strings.HasPrefix(recorded, DigestPrefix) {
				digest = PrefixDigest(digest)
			}
			if digest != recorded {
				t.Errorf("digest %s, the golden vector records %s", digest, recorded)
			}
		})
	}
}

// TestGoldenDigestFunctions checks the digest helpers against the
// golden vectors nexus-control computed with its own.
func TestGoldenDigestFunctions(t *testing.T) {
	ev := func(typ, payload string) string {
		d, err := EventDigest(typ, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	req, res := "1111111111111111111111111111111111111111111111111111111111111111", "2222222222222222222222222222222222222222222222222222222222222222"
	abc, def := "abc", "def"
	got := map[string]string{
		"binding":          BindingDigest("0.6", "sha256:aaa", "sha256:bbb", "sha256:ccc"),
		"router link":      RouterLinkDigest("d1", "run-1", &abc, &def),
		"full link":        PrefixDigest(RouterLinkDigest("d-1", "run-1", &req, &res)),
		"decision created": ev("DECISION_CREATED", `{"goal":"g","plan":null,"requested_mode":"dry_run","labels":[]}`),
		"approval granted": ev("APPROVAL_GRANTED", `{"expires_at":null}`),
		"bundle prov":      ProvID("d-1", "sha256:e209befb63999ad5c6c01e0161dcaf4cc9638d3576d25c07129c7afde0c948ef"),
		"memo type hex":    hex.EncodeToString([]byte("nexus.attest")),
		"audit prov":       ProvID("d-1", "sha256:cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907"),
		"full binding": BindingDigest("0.6", "sha256:e209befb63999ad5c6c01e0161dcaf4cc9638d3576d25c07129c7afde0c948ef",
			"sha256:"+res, "sha256:e1329e5d7e3c773834e67aac01c7003d4500718c61055504822d897456235908"),
	}
	want := map[string]string{
		"binding":          "b9b80da7429447c915a40ddaaefe963edfe3951adcb5ae2631d243faa0d3d901",
		"router link":      "183c5846a54a37ef2b7f880edcf59cf726c3e435b654ca950059e3e8f7022e0a",
		"full link":        "sha256:e1329e5d7e3c773834e67aac01c7003d4500718c61055504822d897456235908",
		"decision created": "ea08c8db72786a95e11ea83e80e8c4a6bbcdd2219ffd7278e74f80dc8e1b8efa",
		"approval granted": "79b78629bf4dee55065517c950fe627418e05dd0bbee2603b6e008838c3ce759",
		"bundle prov":      "prov_af3ec3aae099",
		"audit prov":       "prov_c9143485dccf",
		"memo type hex":    "6e657875732e617474657374",
		"full binding":     "cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digests (-golden +computed):\n%s", diff)
	}
}

// TestGoldenBundle verifies the full bundle vector and checks that the
// digests computed equal the ones recorded in it.
func TestGoldenBundle(t *testing.T) {
	data := readFile(t, filepath.Join(goldenDir, "bundle-d-1.json"))
	b, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := b.CanonicalPayload()
	if err != nil {
		t.Fatal(err)
	}
	if want := readFile(t, filepath.Join(goldenDir, "bundle-d-1-payload.canonical")); !bytes.Equal(payload, want) {
		t.Fatalf("canonical payload differs from the golden vector:\ngot  %s\nwant %s", payload, want)
	}
	r := VerifyBundle(b, VerifyOptions{})
	if !r.OK() {
		t.Fatalf("golden bundle does not verify: %v", r.Err())
	}
	wantNames := []string{CheckBundleVersion, CheckEventDigests, CheckEventSequence, CheckEventIdentity, CheckBundleDigest,
		CheckReplay, CheckDecisionHeader, CheckTemplateSnapshot, CheckRouterLink, CheckProvenance}
	if diff := cmp.Diff(wantNames, checkNames(r)); diff != "" {
		t.Errorf("check names (-want +got):\n%s", diff)
	}
	if r.Digest != b.Integrity.CanonicalDigest || r.Digest != "sha256:e209befb63999ad5c6c01e0161dcaf4cc9638d3576d25c07129c7afde0c948ef" {
		t.Errorf("digest %s, recorded %s", r.Digest, b.Integrity.CanonicalDigest)
	}
	for i, e := range b.Events {
		d, err := EventDigest(e.Type, e.Payload)
		if err != nil || d != e.Digest {
			t.Errorf("events[%d]: digest %s, recorded %s (%v)", i, d, e.Digest, err)
		}
	}
	if r.Decision == nil || r.Decision.State != StateCompleted || r.Decision.ActiveApprovals(time.Now()) != 1 {
		t.Errorf("replayed decision %+v", r.Decision)
	}
}

// TestGoldenAuditPackage verifies the golden reference-mode audit package:
// nexus-control's five checks plus Warden's.
func TestGoldenAuditPackage(t *testing.T) {
	data := readFile(t, filepath.Join(goldenDir, "audit-d-1-reference.json"))
	p, err := ParseAuditPackage(data)
	if err != nil {
		t.Fatal(err)
	}
	r := VerifyAuditPackage(p, VerifyOptions{})
	if !r.OK() {
		t.Fatalf("golden audit package does not verify: %v", r.Err())
	}
	names := checkNames(r)
	if diff := cmp.Diff(nexusChecksReference, names[:5]); diff != "" {
		t.Errorf("nexus-control's checks (-want +got):\n%s", diff)
	}
	for _, n := range names {
		if n == CheckRouterDigest || n == CheckWardenSignature {
			t.Errorf("reference mode without signature reports %s", n)
		}
	}
	if want := "sha256:cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907"; r.Digest != want || p.Integrity.BindingDigest != want {
		t.Errorf("binding digest %s, recorded %s", r.Digest, p.Integrity.BindingDigest)
	}
	if p.Provenance.Records[0].ProvID != "prov_c9143485dccf" {
		t.Errorf("prov_id %s", p.Provenance.Records[0].ProvID)
	}
	// The generic entry point detects both kinds.
	for _, name := range []string{"bundle-d-1.json", "audit-d-1-reference.json"} {
		r, err := Verify(readFile(t, filepath.Join(goldenDir, name)), VerifyOptions{})
		if err != nil || !r.OK() {
			t.Errorf("Verify(%s) = %v, %v", name, r.Err(), err)
		}
	}
}

// TestSynthesisedFixtures verifies documents made with an independent
// implementation of the formats: a template decision with revocation,
// re-approval, expiring approvals, a failed and a completed execution,
// non-ASCII text and doubles in payloads, and its audit package in
// embedded mode written with ASCII escapes.
func TestSynthesisedFixtures(t *testing.T) {
	b, err := ParseBundle(readFile(t, "testdata/synth/bundle-template.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := VerifyBundle(b, VerifyOptions{})
	if !r.OK() {
		t.Fatalf("bundle: %v", r.Err())
	}
	d := r.Decision
	if d.State != StateCompleted || len(d.Executions) != 2 || d.ActiveApprovals(d.Now) != 3 ||
		d.Template == nil || d.Template.Name != "prod-deploy" || d.Policy.MinApprovals != 3 {
		t.Errorf("replayed decision: state %s, %d executions, %d approvals, template %+v", d.State, len(d.Executions), d.ActiveApprovals(d.Now), d.Template)
	}
	// After the far-future expiries, only bob's approval remains active.
	if n := d.ActiveApprovals(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); n != 1 {
		t.Errorf("active approvals in 2100: %d", n)
	}

	p, err := ParseAuditPackage(readFile(t, "testdata/synth/audit-template-embedded.json"))
	if err != nil {
		t.Fatal(err)
	}
	r = VerifyAuditPackage(p, VerifyOptions{})
	if !r.OK() {
		t.Fatalf("package: %v", r.Err())
	}
	if diff := cmp.Diff(append(nexusChecksReference, CheckRouterDigest), checkNames(r)[:6]); diff != "" {
		t.Errorf("embedded mode checks (-want +got):\n%s", diff)
	}
	if _, ok := r.Get(CheckRouterRunMatch); ok {
		t.Error("embedded mode reports router_run_match")
	}
}

var nexusChecksReference = []string{CheckBindingDigest, CheckControlBundleDigest, CheckBindingControlMatch, CheckBindingRouterMatch, CheckBindingLinkMatch}

func checkNames(r *Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

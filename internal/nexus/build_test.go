package nexus

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goldenEvents returns the events of the golden bundle as a store
// holds them: without event ids, decision ids or digests.
func goldenEvents(t *testing.T) []Event {
	b, err := ParseBundle(readFile(t, filepath.Join(goldenDir, "bundle-d-1.json")))
	if err != nil {
		t.Fatal(err)
	}
	evs := b.Events
	for i := range evs {
		evs[i].EventID, evs[i].DecisionID, evs[i].Digest = "", "", ""
	}
	// Stored out of order: the export sorts by seq.
	evs[0], evs[5] = evs[5], evs[0]
	return evs
}

// TestBuildBundleGolden exports the golden events and gets the
// golden bundle: same canonical payload, digest and provenance.
func TestBuildBundleGolden(t *testing.T) {
	b, err := BuildBundle("d-1", goldenEvents(t), BundleOptions{ExportedAt: "2025-01-15T10:15:00.123456+00:00"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := b.CanonicalPayload()
	if err != nil {
		t.Fatal(err)
	}
	if want := readFile(t, filepath.Join(goldenDir, "bundle-d-1-payload.canonical")); !bytes.Equal(payload, want) {
		t.Fatalf("payload differs:\ngot  %s\nwant %s", payload, want)
	}
	fixture, err := ParseBundle(readFile(t, filepath.Join(goldenDir, "bundle-d-1.json")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(normalise(t, fixture), normalise(t, b)); diff != "" {
		t.Errorf("built bundle differs from the fixture (-fixture +built):\n%s", diff)
	}

	pkg, err := BuildAuditPackage(b, AuditOptions{ExportedAt: "2025-01-15T10:15:00.234567+00:00"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseAuditPackage(readFile(t, filepath.Join(goldenDir, "audit-d-1-reference.json")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(normalise(t, want), normalise(t, pkg)); diff != "" {
		t.Errorf("built package differs from the fixture (-fixture +built):\n%s", diff)
	}
}

func TestBuildBundleOptions(t *testing.T) {
	evs := goldenEvents(t)
	b, err := BuildBundle("d-1", evs, BundleOptions{OmitRouterLink: true, OmitTemplateSnapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if !b.RouterLink.IsEmpty() || b.TemplateSnapshot.Present || b.Meta == nil || b.Meta.ExportedAt == nil {
		t.Errorf("options ignored: %+v %+v", b.RouterLink, b.TemplateSnapshot)
	}
	if r := VerifyBundle(b, VerifyOptions{}); !r.OK() {
		t.Errorf("bundle without link: %v", r.Err())
	}
	if _, err := BuildAuditPackage(b, AuditOptions{}); !errors.Is(err, ErrNoRouterLink) {
		t.Errorf("package without link: %v", err)
	}
	// The header status depends on the clock: an approval that has expired
	// by the time of export leaves the decision pending.
	pending := events(ev(EventDecisionCreated, "alice", created), ev(EventPolicyAttached, "alice", `{"min_approvals":1,"allowed_modes":["dry_run","apply"]}`),
		ev(EventApprovalGranted, "bob", `{"expires_at":"2025-06-01T12:00:00+00:00"}`))
	before, _ := BuildBundle("d", pending, BundleOptions{Now: t0.Add(-time.Second)})
	after, _ := BuildBundle("d", pending, BundleOptions{Now: t0})
	if before.Decision.Status != "APPROVED" || after.Decision.Status != "PENDING_APPROVAL" || before.Integrity.CanonicalDigest == after.Integrity.CanonicalDigest {
		t.Errorf("status %s then %s", before.Decision.Status, after.Decision.Status)
	}
	// Each verifies as of its own export (meta.exported_at) ...
	for _, b := range []*Bundle{before, after} {
		if r := VerifyBundle(b, VerifyOptions{}); !r.OK() {
			t.Errorf("%s: %v", b.Decision.Status, r.Err())
		}
	}
	// ... and the header check names the clock when verified at another time.
	r := VerifyBundle(before, VerifyOptions{Now: t0})
	c, _ := r.Get(CheckDecisionHeader)
	if c.OK || !strings.Contains(c.Message, `decision.status is "APPROVED", the events give "PENDING_APPROVAL"`) || !strings.Contains(c.Message, "2025-06-01T12:00:00+00:00") {
		t.Errorf("header check: %+v", c)
	}
	// Unreplayable events cannot be exported.
	if _, err := BuildBundle("d", events(ev("BOGUS", "a", `{}`)), BundleOptions{}); err == nil {
		t.Error("exported unreplayable events")
	}
	if _, err := BuildBundle("d", events(Event{Type: EventTemplateCreated, Payload: []byte(`{"a":NaN}`)}), BundleOptions{}); err == nil {
		t.Error("exported a payload that does not canonicalise")
	}
}

func TestBuildAuditPackageModes(t *testing.T) {
	b, err := BuildBundle("d-1", goldenEvents(t), BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	result := *b.RouterLink.RouterResultDigest
	rb := []byte(`{"run_id":"mock-run-123","integrity":{"alg":"sha256","canonical_digest":"` + result + `"}}`)
	p, err := BuildAuditPackage(b, AuditOptions{RouterBundle: rb})
	if err != nil {
		t.Fatal(err)
	}
	if p.Router.Mode != RouterModeEmbedded || p.Router.Ref != nil || !bytes.Equal(p.Router.Bundle, rb) {
		t.Errorf("router section %+v", p.Router)
	}
	r := VerifyAuditPackage(p, VerifyOptions{})
	if !r.OK() {
		t.Fatalf("embedded: %v", r.Err())
	}
	if _, ok := r.Get(CheckRouterDigest); !ok {
		t.Error("embedded mode without router_digest check")
	}

	other := []byte(`{"integrity":{"canonical_digest":"sha256:` + strings.Repeat("0", 64) + `"}}`)
	if _, err := BuildAuditPackage(b, AuditOptions{RouterBundle: other}); !errors.Is(err, ErrRouterDigestMismatch) {
		t.Errorf("mismatching router bundle: %v", err)
	}
	if p, err := BuildAuditPackage(b, AuditOptions{RouterBundle: other, SkipRouterDigestCheck: true}); err != nil || !VerifyAuditPackage(p, VerifyOptions{}).OK() {
		t.Errorf("mismatch with the check skipped: %v", err)
	}
	for _, bad := range []string{`{"run_id":"x"}`, `{"integrity":{"canonical_digest":1}}`, `not json`} {
		if _, err := BuildAuditPackage(b, AuditOptions{RouterBundle: []byte(bad)}); err == nil {
			t.Errorf("router bundle %s accepted", bad)
		}
	}

	ref := "sha256:" + strings.Repeat("ab", 32)
	p, err = BuildAuditPackage(b, AuditOptions{RouterBundleDigest: ref})
	if err != nil || p.Router.Ref.Digest != ref || p.Binding.RouterDigest != ref || !VerifyAuditPackage(p, VerifyOptions{}).OK() {
		t.Errorf("reference digest override: %v %+v", err, p.Router.Ref)
	}

	// A failed execution has no run id: no audit package.
	failed := events(ev(EventDecisionCreated, "alice", created), ev(EventPolicyAttached, "alice", policy2),
		ev(EventExecutionRequested, "alice", `{"adapter_id":"a","dry_run":true}`),
		ev(EventExecutionStarted, "nexus-control", `{"router_request_digest":"aa"}`),
		ev(EventExecutionFailed, "nexus-control", `{"error_code":"ROUTER_ERROR","error_message":"x","run_id":null}`))
	fb, err := BuildBundle("f", failed, BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildAuditPackage(fb, AuditOptions{}); !errors.Is(err, ErrNoRouterLink) || !strings.Contains(err.Error(), "decision f") {
		t.Errorf("failed decision: %v", err)
	}
}

// TestVerifyAuditPackageRouterSection covers router sections that
// nexus-control's own exports never produce.
func TestVerifyAuditPackageRouterSection(t *testing.T) {
	load := func() *AuditPackage {
		p, err := ParseAuditPackage(readFile(t, filepath.Join(goldenDir, "audit-d-1-reference.json")))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		edit   func(p *AuditPackage)
		failed []string
	}{
		{"reference without ref", func(p *AuditPackage) { p.Router.Ref = nil }, []string{CheckBindingRouterMatch}},
		{"embedded without bundle", func(p *AuditPackage) { p.Router.Mode = RouterModeEmbedded; p.Router.Ref = nil }, []string{CheckBindingRouterMatch}},
		{"embedded bundle without integrity", func(p *AuditPackage) {
			p.Router = RouterSection{Mode: RouterModeEmbedded, Bundle: json.RawMessage(`{"run_id":"x"}`)}
		}, []string{CheckBindingRouterMatch, CheckRouterDigest}},
		{"embedded bundle with integrity but no digest", func(p *AuditPackage) {
			p.Router = RouterSection{Mode: RouterModeEmbedded, Bundle: json.RawMessage(`{"integrity":{}}`)}
		}, []string{CheckBindingRouterMatch, CheckRouterDigest}},
		{"embedded bundle not JSON", func(p *AuditPackage) {
			p.Router = RouterSection{Mode: RouterModeEmbedded, Bundle: json.RawMessage(`{`)}
		}, []string{CheckBindingRouterMatch, CheckRouterDigest}},
		{"no router link", func(p *AuditPackage) { p.ControlBundle.RouterLink = nil }, []string{CheckControlBundleDigest, CheckBindingLinkMatch, CheckRouterRunMatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := load()
			tt.edit(p)
			r := VerifyAuditPackage(p, VerifyOptions{})
			if diff := cmp.Diff(sorted(tt.failed), failedNames(r)); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s\n%v", diff, r.Err())
			}
		})
	}
}

package controlmcp

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/nexus"
)

// bundleOf returns the bundle a tool result holds, as JSON.
func bundleOf(t *testing.T, data map[string]any, key string) []byte {
	t.Helper()
	b, err := json.Marshal(data[key])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExportBundle: the bundle and its digest, deterministic, shaped by
// its flags, verifying with every check, and rendered.
func TestExportBundle(t *testing.T) {
	f := newFixture(t)
	f.ok(ToolTemplateCreate, map[string]any{"name": "prod-deploy", "actor": human("a"), "min_approvals": 1, "allowed_modes": []string{"dry_run", "apply"}})
	id := f.req(1, map[string]any{"goal": "rotate API keys", "template_name": "prod-deploy"})
	f.approve(id, "alice")

	got := f.ok(ToolExportBundle, map[string]any{"decision_id": id})
	digest, _ := got["digest"].(string)
	if !strings.HasPrefix(digest, "sha256:") || get(got, "bundle", "integrity", "canonical_digest") != digest ||
		get(got, "bundle", "bundle_version") != "0.5" || get(got, "bundle", "decision", "goal") != "rotate API keys" ||
		get(got, "bundle", "decision", "mode") != "apply" || get(got, "bundle", "decision", "status") != "APPROVED" {
		t.Fatalf("export: %v", got)
	}
	events, _ := get(got, "bundle", "events").([]any)
	if len(events) != 3 || get(events, 2, "type") != "APPROVAL_GRANTED" {
		t.Errorf("events %v", events)
	}
	if get(got, "bundle", "template_snapshot", "present") != true || get(got, "bundle", "template_snapshot", "name") != "prod-deploy" {
		t.Errorf("template snapshot %v", get(got, "bundle", "template_snapshot"))
	}
	rendered, _ := got["rendered"].(string)
	for _, s := range []string{"# Decision bundle", "## Decision", "## Events", "## Template", "## Router link", "## Integrity", "rotate API keys", digest} {
		if !strings.Contains(rendered, s) {
			t.Errorf("rendered lacks %q:\n%s", s, rendered)
		}
	}
	rep, err := nexus.Verify(bundleOf(t, got, "bundle"), nexus.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("the exported bundle does not verify: %v %v", err, rep.Err())
	}
	if again := f.ok(ToolExportBundle, map[string]any{"decision_id": id}); again["digest"] != digest {
		t.Errorf("exporting twice: %v then %v", digest, again["digest"])
	}
	bare := f.ok(ToolExportBundle, map[string]any{"decision_id": id, "include_template_snapshot": false, "include_router_link": false, "render": false})
	if bare["digest"] == digest || get(bare, "bundle", "template_snapshot", "present") != false || bare["rendered"] != nil {
		t.Errorf("without the template section: %v", bare)
	}

	// After execution the router link names the run.
	f.exec.RunID = "run_123"
	f.execute(id)
	got = f.ok(ToolExportBundle, map[string]any{"decision_id": id})
	link := get(got, "bundle", "router_link")
	if get(link, "run_id") != "run_123" || get(link, "adapter_id") != "test-adapter" || get(link, "control_router_link_digest") == nil {
		t.Errorf("router link %v", link)
	}
	if !strings.Contains(got["rendered"].(string), "run_123") {
		t.Errorf("rendered: %s", got["rendered"])
	}
}

// TestImportBundle: a bundle moves to another server and comes back with
// the same history; conflicts follow the mode; a tampered bundle is
// refused with the failing check named; unreadable bundles get
// BUNDLE_INVALID_SCHEMA naming the field.
func TestImportBundle(t *testing.T) {
	src := newFixture(t)
	id := src.req(2, map[string]any{"goal": "rotate API keys", "labels": []string{"prod"}})
	src.approve(id, "alice")
	src.approve(id, "bob")
	exported := src.ok(ToolExportBundle, map[string]any{"decision_id": id})
	bundle := exported["bundle"]

	dst := newFixture(t)
	got := dst.ok(ToolImportBundle, map[string]any{"bundle": bundle})
	if get(got, "imported", "decision_id") != id || get(got, "imported", "events_imported") != 4.0 || got["digest_verified"] != true ||
		got["conflict_mode"] != "reject_on_conflict" || got["replay_ran"] != true || get(got, "replay", "ok") != true ||
		get(got, "replay", "state") != "approved" || get(got, "report", "ok") != true {
		t.Fatalf("import: %v", got)
	}
	st := dst.ok(ToolStatus, map[string]any{"request_id": id})
	if st["goal"] != "rotate API keys" || st["active_approvals"] != 2.0 || st["is_approved"] != true {
		t.Errorf("imported decision: %v", st)
	}
	// The same history: exporting it again gives the same digest.
	if again := dst.ok(ToolExportBundle, map[string]any{"decision_id": id}); again["digest"] != exported["digest"] {
		t.Errorf("round trip digest %v, want %v", again["digest"], exported["digest"])
	}

	// Conflicts.
	dst.fail("DECISION_EXISTS", ToolImportBundle, map[string]any{"bundle": bundle})
	got = dst.ok(ToolImportBundle, map[string]any{"bundle": bundle, "conflict_mode": "new_decision_id"})
	if nid := get(got, "imported", "decision_id"); nid == id || get(got, "imported", "original_decision_id") != id || get(got, "imported", "new_decision_id") != nid {
		t.Errorf("new_decision_id: %v", got["imported"])
	}
	got = dst.ok(ToolImportBundle, map[string]any{"bundle": bundle, "conflict_mode": "overwrite"})
	if got["replaced"] != true || get(got, "imported", "decision_id") != id {
		t.Errorf("overwrite: %v", got)
	}
	// Warden differs: a conflict mode outside the three is refused by the
	// input schema (INVALID_INPUT naming conflict_mode), not with
	// nexus-control's CONFLICT_MODE_INVALID.
	wantFields(t, dst.fail("INVALID_INPUT", ToolImportBundle, map[string]any{"bundle": bundle, "conflict_mode": "invalid_mode"}), "conflict_mode")

	// The bundle as JSON text.
	text := string(bundleOf(t, exported, "bundle"))
	fresh := newFixture(t)
	if got := fresh.ok(ToolImportBundle, map[string]any{"bundle": text}); get(got, "imported", "decision_id") != id {
		t.Errorf("import of JSON text: %v", got)
	}

	// Tampering: a changed goal fails the digest checks, which are named.
	var tampered map[string]any
	json.Unmarshal(bundleOf(t, exported, "bundle"), &tampered)
	tampered["events"].([]any)[0].(map[string]any)["payload"].(map[string]any)["goal"] = "something else"
	r := newFixture(t).fail("INTEGRITY_MISMATCH", ToolImportBundle, map[string]any{"bundle": tampered})
	if !strings.Contains(r.Error.Message, "bundle_digest") || r.Error.Details["checks"] == nil {
		t.Errorf("tampered bundle: %+v", r.Error)
	}
	// A seq gap does not replay, even without digest checks.
	json.Unmarshal(bundleOf(t, exported, "bundle"), &tampered)
	tampered["events"].([]any)[1].(map[string]any)["seq"] = 5
	newFixture(t).fail("REPLAY_INVALID", ToolImportBundle, map[string]any{"bundle": tampered, "verify_digest": false})

	// Unreadable bundles.
	for _, c := range []struct {
		drop, field string
	}{{"decision", "bundle.decision"}, {"events", "bundle.events"}, {"integrity", "bundle.integrity"}} {
		var b map[string]any
		json.Unmarshal(bundleOf(t, exported, "bundle"), &b)
		delete(b, c.drop)
		r := fresh.fail("BUNDLE_INVALID_SCHEMA", ToolImportBundle, map[string]any{"bundle": b})
		wantFields(t, r, c.field)
	}
	fresh.fail("BUNDLE_INVALID_SCHEMA", ToolImportBundle, map[string]any{"bundle": "{not json"})
	wantFields(t, fresh.fail("INVALID_INPUT", ToolImportBundle, map[string]any{"bundle": 42}), "bundle")
}

// TestExportAuditPackage: reference and embedded modes, router digests
// checked against the run, NO_ROUTER_LINK for a decision that has not
// executed successfully, and a package that verifies, signed when the
// server has a key.
func TestExportAuditPackage(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.Audit = decision.AuditOptions{Signer: priv, KeyName: "test-key"} })
	id := f.req(1, map[string]any{"goal": "render test"})
	f.approve(id, "alice")
	f.fail("NO_ROUTER_LINK", ToolExportAuditPackage, map[string]any{"decision_id": id})
	f.exec.RunID = "run-001"
	run := f.execute(id)

	got := f.ok(ToolExportAuditPackage, map[string]any{"decision_id": id})
	pkg := got["package"]
	digest, _ := got["digest"].(string)
	if get(pkg, "package_version") != "0.6" || get(pkg, "router", "mode") != "reference" || get(pkg, "router", "ref", "run_id") != "run-001" ||
		get(pkg, "router", "ref", "digest") != run["response_digest"] || get(pkg, "binding", "router_digest") != run["response_digest"] ||
		get(pkg, "integrity", "binding_digest") != digest || !strings.HasPrefix(digest, "sha256:") ||
		get(pkg, "binding", "control_digest") != get(pkg, "control_bundle", "integrity", "canonical_digest") {
		t.Fatalf("package: %v", got)
	}
	if get(pkg, "warden", "approvers", 0, "actor", "id") != "alice" || get(pkg, "warden", "signature", "alg") != "ed25519" {
		t.Errorf("Warden's extension: %v", get(pkg, "warden"))
	}
	rendered, _ := got["rendered"].(string)
	for _, s := range []string{"# Audit package", "## Control bundle", "## Router", "## Binding", "## Warden", "## Integrity", "render test", "reference", digest, "alice"} {
		if !strings.Contains(rendered, s) {
			t.Errorf("rendered lacks %q:\n%s", s, rendered)
		}
	}
	raw := bundleOf(t, got, "package")
	rep, err := nexus.Verify(raw, nexus.VerifyOptions{PublicKey: pub})
	if err != nil || !rep.OK() {
		t.Fatalf("the package does not verify: %v %v", err, rep.Err())
	}
	for _, name := range []string{"binding_digest", "control_bundle_digest", "binding_control_match", "binding_router_match", "binding_link_match", nexus.CheckWardenSignature} {
		if c, ok := rep.Get(name); !ok || !c.OK {
			t.Errorf("check %s: %+v", name, c)
		}
	}
	// A re-forged package without the key fails the signature check.
	var forged map[string]any
	json.Unmarshal(raw, &forged)
	forged["binding"].(map[string]any)["router_digest"] = "sha256:" + strings.Repeat("0", 64)
	b, _ := json.Marshal(forged)
	if rep, err := nexus.Verify(b, nexus.VerifyOptions{PublicKey: pub}); err != nil || rep.OK() {
		t.Errorf("a tampered package verifies: %v", err)
	} else if c, _ := rep.Get("binding_digest"); c.OK {
		t.Errorf("binding_digest passes after tampering")
	}

	// Embedded mode carries Warden's record of the run.
	got = f.ok(ToolExportAuditPackage, map[string]any{"decision_id": id, "embed_router_bundle": true, "render": false})
	if get(got, "package", "router", "mode") != "embedded" || get(got, "package", "router", "bundle", "run_id") != "run-001" || got["rendered"] != nil {
		t.Errorf("embedded: %v", got["package"])
	}
	if rep, err := nexus.Verify(bundleOf(t, got, "package"), nexus.VerifyOptions{PublicKey: pub}); err != nil || !rep.OK() {
		t.Errorf("embedded package: %v %v", err, rep.Err())
	}
	// A router bundle or digest from the caller must be the run's.
	got = f.ok(ToolExportAuditPackage, map[string]any{"decision_id": id, "router_bundle": map[string]any{
		"run_id": "run-001", "integrity": map[string]any{"alg": "sha256", "canonical_digest": run["response_digest"]}}})
	if get(got, "package", "router", "mode") != "embedded" {
		t.Errorf("with a matching router bundle: %v", got["package"])
	}
	got = f.ok(ToolExportAuditPackage, map[string]any{"decision_id": id, "router_bundle_digest": run["response_digest"]})
	if get(got, "package", "binding", "router_digest") != run["response_digest"] {
		t.Errorf("with the matching digest: %v", got["package"])
	}
	zeros := "sha256:" + strings.Repeat("0", 64)
	for _, args := range []map[string]any{
		{"decision_id": id, "embed_router_bundle": true, "router_bundle": map[string]any{"integrity": map[string]any{"canonical_digest": zeros}}},
		{"decision_id": id, "router_bundle_digest": "sha256:" + strings.Repeat("ab", 32)},
		// Warden differs: it never binds a router digest it did not
		// record, whatever verify_router_bundle_digest says.
		{"decision_id": id, "router_bundle_digest": zeros, "verify_router_bundle_digest": false},
	} {
		r := f.fail("ROUTER_DIGEST_MISMATCH", ToolExportAuditPackage, args)
		if r.Error.Details["expected"] != run["response_digest"] {
			t.Errorf("mismatch details %v", r.Error.Details)
		}
	}
	wantFields(t, f.fail("INVALID_INPUT", ToolExportAuditPackage, map[string]any{"decision_id": id, "router_bundle": map[string]any{"run_id": "x"}}),
		"router_bundle.integrity.canonical_digest")

	// A failed execution has no router link.
	id = f.req(1)
	f.approve(id, "alice")
	f.exec.Err = errors.New("boom")
	f.fail("ROUTER_ERROR", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	f.exec.Err = nil
	f.fail("NO_ROUTER_LINK", ToolExportAuditPackage, map[string]any{"decision_id": id})
}

package nexus

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A document decoded generically, for editing by path.
type tree = any

func decodeTree(t testing.TB, data []byte) tree {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v tree
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// leaf is one scalar (or empty container) of a document and its path.
type leaf struct {
	path  string
	steps []any // string keys and int indices
	value any
}

func leaves(v tree) []leaf {
	var out []leaf
	var walk func(v tree, path string, steps []any)
	walk = func(v tree, path string, steps []any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				break
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(x[k], joinPath(path, k), append(slices.Clip(steps), k))
			}
			return
		case []any:
			if len(x) == 0 {
				break
			}
			for i, e := range x {
				walk(e, indexPath(path, i), append(slices.Clip(steps), i))
			}
			return
		}
		out = append(out, leaf{path: path, steps: steps, value: v})
	}
	walk(v, "", nil)
	return out
}

// altered returns a different value of the same kind where possible.
func altered(v any) any {
	switch x := v.(type) {
	case string:
		return x + "x"
	case bool:
		return !x
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return json.Number(strconv.FormatInt(n+1, 10))
		}
		f, _ := x.Float64()
		return json.Number(strconv.FormatFloat(f+0.5, 'g', -1, 64))
	case nil:
		return "tampered"
	case []any:
		return []any{"tampered"}
	case map[string]any:
		return map[string]any{"tampered": true}
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// setPath returns a deep copy of v with the value at steps replaced.
func setPath(t testing.TB, v tree, steps []any, nv any) tree {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	cp := decodeTree(t, b)
	cur := cp
	for i, s := range steps {
		last := i == len(steps)-1
		switch k := s.(type) {
		case string:
			m := cur.(map[string]any)
			if last {
				m[k] = nv
			} else {
				cur = m[k]
			}
		case int:
			a := cur.([]any)
			if last {
				a[k] = nv
			} else {
				cur = a[k]
			}
		}
	}
	return cp
}

func encodeTree(t testing.TB, v tree) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rule maps a path pattern to the checks that must fail, and only those.
// In patterns "*" is an index and "**" any rest of the path.
type rule struct {
	pattern string
	fail    []string
}

func matchRule(rules []rule, path string) (rule, bool) {
	for _, r := range rules {
		re := regexp.QuoteMeta(r.pattern)
		re = strings.ReplaceAll(re, `\*\*`, `.*`)
		re = strings.ReplaceAll(re, `\*`, `\d+`)
		if regexp.MustCompile("^" + re + "$").MatchString(path) {
			return r, true
		}
	}
	return rule{}, false
}

// bundleRules give, for every field of the golden bundle, the checks
// that fail when it alone is altered. The first matching rule applies.
var bundleRules = func() []rule {
	const B, E = CheckBundleDigest, CheckEventDigests
	replayBroken := []string{B, E, CheckReplay, CheckDecisionHeader, CheckRouterLink}
	return []rule{
		{"bundle_version", []string{B, CheckBundleVersion}},
		{"decision.decision_id", []string{B, CheckEventIdentity, CheckRouterLink, CheckProvenance}},
		{"decision.**", []string{B, CheckDecisionHeader}},
		{"events[*].event_id", []string{B, CheckEventIdentity}},
		{"events[*].decision_id", []string{B, CheckEventIdentity}},
		{"events[*].seq", []string{B, CheckEventSequence, CheckEventIdentity}},
		{"events[*].type", []string{B, E, CheckReplay, CheckDecisionHeader, CheckRouterLink}},
		{"events[0].ts", []string{B, CheckDecisionHeader}}, // created_at is the first event's ts
		{"events[*].ts", []string{B}},                      // not covered by any digest but the bundle's
		{"events[*].actor.**", []string{B}},                // idem
		{"events[*].digest", []string{B, E}},
		{"events[0].payload.goal", []string{B, E, CheckDecisionHeader}},
		{"events[0].payload.requested_mode", []string{B, E, CheckDecisionHeader}},
		{"events[1].payload.allowed_modes[*]", replayBroken}, // invalid mode
		{"events[1].payload.max_steps", replayBroken},        // null → a string
		{"events[2].payload.expires_at", replayBroken},       // null → not a timestamp
		{"events[3].payload.adapter_id", []string{B, E, CheckRouterLink}},
		{"events[4].payload.router_request_digest", []string{B, E, CheckRouterLink}},
		{"events[5].payload.response_digest", []string{B, E, CheckRouterLink}},
		{"events[5].payload.run_id", []string{B, E, CheckRouterLink}},
		{"events[*].payload.**", []string{B, E}},
		{"template_snapshot.present", []string{B, CheckTemplateSnapshot}},
		{"router_link.**", []string{B, CheckRouterLink}},
		{"integrity.alg", []string{B}},
		{"integrity.canonical_digest", []string{B, CheckProvenance}},
		{"provenance.**", []string{CheckProvenance}},
		// meta is outside every digest, in nexus-control's design: altering
		// exported_at only changes the clock approvals are counted at.
		{"meta.exported_at", nil},
	}
}()

func failedNames(r *Report) []string {
	out := []string{}
	for _, c := range r.Failed() {
		out = append(out, c.Name)
		if c.Message == "" {
			panic("failed check " + c.Name + " has no message")
		}
	}
	slices.Sort(out)
	return out
}

func sorted(names []string) []string {
	out := append([]string{}, names...)
	slices.Sort(out)
	return out
}

func without(names []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(drop, n) })
}

// TestTamperBundle alters every field of the golden bundle in turn and
// checks that exactly the right checks fail, by name: first as is, then
// re-forged (digest and provenance recomputed after the edit), where only
// the semantic checks can catch the edit.
func TestTamperBundle(t *testing.T) {
	data := readFile(t, filepath.Join(goldenDir, "bundle-d-1.json"))
	orig := decodeTree(t, data)
	ls := leaves(orig)
	if len(ls) < 80 {
		t.Fatalf("only %d fields", len(ls))
	}
	for _, l := range ls {
		r, ok := matchRule(bundleRules, l.path)
		if !ok {
			t.Errorf("%s: no tampering rule", l.path)
			continue
		}
		nv := altered(l.value)
		t.Run(l.path, func(t *testing.T) {
			doc := encodeTree(t, setPath(t, orig, l.steps, nv))
			b, err := ParseBundle(doc)
			if err != nil {
				t.Fatalf("altered bundle does not parse: %v", err)
			}
			rep := VerifyBundle(b, VerifyOptions{})
			if diff := cmp.Diff(sorted(r.fail), failedNames(rep)); diff != "" {
				t.Errorf("%s → %v: failed checks (-want +got):\n%s\n%v", l.path, nv, diff, rep.Err())
			}
			// Re-forged: the digests no longer catch the edit.
			if err := b.Seal(); err != nil {
				t.Fatal(err)
			}
			rep = VerifyBundle(b, VerifyOptions{})
			want := without(r.fail, CheckBundleDigest, CheckProvenance)
			if diff := cmp.Diff(sorted(want), failedNames(rep)); diff != "" {
				t.Errorf("%s → %v re-forged: failed checks (-want +got):\n%s\n%v", l.path, nv, diff, rep.Err())
			}
		})
	}
}

// packageExtra lists, for fields of the audit package's control bundle,
// the package checks that fail besides the control bundle's own.
var packageExtra = []rule{
	{"control_bundle.integrity.canonical_digest", []string{CheckBindingControlMatch}},
	{"control_bundle.router_link.control_router_link_digest", []string{CheckBindingLinkMatch}},
	{"control_bundle.router_link.run_id", []string{CheckRouterRunMatch}},
	{"control_bundle.decision.decision_id", []string{CheckProvenance}},
	{"control_bundle.**", nil},
}

// packageRules give the checks that fail for the package's own fields.
var packageRules = []rule{
	{"package_version", []string{CheckBindingDigest, CheckPackageVersion}},
	{"router.mode", []string{CheckBindingRouterMatch}},
	{"router.ref.run_id", []string{CheckRouterRunMatch}},
	{"router.ref.digest", []string{CheckBindingRouterMatch}},
	{"binding.control_digest", []string{CheckBindingDigest, CheckBindingControlMatch}},
	{"binding.router_digest", []string{CheckBindingDigest, CheckBindingRouterMatch}},
	{"binding.control_router_link_digest", []string{CheckBindingDigest, CheckBindingLinkMatch}},
	{"integrity.alg", []string{CheckBindingDigest}},
	{"integrity.binding_digest", []string{CheckBindingDigest, CheckProvenance}},
	{"provenance.**", []string{CheckProvenance}},
	{"meta.exported_at", nil}, // outside every digest, as in a bundle
	{"warden.**", []string{CheckWardenSignature}},
}

// packageWant returns the checks that must fail when path alone is altered
// in the audit package.
func packageWant(t *testing.T, path string) ([]string, bool) {
	if inner, ok := strings.CutPrefix(path, "control_bundle."); ok {
		br, ok := matchRule(bundleRules, inner)
		if !ok {
			return nil, false
		}
		var want []string
		for _, n := range br.fail {
			if n == CheckBundleDigest {
				want = append(want, CheckControlBundleDigest)
			} else {
				want = append(want, ControlBundlePrefix+n)
			}
		}
		extra, _ := matchRule(packageExtra, path)
		return append(want, extra.fail...), true
	}
	r, ok := matchRule(packageRules, path)
	return r.fail, ok
}

// testKey is the deterministic signing key of the tests.
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// signedFixture returns the golden audit package with a complete
// Warden extension, signed with testKey.
func signedFixture(t testing.TB) *AuditPackage {
	t.Helper()
	p, err := ParseAuditPackage(readFile(t, filepath.Join(goldenDir, "audit-d-1-reference.json")))
	if err != nil {
		t.Fatal(err)
	}
	action := "sha256:" + strings.Repeat("ab", 32)
	bob := "token:bob@example.org"
	p.Warden = &WardenExtension{
		ActionDigest:    &action,
		Approvers:       []ApproverIdentity{{Actor: Actor{Type: "human", ID: "bob"}, Identity: &bob}},
		Checkpoint:      json.RawMessage(`"warden.example/ledger\n42\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"`),
		InclusionProofs: json.RawMessage(`[{"index":7,"hashes":["AAAA","BBBB"]}]`),
	}
	if err := SignAuditPackage(p, testKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTamperAuditPackage alters every field of the golden audit
// package, with a Warden extension and signature, in turn: exactly the
// right checks fail, by name. Then each edit is re-forged (every digest
// recomputed, without the signing key): the unkeyed checks pass, and the
// signature check fails whenever the binding changed.
func TestTamperAuditPackage(t *testing.T) {
	signed := signedFixture(t)
	raw, err := signed.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	if r := VerifyAuditPackage(signed, VerifyOptions{PublicKey: pub}); !r.OK() {
		t.Fatalf("signed fixture does not verify: %v", r.Err())
	}
	orig := decodeTree(t, raw)
	ls := leaves(orig)
	if len(ls) < 100 {
		t.Fatalf("only %d fields", len(ls))
	}
	for _, l := range ls {
		want, ok := packageWant(t, l.path)
		if !ok {
			t.Errorf("%s: no tampering rule", l.path)
			continue
		}
		if l.path == "integrity.binding_digest" {
			want = append(slices.Clone(want), CheckWardenSignature)
		}
		nv := altered(l.value)
		t.Run(l.path, func(t *testing.T) {
			doc := encodeTree(t, setPath(t, orig, l.steps, nv))
			p, err := ParseAuditPackage(doc)
			if err != nil {
				t.Fatalf("altered package does not parse: %v", err)
			}
			rep := VerifyAuditPackage(p, VerifyOptions{PublicKey: pub})
			if diff := cmp.Diff(sorted(want), failedNames(rep)); diff != "" {
				t.Errorf("%s → %v: failed checks (-want +got):\n%s\n%v", l.path, nv, diff, rep.Err())
			}
			// Re-forge everything unkeyed.
			reforge(t, p)
			rep = VerifyAuditPackage(p, VerifyOptions{PublicKey: pub})
			for _, name := range []string{CheckBindingDigest, CheckControlBundleDigest, CheckBindingControlMatch, CheckBindingLinkMatch} {
				if c, _ := rep.Get(name); !c.OK {
					t.Errorf("re-forged: %s fails: %s", name, c.Message)
				}
			}
			sig, _ := rep.Get(CheckWardenSignature)
			changed := p.Integrity.BindingDigest != signed.Integrity.BindingDigest || strings.HasPrefix(l.path, "warden.")
			if changed && sig.OK {
				t.Errorf("re-forged %s → %v: the signature still verifies", l.path, nv)
			}
			if !changed && !sig.OK {
				t.Errorf("re-forged %s → %v left the signed content unchanged, yet: %s", l.path, nv, sig.Message)
			}
		})
	}
}

// reforge recomputes every unkeyed digest of p after an edit, as a forger
// without the signing key would.
func reforge(t testing.TB, p *AuditPackage) {
	t.Helper()
	if err := p.ControlBundle.Seal(); err != nil {
		t.Fatal(err)
	}
	p.Binding.ControlDigest = p.ControlBundle.Integrity.CanonicalDigest
	if l := p.ControlBundle.RouterLink; l != nil && l.ControlRouterLinkDigest != nil {
		p.Binding.ControlRouterLinkDigest = *l.ControlRouterLinkDigest
	}
	p.Seal()
}

// TestTamperAuditPackageUnsigned runs the same edits on the package as
// nexus-control exported it (no Warden extension, no key): the same checks
// fail, and no signature check is reported.
func TestTamperAuditPackageUnsigned(t *testing.T) {
	data := readFile(t, filepath.Join(goldenDir, "audit-d-1-reference.json"))
	orig := decodeTree(t, data)
	for _, l := range leaves(orig) {
		want, ok := packageWant(t, l.path)
		if !ok {
			t.Errorf("%s: no tampering rule", l.path)
			continue
		}
		p, err := ParseAuditPackage(encodeTree(t, setPath(t, orig, l.steps, altered(l.value))))
		if err != nil {
			t.Fatalf("%s: %v", l.path, err)
		}
		rep := VerifyAuditPackage(p, VerifyOptions{})
		if diff := cmp.Diff(sorted(want), failedNames(rep)); diff != "" {
			t.Errorf("%s: failed checks (-want +got):\n%s", l.path, diff)
		}
		if _, ok := rep.Get(CheckWardenSignature); ok {
			t.Errorf("%s: unsigned package reports a signature check", l.path)
		}
	}
}

// TestReforgedApproverChange is the attack unkeyed digests cannot stop:
// an approval's actor replaced and every digest recomputed. Every check
// passes except the Warden signature.
func TestReforgedApproverChange(t *testing.T) {
	p := signedFixture(t)
	p.ControlBundle.Events[2].Actor.ID = "mallory"
	reforge(t, p)
	rep := VerifyAuditPackage(p, VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey)})
	if diff := cmp.Diff([]string{CheckWardenSignature}, failedNames(rep)); diff != "" {
		t.Errorf("failed checks (-want +got):\n%s", diff)
	}
	// Re-signing with another key does not help the forger either.
	_, other, _ := ed25519.GenerateKey(nil)
	if err := SignAuditPackage(p, other); err != nil {
		t.Fatal(err)
	}
	rep = VerifyAuditPackage(p, VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey)})
	c, _ := rep.Get(CheckWardenSignature)
	if c.OK || !strings.Contains(c.Message, "another key") {
		t.Errorf("re-signed with another key: %+v", c)
	}
	// Nor does removing the key id.
	p.Warden.Signature.KeyID = nil
	rep = VerifyAuditPackage(p, VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey), Now: time.Now()})
	if c, _ := rep.Get(CheckWardenSignature); c.OK {
		t.Error("signature by another key without key id verifies")
	}
}

package nexus

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Names of the checks of a bundle report. An audit package report carries
// them too, for its control bundle, prefixed with [ControlBundlePrefix].
const (
	// CheckBundleVersion names the check that bundle_version is "0.5".
	CheckBundleVersion = "bundle_version"
	// CheckEventDigests names the check that every event's digest matches
	// its type and payload.
	CheckEventDigests = "event_digests"
	// CheckEventSequence names the check that events are in seq order 0, 1,
	// 2, … without gap or repeat.
	CheckEventSequence = "event_sequence"
	// CheckEventIdentity names the check that every event's decision_id and
	// event_id match the header.
	CheckEventIdentity = "event_identity"
	// CheckBundleDigest names the check that integrity.canonical_digest
	// matches the content.
	CheckBundleDigest = "bundle_digest"
	// CheckReplay names the check that the events replay into a decision state.
	CheckReplay = "replay"
	// CheckDecisionHeader names the check that the header matches the
	// replayed decision.
	CheckDecisionHeader = "decision_header"
	// CheckTemplateSnapshot names the check that the template section
	// matches the POLICY_ATTACHED event.
	CheckTemplateSnapshot = "template_snapshot"
	// CheckRouterLink names the check that the router link matches the
	// latest execution and that its link digest recomputes.
	CheckRouterLink = "router_link"
	// CheckProvenance names the check that provenance records match the
	// decision and the stored digest.
	CheckProvenance = "provenance"
)

// Names of the checks of an audit package report. The first six are
// nexus-control's own; CheckRouterDigest is reported in embedded mode only.
const (
	// CheckBindingDigest names the check that integrity.binding_digest
	// matches the binding.
	CheckBindingDigest = "binding_digest"
	// CheckControlBundleDigest names the check that the control bundle's
	// digest matches its content.
	CheckControlBundleDigest = "control_bundle_digest"
	// CheckBindingControlMatch names the check that binding.control_digest is
	// the control bundle's digest.
	CheckBindingControlMatch = "binding_control_match"
	// CheckBindingRouterMatch names the check that binding.router_digest is
	// the router section's digest.
	CheckBindingRouterMatch = "binding_router_match"
	// CheckBindingLinkMatch names the check that
	// binding.control_router_link_digest is the control bundle's link digest.
	CheckBindingLinkMatch = "binding_link_match"
	// CheckRouterDigest names the check that the embedded router bundle
	// declares integrity.canonical_digest (its body is not hashed).
	CheckRouterDigest = "router_digest"
	// CheckPackageVersion names the check that package_version is "0.6".
	CheckPackageVersion = "package_version"
	// CheckRouterRunMatch names the check, in reference mode, that
	// router.ref.run_id is the control bundle's run id.
	CheckRouterRunMatch = "router_run_match"
	// CheckWardenSignature names the check that the Warden Ed25519 signature
	// verifies with the caller's key.
	CheckWardenSignature = "warden_signature"
)

// ControlBundlePrefix prefixes the bundle checks of an audit package's
// control bundle, as in "control_bundle.event_digests".
const ControlBundlePrefix = "control_bundle."

// Report subjects.
const (
	// SubjectBundle is the subject of a report on a bundle.
	SubjectBundle = "bundle"
	// SubjectAuditPackage is the subject of a report on an audit package.
	SubjectAuditPackage = "audit_package"
)

// Check is the outcome of one named verification.
type Check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Message  string `json:"message"`            // what was checked, or what is wrong
	Expected string `json:"expected,omitempty"` // on failure, the value that was expected, when there is one
	Actual   string `json:"actual,omitempty"`   // on failure, the value found
}

func (c Check) pass(msg string) Check {
	c.OK, c.Message = true, msg
	return c
}

func (c Check) fail(msg string) Check {
	c.OK, c.Message = false, msg
	return c
}

func (c Check) mismatch(msg, expected, actual string) Check {
	c.OK, c.Message, c.Expected, c.Actual = false, msg, expected, actual
	return c
}

// Report is the outcome of verifying a bundle or an audit package: every
// check, each by name, in a fixed order. Checks run independently, so one
// failure does not hide another.
type Report struct {
	Subject  string    // SubjectBundle or SubjectAuditPackage
	Checks   []Check   // in order
	Digest   string    // the recomputed bundle digest or binding digest, "sha256:<hex>"
	Decision *Decision // the (control) bundle's events replayed; nil when they do not replay
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Add appends a check. Further checks, such as the ones of Warden's
// ledger, are added this way.
func (r *Report) Add(c Check) { r.Checks = append(r.Checks, c) }

// Get returns the check named name.
func (r *Report) Get(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Failed returns the checks that failed, in order.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Err returns nil when every check passed, else an error naming each
// failed check and its message.
func (r *Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	parts := make([]string, len(failed))
	for i, c := range failed {
		parts[i] = c.Name + ": " + c.Message
	}
	return fmt.Errorf("nexus: %s failed %d of %d checks: %s", strings.ReplaceAll(r.Subject, "_", " "),
		len(failed), len(r.Checks), strings.Join(parts, "; "))
}

// MarshalJSON writes {subject, ok, digest, checks, passed, failed, total}.
func (r *Report) MarshalJSON() ([]byte, error) {
	failed := len(r.Failed())
	checks := r.Checks
	if checks == nil {
		checks = []Check{}
	}
	return json.Marshal(struct {
		Subject string  `json:"subject"`
		OK      bool    `json:"ok"`
		Digest  string  `json:"digest,omitempty"`
		Checks  []Check `json:"checks"`
		Passed  int     `json:"passed"`
		Failed  int     `json:"failed"`
		Total   int     `json:"total"`
	}{r.Subject, failed == 0, r.Digest, checks, len(r.Checks) - failed, failed, len(r.Checks)})
}

// AuditCheck is a further check of an audit package, run after the
// built-in ones with the report so far (whose Decision is the replayed
// control bundle). Warden's ledger checks (checkpoint, inclusion proofs)
// plug in this way.
type AuditCheck func(p *AuditPackage, r *Report) Check

// VerifyOptions tunes verification.
type VerifyOptions struct {
	// Now is the time approvals are counted at when events are replayed.
	// Zero is the document's meta.exported_at, so that a bundle verifies
	// as of its export, or the current time when it has none. No digest
	// covers meta: a caller that acts on Report.Decision.State (rather
	// than on the checks) should set Now.
	Now time.Time
	// PublicKey verifies the Warden signature of an audit package. When it
	// is set, a package without a signature fails CheckWardenSignature;
	// when it is not, a package with one fails it too (it cannot be
	// verified). Packages without a signature and callers without a key
	// get no signature check.
	PublicKey ed25519.PublicKey
	// AuditChecks are appended to audit package reports.
	AuditChecks []AuditCheck
}

// clock returns the time to replay at.
func clock(opts VerifyOptions, metas ...*Meta) time.Time {
	if !opts.Now.IsZero() {
		return opts.Now
	}
	for _, m := range metas {
		if m != nil && m.ExportedAt != nil {
			if t, err := parseTimestamp(*m.ExportedAt); err == nil {
				return t
			}
		}
	}
	return time.Now()
}

// Verify detects whether data is a bundle (it has bundle_version) or an
// audit package (package_version), parses it and verifies it. The error
// reports a document that is neither or does not parse.
func Verify(data []byte, opts VerifyOptions) (*Report, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	switch {
	case v.get("package_version") != nil:
		p, err := ParseAuditPackage(data)
		if err != nil {
			return nil, err
		}
		return VerifyAuditPackage(p, opts), nil
	case v.get("bundle_version") != nil:
		b, err := ParseBundle(data)
		if err != nil {
			return nil, err
		}
		return VerifyBundle(b, opts), nil
	}
	return nil, errors.New("nexus: neither a bundle (no bundle_version) nor an audit package (no package_version)")
}

// VerifyBundle verifies a bundle and reports every check of it: the
// version, every event digest, the seq order, event ids, the bundle digest
// (recomputed over the content as it is, unknown fields included), the
// replay of the events, and the header, template section, router link and
// provenance against the replay and the digest.
func VerifyBundle(b *Bundle, opts VerifyOptions) *Report {
	r := &Report{Subject: SubjectBundle}
	checks, dec, digest := bundleChecks(b, clock(opts, b.Meta), true)
	r.Checks, r.Decision, r.Digest = checks, dec, digest
	return r
}

// bundleChecks runs the checks of a bundle. withDigest adds the bundle
// digest check (an audit package has its own).
func bundleChecks(b *Bundle, now time.Time, withDigest bool) ([]Check, *Decision, string) {
	id := b.Decision.DecisionID
	var checks []Check

	c := Check{Name: CheckBundleVersion}
	if b.BundleVersion == BundleVersion {
		checks = append(checks, c.pass("bundle_version is "+BundleVersion))
	} else {
		checks = append(checks, c.mismatch("unsupported bundle_version", BundleVersion, b.BundleVersion))
	}

	checks = append(checks, eventDigestsCheck(b.Events), eventSequenceCheck(b.Events), eventIdentityCheck(id, b.Events))

	digest, derr := b.ComputeDigest()
	if withDigest {
		checks = append(checks, bundleDigestCheck(CheckBundleDigest, b, digest, derr))
	}

	dec, rerr := Replay(id, b.Events, now)
	c = Check{Name: CheckReplay}
	if rerr != nil {
		checks = append(checks, c.fail("the events do not replay: "+rerr.Error()))
	} else {
		active := 0
		if dec.Policy != nil {
			active = dec.ActiveApprovals(now)
		}
		msg := fmt.Sprintf("%d events replay to state %s at %s", dec.EventCount, dec.State, FormatTimestamp(now))
		if dec.Policy != nil {
			msg += fmt.Sprintf(" with %d of %d required approvals active", active, dec.Policy.MinApprovals)
		}
		checks = append(checks, c.pass(msg))
	}

	checks = append(checks, headerCheck(b, dec, now), templateCheck(b, dec), routerLinkCheck(b, dec),
		provenanceCheck(CheckProvenance, b.Provenance, BundleMethodID, id, b.Integrity.CanonicalDigest, "bundle:"))
	if derr != nil {
		digest = ""
	}
	return checks, dec, digest
}

// describeEvent names an event for messages.
func describeEvent(i int, e *Event) string {
	return fmt.Sprintf("events[%d] (seq %d, %s)", i, e.Seq, e.Type)
}

func eventDigestsCheck(events []Event) Check {
	c := Check{Name: CheckEventDigests}
	var bad []string
	for i := range events {
		e := &events[i]
		got, err := EventDigest(e.Type, e.Payload)
		switch {
		case err != nil:
			bad = append(bad, describeEvent(i, e)+": payload cannot be canonicalised: "+err.Error())
		case got != e.Digest:
			if c.Expected == "" {
				c.Expected, c.Actual = e.Digest, got
			}
			bad = append(bad, fmt.Sprintf("%s: stored digest %s, recomputed %s", describeEvent(i, e), short(e.Digest), short(got)))
		}
	}
	if len(bad) > 0 {
		return c.fail(summarise(bad))
	}
	return c.pass(fmt.Sprintf("all %d event digests match sha256({event_type, payload})", len(events)))
}

func eventSequenceCheck(events []Event) Check {
	c := Check{Name: CheckEventSequence}
	for i := range events {
		s := events[i].Seq
		if s == int64(i) {
			continue
		}
		switch {
		case i == 0:
			return c.mismatch(fmt.Sprintf("the event sequence must start at 0, got %d", s), "0", strconv.FormatInt(s, 10))
		case s == events[i-1].Seq:
			return c.mismatch(fmt.Sprintf("events[%d] repeats seq %d", i, s), strconv.Itoa(i), strconv.FormatInt(s, 10))
		case s < int64(i):
			return c.mismatch(fmt.Sprintf("events[%d] has seq %d: events are out of order", i, s), strconv.Itoa(i), strconv.FormatInt(s, 10))
		default:
			return c.mismatch(fmt.Sprintf("event sequence gap at events[%d]: expected seq %d, got %d", i, i, s), strconv.Itoa(i), strconv.FormatInt(s, 10))
		}
	}
	return c.pass(fmt.Sprintf("%d events in seq order 0..%d without gap", len(events), len(events)-1))
}

func eventIdentityCheck(id string, events []Event) Check {
	c := Check{Name: CheckEventIdentity}
	var bad []string
	for i := range events {
		e := &events[i]
		if e.DecisionID != id {
			bad = append(bad, fmt.Sprintf("%s: decision_id %q, header says %q", describeEvent(i, e), e.DecisionID, id))
		}
		if want := "evt_" + id + "_" + strconv.FormatInt(e.Seq, 10); e.EventID != want {
			bad = append(bad, fmt.Sprintf("%s: event_id %q, want %q", describeEvent(i, e), e.EventID, want))
		}
	}
	if len(bad) > 0 {
		return c.fail(summarise(bad))
	}
	return c.pass("every event belongs to decision " + id + " and has event id evt_<decision_id>_<seq>")
}

func bundleDigestCheck(name string, b *Bundle, digest string, err error) Check {
	c := Check{Name: name}
	switch {
	case err != nil:
		return c.fail("the content cannot be canonicalised: " + err.Error())
	case b.Integrity.Alg != "sha256":
		return c.mismatch("integrity.alg must be sha256", "sha256", b.Integrity.Alg)
	case StripDigestPrefix(b.Integrity.CanonicalDigest) != StripDigestPrefix(digest):
		return c.mismatch("integrity.canonical_digest does not match the digest recomputed from the content",
			b.Integrity.CanonicalDigest, digest)
	}
	return c.pass("integrity.canonical_digest matches the digest recomputed from the content")
}

func headerCheck(b *Bundle, dec *Decision, now time.Time) Check {
	c := Check{Name: CheckDecisionHeader}
	if dec == nil {
		return c.fail("not checked: the events do not replay")
	}
	want, got := dec.Header(), b.Decision
	var bad []string
	add := func(field, w, g string) {
		if w != g {
			bad = append(bad, fmt.Sprintf("decision.%s is %s, the events give %s", field, g, w))
			if c.Expected == "" {
				c.Expected, c.Actual = w, g
			}
		}
	}
	add("goal", quoteOrNull(want.Goal), quoteOrNull(got.Goal))
	add("mode", strconv.Quote(want.Mode), strconv.Quote(got.Mode))
	add("created_at", strconv.Quote(want.CreatedAt), strconv.Quote(got.CreatedAt))
	add("status", strconv.Quote(want.Status), strconv.Quote(got.Status))
	if len(bad) > 0 {
		return c.fail(strings.Join(bad, "; ") + " (replayed at " + FormatTimestamp(now) + ")")
	}
	return c.pass("goal, mode, created_at and status match the replayed events")
}

func templateCheck(b *Bundle, dec *Decision) Check {
	c := Check{Name: CheckTemplateSnapshot}
	t := b.TemplateSnapshot
	if t == nil {
		return c.pass("no template section")
	}
	if !t.Present {
		if t.Name != nil || t.Digest != nil || t.Snapshot != nil || t.Overrides != nil {
			return c.fail("template_snapshot.present is false but it has template fields")
		}
		return c.pass("no template snapshot included")
	}
	if dec == nil {
		return c.fail("not checked: the events do not replay")
	}
	if dec.Template == nil {
		return c.fail("template_snapshot is present but no POLICY_ATTACHED event names a template")
	}
	want := dec.TemplateSnapshot()
	var bad []string
	if quoteOrNull(t.Name) != quoteOrNull(want.Name) {
		bad = append(bad, fmt.Sprintf("name is %s, the events give %s", quoteOrNull(t.Name), quoteOrNull(want.Name)))
	}
	if quoteOrNull(t.Digest) != quoteOrNull(want.Digest) {
		bad = append(bad, fmt.Sprintf("digest is %s, the events give %s", quoteOrNull(t.Digest), quoteOrNull(want.Digest)))
	}
	if !sameJSON(t.Snapshot, want.Snapshot) {
		bad = append(bad, "snapshot differs from the POLICY_ATTACHED template_snapshot")
	}
	if !sameJSON(t.Overrides, want.Overrides) {
		bad = append(bad, "overrides differ from the POLICY_ATTACHED overrides_applied")
	}
	if len(bad) > 0 {
		return c.fail(strings.Join(bad, "; "))
	}
	return c.pass("template " + *t.Name + " matches the POLICY_ATTACHED event")
}

func routerLinkCheck(b *Bundle, dec *Decision) Check {
	c := Check{Name: CheckRouterLink}
	l := b.RouterLink
	if l == nil || l.IsEmpty() {
		return c.pass("no router link included")
	}
	var bad []string
	if l.RunID != nil {
		var req, res *string
		if l.RouterRequestDigest != nil {
			s := StripDigestPrefix(*l.RouterRequestDigest)
			req = &s
		}
		if l.RouterResultDigest != nil {
			s := StripDigestPrefix(*l.RouterResultDigest)
			res = &s
		}
		want := PrefixDigest(RouterLinkDigest(b.Decision.DecisionID, *l.RunID, req, res))
		if l.ControlRouterLinkDigest == nil || *l.ControlRouterLinkDigest != want {
			c.Expected, c.Actual = want, quoteOrNull(l.ControlRouterLinkDigest)
			bad = append(bad, "control_router_link_digest does not match the digest recomputed from decision_id, run_id and the router digests")
		}
	} else if l.ControlRouterLinkDigest != nil {
		bad = append(bad, "control_router_link_digest is set without a run_id")
	}
	if dec == nil {
		bad = append(bad, "not compared with the events: they do not replay")
	} else {
		want := dec.RouterLink()
		cmp := func(field string, w, g *string) {
			if quoteOrNull(w) != quoteOrNull(g) {
				bad = append(bad, fmt.Sprintf("%s is %s, the latest execution gives %s", field, quoteOrNull(g), quoteOrNull(w)))
			}
		}
		cmp("run_id", want.RunID, l.RunID)
		cmp("adapter_id", want.AdapterID, l.AdapterID)
		cmp("router_request_digest", want.RouterRequestDigest, l.RouterRequestDigest)
		cmp("router_result_digest", want.RouterResultDigest, l.RouterResultDigest)
		cmp("control_router_link_digest", want.ControlRouterLinkDigest, l.ControlRouterLinkDigest)
	}
	if len(bad) > 0 {
		return c.fail(strings.Join(bad, "; "))
	}
	return c.pass("router_link matches the latest execution and its link digest recomputes")
}

// provenanceCheck checks that every provenance record is one of method
// methodID and matches the decision and the stored digest.
func provenanceCheck(name string, p *Provenance, methodID, id, digest, outputKind string) Check {
	c := Check{Name: name}
	if p == nil {
		return c.pass("no provenance section")
	}
	n := 0
	var bad []string
	for i, rec := range p.Records {
		where := "provenance.records[" + strconv.Itoa(i) + "]"
		if rec.MethodID != methodID {
			bad = append(bad, fmt.Sprintf("%s.method_id is %q, want %q", where, rec.MethodID, methodID))
			continue
		}
		n++
		if want := ProvID(id, digest); rec.ProvID != want {
			bad = append(bad, fmt.Sprintf("%s.prov_id is %q, want %q", where, rec.ProvID, want))
		}
		if want := []string{"decision:" + id}; !slices.Equal(rec.Inputs, want) {
			bad = append(bad, fmt.Sprintf("%s.inputs is %q, want %q", where, rec.Inputs, want))
		}
		if want := []string{outputKind + digest}; !slices.Equal(rec.Outputs, want) {
			bad = append(bad, fmt.Sprintf("%s.outputs is %q, want %q", where, rec.Outputs, want))
		}
	}
	if len(bad) > 0 {
		return c.fail(strings.Join(bad, "; "))
	}
	return c.pass(fmt.Sprintf("%d %s record(s) match the decision and the stored digest", n, methodID))
}

// VerifyAuditPackage verifies an audit package and reports every check at
// once. First nexus-control's six, by their names: binding_digest,
// control_bundle_digest, binding_control_match, binding_router_match,
// binding_link_match and, in embedded mode with a bundle, router_digest.
// Then Warden's: package_version, router_run_match (reference mode),
// provenance, the control bundle's own checks prefixed with
// [ControlBundlePrefix] (its digest being control_bundle_digest), the
// Warden signature when there is one or a key is given, and
// opts.AuditChecks.
func VerifyAuditPackage(p *AuditPackage, opts VerifyOptions) *Report {
	r := &Report{Subject: SubjectAuditPackage}
	cb := &p.ControlBundle
	link := cb.RouterLink

	// 1. binding_digest
	recomputed := BindingDigest(p.PackageVersion, p.Binding.ControlDigest, p.Binding.RouterDigest, p.Binding.ControlRouterLinkDigest)
	r.Digest = PrefixDigest(recomputed)
	c := Check{Name: CheckBindingDigest}
	switch {
	case p.Integrity.Alg != "sha256":
		r.Add(c.mismatch("integrity.alg must be sha256", "sha256", p.Integrity.Alg))
	case StripDigestPrefix(p.Integrity.BindingDigest) != recomputed:
		r.Add(c.mismatch("integrity.binding_digest does not match the digest recomputed from package_version and the binding",
			p.Integrity.BindingDigest, r.Digest))
	default:
		r.Add(c.pass("integrity.binding_digest matches the digest recomputed from package_version and the binding"))
	}

	// 2. control_bundle_digest
	cd, cerr := cb.ComputeDigest()
	r.Add(bundleDigestCheck(CheckControlBundleDigest, cb, cd, cerr))

	// 3. binding_control_match
	c = Check{Name: CheckBindingControlMatch}
	if p.Binding.ControlDigest == cb.Integrity.CanonicalDigest {
		r.Add(c.pass("binding.control_digest is control_bundle.integrity.canonical_digest"))
	} else {
		r.Add(c.mismatch("binding.control_digest must match control_bundle.integrity.canonical_digest",
			cb.Integrity.CanonicalDigest, p.Binding.ControlDigest))
	}

	// 4. binding_router_match
	c = Check{Name: CheckBindingRouterMatch}
	var sectionDigest *string
	var embedded *jvalue
	modeOK := true
	switch p.Router.Mode {
	case RouterModeEmbedded:
		if p.Router.Bundle != nil {
			if v, err := parseJSON(p.Router.Bundle); err == nil {
				embedded = v
				if d := v.get("integrity").get("canonical_digest"); d != nil && d.kind == jString {
					sectionDigest = &d.s
				}
			}
		}
	case RouterModeReference:
		if p.Router.Ref != nil {
			sectionDigest = &p.Router.Ref.Digest
		}
	default:
		modeOK = false
	}
	switch {
	case !modeOK:
		r.Add(c.mismatch("router.mode must be reference or embedded", "reference|embedded", p.Router.Mode))
	case sectionDigest == nil:
		r.Add(c.mismatch("the router section has no digest ("+p.Router.Mode+" mode)", p.Binding.RouterDigest, "null"))
	case *sectionDigest != p.Binding.RouterDigest:
		r.Add(c.mismatch("binding.router_digest must match the router section's digest", *sectionDigest, p.Binding.RouterDigest))
	default:
		r.Add(c.pass("binding.router_digest matches the router section's digest (" + p.Router.Mode + " mode)"))
	}

	// 5. binding_link_match
	c = Check{Name: CheckBindingLinkMatch}
	switch {
	case link == nil || link.ControlRouterLinkDigest == nil:
		r.Add(c.mismatch("the control bundle's router link has no control_router_link_digest", p.Binding.ControlRouterLinkDigest, "null"))
	case *link.ControlRouterLinkDigest != p.Binding.ControlRouterLinkDigest:
		r.Add(c.mismatch("binding.control_router_link_digest must match the control bundle's router link",
			*link.ControlRouterLinkDigest, p.Binding.ControlRouterLinkDigest))
	default:
		r.Add(c.pass("binding.control_router_link_digest matches the control bundle's router link"))
	}

	// 6. router_digest (embedded mode with a bundle)
	if p.Router.Mode == RouterModeEmbedded && p.Router.Bundle != nil {
		c = Check{Name: CheckRouterDigest}
		switch {
		case embedded == nil:
			r.Add(c.fail("the embedded router bundle is not JSON"))
		case embedded.get("integrity") == nil || embedded.get("integrity").kind != jObject:
			r.Add(c.fail("the embedded router bundle has no integrity object"))
		case sectionDigest == nil:
			r.Add(c.fail("the embedded router bundle has no integrity.canonical_digest string"))
		default:
			r.Add(c.pass("the embedded router bundle declares integrity.canonical_digest (its body is not hashed)"))
		}
	}

	// Warden's checks.
	c = Check{Name: CheckPackageVersion}
	if p.PackageVersion == PackageVersion {
		r.Add(c.pass("package_version is " + PackageVersion))
	} else {
		r.Add(c.mismatch("unsupported package_version", PackageVersion, p.PackageVersion))
	}
	if p.Router.Mode == RouterModeReference && p.Router.Ref != nil {
		c = Check{Name: CheckRouterRunMatch}
		if link != nil && link.RunID != nil && *link.RunID == p.Router.Ref.RunID {
			r.Add(c.pass("router.ref.run_id is the control bundle's run id"))
		} else {
			var run *string
			if link != nil {
				run = link.RunID
			}
			r.Add(c.mismatch("router.ref.run_id must match control_bundle.router_link.run_id", quoteOrNull(run), strconv.Quote(p.Router.Ref.RunID)))
		}
	}
	r.Add(provenanceCheck(CheckProvenance, p.Provenance, AuditMethodID, cb.Decision.DecisionID, p.Integrity.BindingDigest, "audit_package:"))

	checks, dec, _ := bundleChecks(cb, clock(opts, cb.Meta, p.Meta), false)
	for _, bc := range checks {
		bc.Name = ControlBundlePrefix + bc.Name
		r.Add(bc)
	}
	r.Decision = dec

	if (p.Warden != nil && p.Warden.Signature != nil) || opts.PublicKey != nil {
		r.Add(checkSignature(p, opts.PublicKey))
	}
	for _, extra := range opts.AuditChecks {
		r.Add(extra(p, r))
	}
	return r
}

// short abbreviates a digest for messages.
func short(d string) string {
	if len(d) > 16 {
		return d[:16] + "…"
	}
	return d
}

// summarise joins problems, listing at most five.
func summarise(problems []string) string {
	if len(problems) <= 5 {
		return strings.Join(problems, "; ")
	}
	return strings.Join(problems[:5], "; ") + fmt.Sprintf("; and %d more", len(problems)-5)
}

func quoteOrNull(s *string) string {
	if s == nil {
		return "null"
	}
	return strconv.Quote(*s)
}

// sameJSON reports whether a and b, absent counting as null, have the same
// canonical form.
func sameJSON(a, b json.RawMessage) bool {
	canon := func(x json.RawMessage) string {
		if len(x) == 0 {
			return "null"
		}
		c, err := Canonical(x)
		if err != nil {
			return "\x00invalid:" + string(x)
		}
		return string(c)
	}
	return canon(a) == canon(b)
}

package nexus

import (
	"encoding/json"
)

// BundleVersion is the bundle_version of the bundle format this package
// reads and writes.
const BundleVersion = "0.5"

// Actor is who caused an event: {"type": "human"|"system", "id": ...}.
// Approvals are counted by ID alone.
type Actor struct {
	Type  string                     // "human" or "system"; not validated, as in nexus-control
	ID    string                     // the actor's identity
	Extra map[string]json.RawMessage // unknown fields, kept as found
}

// Event is one decision event as a bundle carries it. Its digest covers
// only Type and Payload (see [EventDigest]).
type Event struct {
	EventID    string          // "evt_<decision_id>_<seq>"
	DecisionID string          // the decision the event belongs to
	Seq        int64           // 0-based position in the decision's log
	Type       string          // an event type such as "APPROVAL_GRANTED" (JSON key "type")
	Payload    json.RawMessage // the event's payload object, as found
	TS         string          // timestamp, an opaque string (Python isoformat)
	Actor      Actor           // who caused the event
	Digest     string          // 64 hex digits, no prefix
	Extra      map[string]json.RawMessage
}

// BundleDecision is the header of a bundle: the decision as its events
// replayed when it was exported.
type BundleDecision struct {
	DecisionID string
	Goal       *string // nil is null
	Mode       string  // requested mode, "dry_run" when none
	CreatedAt  string  // ts of the first event, "" when there are none
	Status     string  // replayed state, upper case, such as "COMPLETED"
	Extra      map[string]json.RawMessage
}

// TemplateSnapshot records the template a decision's policy came from.
// When Present is false the other fields are absent.
type TemplateSnapshot struct {
	Present   bool
	Name      *string         // nil is absent
	Digest    *string         // "sha256:<template digest>"; nil is absent
	Snapshot  json.RawMessage // the template as used, "null", or absent (nil)
	Overrides json.RawMessage // the overrides applied, "null" when none, or absent (nil)
	Extra     map[string]json.RawMessage
}

// RouterLink links a decision to its latest execution. Every field is
// omitted when nil; an empty link is {}.
type RouterLink struct {
	RunID                   *string
	AdapterID               *string
	RouterRequestDigest     *string // "sha256:<hex>"
	RouterResultDigest      *string // "sha256:<hex>"
	ControlRouterLinkDigest *string // "sha256:<hex>", see [RouterLinkDigest]
	Extra                   map[string]json.RawMessage
}

// IsEmpty reports whether the link has no field at all, the {} written for
// a decision without execution.
func (l *RouterLink) IsEmpty() bool {
	return l.RunID == nil && l.AdapterID == nil && l.RouterRequestDigest == nil &&
		l.RouterResultDigest == nil && l.ControlRouterLinkDigest == nil && len(l.Extra) == 0
}

// BundleIntegrity holds a bundle's digest.
type BundleIntegrity struct {
	Alg             string // "sha256"
	CanonicalDigest string // "sha256:<hex>" of the canonical payload
	Extra           map[string]json.RawMessage
}

// ProvenanceRecord is one provenance record of a bundle or audit package.
type ProvenanceRecord struct {
	ProvID   string // "prov_<12 hex>"
	MethodID string // such as "nexus-control.export_v0_5"
	Inputs   []string
	Outputs  []string
	Extra    map[string]json.RawMessage
}

// Provenance lists provenance records.
type Provenance struct {
	Records []ProvenanceRecord
	Extra   map[string]json.RawMessage
}

// Meta is the metadata of a bundle or audit package. No digest covers it.
type Meta struct {
	ExportedAt *string // nil is absent
	Extra      map[string]json.RawMessage
}

// Bundle is a decision bundle, bundle_version "0.5". It keeps every field
// of the document it was parsed from, known or not, so that writing it
// back and digesting it gives what the document held. Sections that a
// document omits are nil.
type Bundle struct {
	BundleVersion    string
	Decision         BundleDecision
	Events           []Event
	TemplateSnapshot *TemplateSnapshot // nil is absent
	RouterLink       *RouterLink       // nil is absent
	Integrity        BundleIntegrity
	Provenance       *Provenance // nil is absent
	Meta             *Meta       // nil is absent
	Extra            map[string]json.RawMessage
}

// ParseBundle parses a bundle document. The error, a [*SyntaxError] or a
// [*ParseError], names every field that is missing or has the wrong type.
func ParseBundle(data []byte) (*Bundle, error) {
	b := new(Bundle)
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return b, nil
}

// UnmarshalJSON parses a bundle document, as [ParseBundle] does.
func (b *Bundle) UnmarshalJSON(data []byte) error {
	*b = Bundle{}
	return unmarshalInto(data, "bundle", func(d *decoder, v *jvalue) { b.decode(d, v, "") })
}

// MarshalJSON writes the bundle, its unknown fields included.
func (b *Bundle) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	b.writeContent(w)
	w.value("integrity", &b.Integrity)
	if b.Provenance != nil {
		w.value("provenance", b.Provenance)
	}
	if b.Meta != nil {
		w.value("meta", b.Meta)
	}
	w.extra(b.Extra)
	return w.finish()
}

// writeContent writes the sections that the bundle digest covers.
func (b *Bundle) writeContent(w *objWriter) {
	w.str("bundle_version", b.BundleVersion)
	w.value("decision", &b.Decision)
	w.key("events")
	w.buf = append(w.buf, '[')
	for i := range b.Events {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		e, err := b.Events[i].MarshalJSON()
		if err != nil && w.err == nil {
			w.err = err
		}
		w.buf = append(w.buf, e...)
	}
	w.buf = append(w.buf, ']')
	if b.TemplateSnapshot != nil {
		w.value("template_snapshot", b.TemplateSnapshot)
	}
	if b.RouterLink != nil {
		w.value("router_link", b.RouterLink)
	}
}

// CanonicalPayload returns the canonical bytes the bundle digest is
// computed over: the canonical form of the object holding bundle_version,
// decision, events, template_snapshot and router_link exactly as the
// bundle holds them (unknown fields inside them included; integrity,
// provenance, meta and unknown top-level fields excluded).
func (b *Bundle) CanonicalPayload() ([]byte, error) {
	w := newObjWriter()
	b.writeContent(w)
	raw, err := w.finish()
	if err != nil {
		return nil, err
	}
	return Canonical(raw)
}

// ComputeDigest returns the bundle digest, "sha256:<hex>" of
// [Bundle.CanonicalPayload].
func (b *Bundle) ComputeDigest() (string, error) {
	c, err := b.CanonicalPayload()
	if err != nil {
		return "", err
	}
	return PrefixDigest(SHA256Hex(c)), nil
}

func (b *Bundle) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	b.BundleVersion = r.str("bundle_version")
	if dv := r.required("decision"); dv != nil {
		b.Decision.decode(d, dv, joinPath(path, "decision"))
	}
	if evs, ok := r.list("events", true); ok {
		b.Events = make([]Event, len(evs))
		for i, ev := range evs {
			b.Events[i].decode(d, ev, indexPath(joinPath(path, "events"), i))
		}
	}
	if tv := r.field("template_snapshot"); tv != nil {
		b.TemplateSnapshot = new(TemplateSnapshot)
		b.TemplateSnapshot.decode(d, tv, joinPath(path, "template_snapshot"))
	}
	if lv := r.field("router_link"); lv != nil {
		b.RouterLink = new(RouterLink)
		b.RouterLink.decode(d, lv, joinPath(path, "router_link"))
	}
	if iv := r.required("integrity"); iv != nil {
		b.Integrity.decode(d, iv, joinPath(path, "integrity"))
	}
	if pv := r.field("provenance"); pv != nil {
		b.Provenance = new(Provenance)
		b.Provenance.decode(d, pv, joinPath(path, "provenance"))
	}
	if mv := r.field("meta"); mv != nil {
		b.Meta = new(Meta)
		b.Meta.decode(d, mv, joinPath(path, "meta"))
	}
	b.Extra = r.extra()
}

// MarshalJSON writes the actor.
func (a *Actor) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("type", a.Type)
	w.str("id", a.ID)
	w.extra(a.Extra)
	return w.finish()
}

// UnmarshalJSON parses an actor object.
func (a *Actor) UnmarshalJSON(data []byte) error {
	*a = Actor{}
	return unmarshalInto(data, "actor", func(d *decoder, v *jvalue) { a.decode(d, v, "") })
}

func (a *Actor) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	a.Type = r.str("type")
	a.ID = r.str("id")
	a.Extra = r.extra()
}

// MarshalJSON writes the event in the bundle's key order.
func (e *Event) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("event_id", e.EventID)
	w.str("decision_id", e.DecisionID)
	w.integer("seq", e.Seq)
	w.str("type", e.Type)
	if len(e.Payload) == 0 {
		w.key("payload")
		w.buf = append(w.buf, "{}"...)
	} else {
		w.raw("payload", e.Payload)
	}
	w.str("ts", e.TS)
	w.value("actor", &e.Actor)
	w.str("digest", e.Digest)
	w.extra(e.Extra)
	return w.finish()
}

// UnmarshalJSON parses an event object.
func (e *Event) UnmarshalJSON(data []byte) error {
	*e = Event{}
	return unmarshalInto(data, "event", func(d *decoder, v *jvalue) { e.decode(d, v, "") })
}

func (e *Event) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	e.EventID = r.str("event_id")
	e.DecisionID = r.str("decision_id")
	e.Seq = r.integer("seq")
	e.Type = r.str("type")
	e.Payload = r.raw("payload", true, true)
	e.TS = r.str("ts")
	if av := r.required("actor"); av != nil {
		e.Actor.decode(d, av, joinPath(path, "actor"))
	}
	e.Digest = r.str("digest")
	e.Extra = r.extra()
}

// MarshalJSON writes the bundle header.
func (h *BundleDecision) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("decision_id", h.DecisionID)
	w.nullStr("goal", h.Goal)
	w.str("mode", h.Mode)
	w.str("created_at", h.CreatedAt)
	w.str("status", h.Status)
	w.extra(h.Extra)
	return w.finish()
}

// UnmarshalJSON parses a bundle header.
func (h *BundleDecision) UnmarshalJSON(data []byte) error {
	*h = BundleDecision{}
	return unmarshalInto(data, "decision header", func(d *decoder, v *jvalue) { h.decode(d, v, "") })
}

func (h *BundleDecision) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	h.DecisionID = r.str("decision_id")
	h.Goal = r.nullStr("goal")
	h.Mode = r.str("mode")
	h.CreatedAt = r.str("created_at")
	h.Status = r.str("status")
	h.Extra = r.extra()
}

// MarshalJSON writes the template snapshot section.
func (t *TemplateSnapshot) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.boolean("present", t.Present)
	w.optStr("name", t.Name)
	w.optStr("digest", t.Digest)
	w.raw("snapshot", t.Snapshot)
	w.raw("overrides", t.Overrides)
	w.extra(t.Extra)
	return w.finish()
}

// UnmarshalJSON parses a template snapshot section.
func (t *TemplateSnapshot) UnmarshalJSON(data []byte) error {
	*t = TemplateSnapshot{}
	return unmarshalInto(data, "template snapshot", func(d *decoder, v *jvalue) { t.decode(d, v, "") })
}

func (t *TemplateSnapshot) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	t.Present = r.boolean("present")
	t.Name = r.optStr("name")
	t.Digest = r.optStr("digest")
	t.Snapshot = r.raw("snapshot", false, false)
	t.Overrides = r.raw("overrides", false, false)
	t.Extra = r.extra()
}

// MarshalJSON writes the router link, omitting nil fields.
func (l *RouterLink) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.optStr("run_id", l.RunID)
	w.optStr("adapter_id", l.AdapterID)
	w.optStr("router_request_digest", l.RouterRequestDigest)
	w.optStr("router_result_digest", l.RouterResultDigest)
	w.optStr("control_router_link_digest", l.ControlRouterLinkDigest)
	w.extra(l.Extra)
	return w.finish()
}

// UnmarshalJSON parses a router link.
func (l *RouterLink) UnmarshalJSON(data []byte) error {
	*l = RouterLink{}
	return unmarshalInto(data, "router link", func(d *decoder, v *jvalue) { l.decode(d, v, "") })
}

func (l *RouterLink) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	l.RunID = r.optStr("run_id")
	l.AdapterID = r.optStr("adapter_id")
	l.RouterRequestDigest = r.optStr("router_request_digest")
	l.RouterResultDigest = r.optStr("router_result_digest")
	l.ControlRouterLinkDigest = r.optStr("control_router_link_digest")
	l.Extra = r.extra()
}

// MarshalJSON writes the integrity section.
func (i *BundleIntegrity) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("alg", i.Alg)
	w.str("canonical_digest", i.CanonicalDigest)
	w.extra(i.Extra)
	return w.finish()
}

// UnmarshalJSON parses an integrity section.
func (i *BundleIntegrity) UnmarshalJSON(data []byte) error {
	*i = BundleIntegrity{}
	return unmarshalInto(data, "integrity section", func(d *decoder, v *jvalue) { i.decode(d, v, "") })
}

func (i *BundleIntegrity) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	i.Alg = r.str("alg")
	i.CanonicalDigest = r.str("canonical_digest")
	i.Extra = r.extra()
}

// MarshalJSON writes the provenance section.
func (p *Provenance) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.key("records")
	w.buf = append(w.buf, '[')
	for i := range p.Records {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		b, err := p.Records[i].MarshalJSON()
		if err != nil && w.err == nil {
			w.err = err
		}
		w.buf = append(w.buf, b...)
	}
	w.buf = append(w.buf, ']')
	w.extra(p.Extra)
	return w.finish()
}

// UnmarshalJSON parses a provenance section.
func (p *Provenance) UnmarshalJSON(data []byte) error {
	*p = Provenance{}
	return unmarshalInto(data, "provenance section", func(d *decoder, v *jvalue) { p.decode(d, v, "") })
}

func (p *Provenance) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	if recs, ok := r.list("records", true); ok {
		p.Records = make([]ProvenanceRecord, len(recs))
		for i, rv := range recs {
			p.Records[i].decode(d, rv, indexPath(joinPath(path, "records"), i))
		}
	}
	p.Extra = r.extra()
}

// MarshalJSON writes the provenance record.
func (p *ProvenanceRecord) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("prov_id", p.ProvID)
	w.str("method_id", p.MethodID)
	w.strs("inputs", p.Inputs)
	w.strs("outputs", p.Outputs)
	w.extra(p.Extra)
	return w.finish()
}

// UnmarshalJSON parses a provenance record.
func (p *ProvenanceRecord) UnmarshalJSON(data []byte) error {
	*p = ProvenanceRecord{}
	return unmarshalInto(data, "provenance record", func(d *decoder, v *jvalue) { p.decode(d, v, "") })
}

func (p *ProvenanceRecord) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	p.ProvID = r.str("prov_id")
	p.MethodID = r.str("method_id")
	p.Inputs = r.strList("inputs", true)
	p.Outputs = r.strList("outputs", true)
	p.Extra = r.extra()
}

// MarshalJSON writes the meta section.
func (m *Meta) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.optStr("exported_at", m.ExportedAt)
	w.extra(m.Extra)
	return w.finish()
}

// UnmarshalJSON parses a meta section.
func (m *Meta) UnmarshalJSON(data []byte) error {
	*m = Meta{}
	return unmarshalInto(data, "meta section", func(d *decoder, v *jvalue) { m.decode(d, v, "") })
}

func (m *Meta) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	m.ExportedAt = r.optStr("exported_at")
	m.Extra = r.extra()
}

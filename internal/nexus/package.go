package nexus

import (
	"encoding/json"
)

// PackageVersion is the package_version of the audit package format this
// package reads and writes.
const PackageVersion = "0.6"

// Router modes of an audit package's router section.
const (
	// RouterModeReference is the mode where the router execution is referenced by run id and digest.
	RouterModeReference = "reference"
	// RouterModeEmbedded is the mode where the router's bundle is carried in the package.
	RouterModeEmbedded = "embedded"
)

// RouterRef references a router execution (reference mode).
type RouterRef struct {
	RunID  string
	Digest string // "sha256:<hex>"
	Extra  map[string]json.RawMessage
}

// RouterSection is an audit package's router section: a reference in
// reference mode, an opaque router bundle in embedded mode.
type RouterSection struct {
	Mode   string          // RouterModeReference or RouterModeEmbedded
	Ref    *RouterRef      // nil is absent
	Bundle json.RawMessage // the embedded router bundle, as found; nil is absent
	Extra  map[string]json.RawMessage
}

// Binding binds the control bundle to the router execution.
type Binding struct {
	ControlDigest           string // the control bundle's canonical digest
	RouterDigest            string // the router section's digest
	ControlRouterLinkDigest string // the control bundle's router link digest
	Extra                   map[string]json.RawMessage
}

// PackageIntegrity holds an audit package's binding digest.
type PackageIntegrity struct {
	Alg           string // "sha256"
	BindingDigest string // "sha256:<hex>", see [BindingDigest]
	Extra         map[string]json.RawMessage
}

// AuditPackage is an audit package, package_version "0.6": a control
// bundle bound to a router execution. Like [Bundle] it keeps every field of
// the document it was parsed from. Warden's own additions live in the
// optional Warden section, which nexus-control ignores.
type AuditPackage struct {
	PackageVersion string
	ControlBundle  Bundle
	Router         RouterSection
	Binding        Binding
	Integrity      PackageIntegrity
	Provenance     *Provenance      // nil is absent
	Meta           *Meta            // nil is absent
	Warden         *WardenExtension // nil is absent
	Extra          map[string]json.RawMessage
}

// ParseAuditPackage parses an audit package document. The error, a
// [*SyntaxError] or a [*ParseError], names every field that is missing or
// has the wrong type.
func ParseAuditPackage(data []byte) (*AuditPackage, error) {
	p := new(AuditPackage)
	if err := p.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return p, nil
}

// UnmarshalJSON parses an audit package, as [ParseAuditPackage] does.
func (p *AuditPackage) UnmarshalJSON(data []byte) error {
	*p = AuditPackage{}
	return unmarshalInto(data, "audit package", func(d *decoder, v *jvalue) { p.decode(d, v, "") })
}

// MarshalJSON writes the audit package, its unknown fields included.
func (p *AuditPackage) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("package_version", p.PackageVersion)
	w.value("control_bundle", &p.ControlBundle)
	w.value("router", &p.Router)
	w.value("binding", &p.Binding)
	w.value("integrity", &p.Integrity)
	if p.Provenance != nil {
		w.value("provenance", p.Provenance)
	}
	if p.Meta != nil {
		w.value("meta", p.Meta)
	}
	if p.Warden != nil {
		w.value(wardenKey, p.Warden)
	}
	w.extra(p.Extra)
	return w.finish()
}

func (p *AuditPackage) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	p.PackageVersion = r.str("package_version")
	if cv := r.required("control_bundle"); cv != nil {
		p.ControlBundle.decode(d, cv, joinPath(path, "control_bundle"))
	}
	if rv := r.required("router"); rv != nil {
		p.Router.decode(d, rv, joinPath(path, "router"))
	}
	if bv := r.required("binding"); bv != nil {
		p.Binding.decode(d, bv, joinPath(path, "binding"))
	}
	if iv := r.required("integrity"); iv != nil {
		p.Integrity.decode(d, iv, joinPath(path, "integrity"))
	}
	if pv := r.field("provenance"); pv != nil {
		p.Provenance = new(Provenance)
		p.Provenance.decode(d, pv, joinPath(path, "provenance"))
	}
	if mv := r.field("meta"); mv != nil {
		p.Meta = new(Meta)
		p.Meta.decode(d, mv, joinPath(path, "meta"))
	}
	if wv := r.field(wardenKey); wv != nil {
		p.Warden = new(WardenExtension)
		p.Warden.decode(d, wv, joinPath(path, wardenKey))
	}
	p.Extra = r.extra()
}

// MarshalJSON writes the router section.
func (s *RouterSection) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("mode", s.Mode)
	if s.Ref != nil {
		w.value("ref", s.Ref)
	}
	w.raw("bundle", s.Bundle)
	w.extra(s.Extra)
	return w.finish()
}

// UnmarshalJSON parses a router section.
func (s *RouterSection) UnmarshalJSON(data []byte) error {
	*s = RouterSection{}
	return unmarshalInto(data, "router section", func(d *decoder, v *jvalue) { s.decode(d, v, "") })
}

func (s *RouterSection) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	s.Mode = r.str("mode")
	if rv := r.field("ref"); rv != nil {
		s.Ref = new(RouterRef)
		s.Ref.decode(d, rv, joinPath(path, "ref"))
	}
	s.Bundle = r.raw("bundle", false, true)
	s.Extra = r.extra()
}

// MarshalJSON writes the router reference.
func (f *RouterRef) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("run_id", f.RunID)
	w.str("digest", f.Digest)
	w.extra(f.Extra)
	return w.finish()
}

// UnmarshalJSON parses a router reference.
func (f *RouterRef) UnmarshalJSON(data []byte) error {
	*f = RouterRef{}
	return unmarshalInto(data, "router reference", func(d *decoder, v *jvalue) { f.decode(d, v, "") })
}

func (f *RouterRef) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	f.RunID = r.str("run_id")
	f.Digest = r.str("digest")
	f.Extra = r.extra()
}

// MarshalJSON writes the binding section.
func (b *Binding) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("control_digest", b.ControlDigest)
	w.str("router_digest", b.RouterDigest)
	w.str("control_router_link_digest", b.ControlRouterLinkDigest)
	w.extra(b.Extra)
	return w.finish()
}

// UnmarshalJSON parses a binding section.
func (b *Binding) UnmarshalJSON(data []byte) error {
	*b = Binding{}
	return unmarshalInto(data, "binding section", func(d *decoder, v *jvalue) { b.decode(d, v, "") })
}

func (b *Binding) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	b.ControlDigest = r.str("control_digest")
	b.RouterDigest = r.str("router_digest")
	b.ControlRouterLinkDigest = r.str("control_router_link_digest")
	b.Extra = r.extra()
}

// MarshalJSON writes the integrity section.
func (i *PackageIntegrity) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("alg", i.Alg)
	w.str("binding_digest", i.BindingDigest)
	w.extra(i.Extra)
	return w.finish()
}

// UnmarshalJSON parses an integrity section.
func (i *PackageIntegrity) UnmarshalJSON(data []byte) error {
	*i = PackageIntegrity{}
	return unmarshalInto(data, "integrity section", func(d *decoder, v *jvalue) { i.decode(d, v, "") })
}

func (i *PackageIntegrity) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	i.Alg = r.str("alg")
	i.BindingDigest = r.str("binding_digest")
	i.Extra = r.extra()
}

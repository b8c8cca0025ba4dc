package nexus

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Provenance method ids of nexus-control's exports.
const (
	// BundleMethodID is the method id of a bundle export's provenance record.
	BundleMethodID = "nexus-control.export_v0_5"
	// AuditMethodID is the method id of an audit package export's provenance record.
	AuditMethodID = "nexus-control.audit_export_v0_6"
)

// Errors of [BuildAuditPackage], named after nexus-control's error codes.
var (
	// ErrNoRouterLink reports a decision without an execution that has a
	// run id, or no router digest in reference mode (NO_ROUTER_LINK).
	ErrNoRouterLink = errors.New("NO_ROUTER_LINK")
	// ErrRouterDigestMismatch reports an embedded router bundle whose
	// digest differs from the control bundle's router result digest
	// (ROUTER_DIGEST_MISMATCH).
	ErrRouterDigestMismatch = errors.New("ROUTER_DIGEST_MISMATCH")
)

// EventDigest returns an event's unprefixed digest: the SHA-256 of the
// canonical JSON of {"event_type": eventType, "payload": payload}. It
// covers neither seq, ts, actor nor decision id. An empty payload is {}.
func EventDigest(eventType string, payload []byte) (string, error) {
	p, err := Canonical(payloadOrEmpty(payload))
	if err != nil {
		return "", err
	}
	buf := make([]byte, 0, len(p)+len(eventType)+32)
	buf = append(buf, `{"event_type":`...)
	buf = appendString(buf, eventType)
	buf = append(buf, `,"payload":`...)
	buf = append(buf, p...)
	buf = append(buf, '}')
	return SHA256Hex(buf), nil
}

// BindingDigest returns an audit package's unprefixed binding digest: the
// SHA-256 of the canonical JSON of {package_version, control_digest,
// router_digest, control_router_link_digest}, the three digests taken as
// given (with their "sha256:" prefix).
func BindingDigest(packageVersion, controlDigest, routerDigest, linkDigest string) string {
	buf := []byte(`{"control_digest":`)
	buf = appendString(buf, controlDigest)
	buf = append(buf, `,"control_router_link_digest":`...)
	buf = appendString(buf, linkDigest)
	buf = append(buf, `,"package_version":`...)
	buf = appendString(buf, packageVersion)
	buf = append(buf, `,"router_digest":`...)
	buf = appendString(buf, routerDigest)
	buf = append(buf, '}')
	return SHA256Hex(buf)
}

// ProvID returns the provenance id nexus-control derives for an export of
// decisionID whose digest is digest: "prov_" and the first 12 hex digits of
// the SHA-256 of "<decision_id>:<unprefixed digest>".
func ProvID(decisionID, digest string) string {
	sum := sha256.Sum256([]byte(decisionID + ":" + StripDigestPrefix(digest)))
	return "prov_" + hex.EncodeToString(sum[:])[:12]
}

// BundleOptions tunes [BuildBundle].
type BundleOptions struct {
	OmitTemplateSnapshot bool      // write {"present": false} even if a template was used
	OmitRouterLink       bool      // write {} even if the decision was executed
	Now                  time.Time // clock for approval expiry; zero is time.Now()
	ExportedAt           string    // meta.exported_at; "" is FormatTimestamp(Now)
}

// BuildBundle exports decision id from its events as nexus-control does:
// the events sorted by seq, each with its event and decision id set (and
// its digest computed when empty), the header and the router link from
// their replay, the template snapshot, the digest and the provenance.
func BuildBundle(id string, events []Event, opts BundleOptions) (*Bundle, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b Event) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	for i := range evs {
		e := &evs[i]
		e.DecisionID = id
		e.EventID = "evt_" + id + "_" + strconv.FormatInt(e.Seq, 10)
		if len(e.Payload) == 0 {
			e.Payload = []byte("{}")
		}
		if e.Digest == "" {
			d, err := EventDigest(e.Type, e.Payload)
			if err != nil {
				return nil, fmt.Errorf("nexus: event seq %d: %w", e.Seq, err)
			}
			e.Digest = d
		}
	}
	dec, err := Replay(id, evs, now)
	if err != nil {
		return nil, err
	}
	b := &Bundle{BundleVersion: BundleVersion, Decision: dec.Header(), Events: evs}
	ts := TemplateSnapshot{Present: false}
	if !opts.OmitTemplateSnapshot {
		ts = dec.TemplateSnapshot()
	}
	b.TemplateSnapshot = &ts
	link := RouterLink{}
	if !opts.OmitRouterLink {
		link = dec.RouterLink()
	}
	b.RouterLink = &link
	exported := opts.ExportedAt
	if exported == "" {
		exported = FormatTimestamp(now)
	}
	b.Meta = &Meta{ExportedAt: &exported}
	if err := b.Seal(); err != nil {
		return nil, err
	}
	return b, nil
}

// Seal recomputes the bundle's integrity section (alg and canonical
// digest) and replaces its provenance with the one record an export
// writes. The content is left as it is.
func (b *Bundle) Seal() error {
	d, err := b.ComputeDigest()
	if err != nil {
		return err
	}
	b.Integrity.Alg = "sha256"
	b.Integrity.CanonicalDigest = d
	b.Provenance = &Provenance{Records: []ProvenanceRecord{{
		ProvID:   ProvID(b.Decision.DecisionID, d),
		MethodID: BundleMethodID,
		Inputs:   []string{"decision:" + b.Decision.DecisionID},
		Outputs:  []string{"bundle:" + d},
	}}}
	return nil
}

// AuditOptions tunes [BuildAuditPackage].
type AuditOptions struct {
	// RouterBundle, when set, is embedded (embedded mode); its digest is
	// its integrity.canonical_digest. Otherwise the package is in
	// reference mode.
	RouterBundle []byte
	// RouterBundleDigest is the router digest in reference mode; "" is
	// the control bundle's router result digest.
	RouterBundleDigest string
	// SkipRouterDigestCheck embeds a router bundle even when its digest
	// differs from the control bundle's router result digest.
	SkipRouterDigestCheck bool
	// ExportedAt is meta.exported_at; "" is the current time.
	ExportedAt string
}

// BuildAuditPackage binds control, an exported bundle of an executed
// decision, to its router execution, as nexus-control's export does. The
// errors are [ErrNoRouterLink] and [ErrRouterDigestMismatch], wrapped with
// an explanation.
func BuildAuditPackage(control *Bundle, opts AuditOptions) (*AuditPackage, error) {
	id := control.Decision.DecisionID
	link := control.RouterLink
	if link == nil || link.RunID == nil {
		return nil, fmt.Errorf("%w: decision %s has no router execution link; audit packages require an executed decision", ErrNoRouterLink, id)
	}
	if link.ControlRouterLinkDigest == nil {
		return nil, fmt.Errorf("%w: decision %s has no control_router_link_digest", ErrNoRouterLink, id)
	}
	p := &AuditPackage{PackageVersion: PackageVersion, ControlBundle: *control}
	var routerDigest string
	if opts.RouterBundle != nil {
		rb, err := parseJSON(opts.RouterBundle)
		if err != nil {
			return nil, fmt.Errorf("nexus: router bundle: %w", err)
		}
		cd := rb.get("integrity").get("canonical_digest")
		if cd == nil || cd.kind != jString {
			return nil, errors.New("nexus: router bundle has no integrity.canonical_digest string")
		}
		routerDigest = cd.s
		if !opts.SkipRouterDigestCheck && link.RouterResultDigest != nil && *link.RouterResultDigest != routerDigest {
			return nil, fmt.Errorf("%w: router bundle digest %s does not match the control bundle's router_result_digest %s",
				ErrRouterDigestMismatch, routerDigest, *link.RouterResultDigest)
		}
		p.Router = RouterSection{Mode: RouterModeEmbedded, Bundle: slices.Clone(opts.RouterBundle)}
	} else {
		routerDigest = opts.RouterBundleDigest
		if routerDigest == "" && link.RouterResultDigest != nil {
			routerDigest = *link.RouterResultDigest
		}
		if routerDigest == "" {
			return nil, fmt.Errorf("%w: no router digest available for reference mode", ErrNoRouterLink)
		}
		p.Router = RouterSection{Mode: RouterModeReference, Ref: &RouterRef{RunID: *link.RunID, Digest: routerDigest}}
	}
	p.Binding = Binding{
		ControlDigest:           control.Integrity.CanonicalDigest,
		RouterDigest:            routerDigest,
		ControlRouterLinkDigest: *link.ControlRouterLinkDigest,
	}
	exported := opts.ExportedAt
	if exported == "" {
		exported = FormatTimestamp(time.Now())
	}
	p.Meta = &Meta{ExportedAt: &exported}
	p.Seal()
	return p, nil
}

// Seal recomputes the package's integrity section (alg and binding digest)
// from its package version and binding, and replaces its provenance with
// the one record an export writes. It does not re-sign: sign with
// [SignAuditPackage] after sealing.
func (p *AuditPackage) Seal() {
	d := PrefixDigest(BindingDigest(p.PackageVersion, p.Binding.ControlDigest, p.Binding.RouterDigest, p.Binding.ControlRouterLinkDigest))
	p.Integrity.Alg = "sha256"
	p.Integrity.BindingDigest = d
	id := p.ControlBundle.Decision.DecisionID
	p.Provenance = &Provenance{Records: []ProvenanceRecord{{
		ProvID:   ProvID(id, d),
		MethodID: AuditMethodID,
		Inputs:   []string{"decision:" + id},
		Outputs:  []string{"audit_package:" + d},
	}}}
}

// payloadOrEmpty returns payload, or {} when it is empty, as an event
// without payload is written.
func payloadOrEmpty(payload []byte) []byte {
	if len(payload) == 0 {
		return []byte("{}")
	}
	return payload
}

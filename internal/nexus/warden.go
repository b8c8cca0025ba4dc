package nexus

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// wardenKey is the top-level key of Warden's extension in an audit
// package. nexus-control ignores keys it does not know, so a package with
// the extension still verifies there.
const wardenKey = "warden"

// SignatureAlg is the only signature algorithm of [PackageSignature].
const SignatureAlg = "ed25519"

// SignatureContext separates Warden's audit package signatures from every
// other use of the same key. It is part of the signed message.
const SignatureContext = "warden.audit_package.signature.v1"

// WardenExtension holds what Warden adds to an audit package. Every field
// is optional and ignored when absent; unknown fields are kept. The
// signature covers the binding digest and every other field of the
// extension (see [SignatureMessage]).
type WardenExtension struct {
	Signature       *PackageSignature  // Ed25519 signature; nil is absent
	ActionDigest    *string            // "sha256:<hex>" of the exact call approved; nil is absent
	Approvers       []ApproverIdentity // who approved, as authenticated by Warden; nil is absent
	Checkpoint      json.RawMessage    // the ledger checkpoint covering the decision's entries; nil is absent
	InclusionProofs json.RawMessage    // inclusion proofs of those entries in the checkpoint; nil is absent
	Extra           map[string]json.RawMessage
}

// PackageSignature is an Ed25519 signature of [SignatureMessage].
type PackageSignature struct {
	Alg   string  // SignatureAlg
	KeyID *string // KeyID of the public key; nil is absent
	Value string  // standard base64 of the 64-byte signature
	Extra map[string]json.RawMessage
}

// ApproverIdentity is one approver as Warden authenticated them.
type ApproverIdentity struct {
	Actor    Actor   // the actor recorded in the approval event
	Identity *string // the authenticated principal behind it; nil is absent
	Extra    map[string]json.RawMessage
}

// KeyID returns the identifier of an Ed25519 public key:
// "ed25519:" followed by the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return SignatureAlg + ":" + hex.EncodeToString(sum[:8])
}

// SignatureMessage returns the bytes a Warden signature of p signs: the
// canonical JSON of
//
//	{"binding_digest": <integrity.binding_digest>,
//	 "context": SignatureContext,
//	 "warden": <the Warden extension without its signature>}
//
// so that the signature vouches for the binding digest, and through it for
// the control bundle and the router execution, and for every claim of the
// extension.
func SignatureMessage(p *AuditPackage) ([]byte, error) {
	var ext WardenExtension
	if p.Warden != nil {
		ext = *p.Warden
	}
	ext.Signature = nil
	w := newObjWriter()
	w.str("binding_digest", p.Integrity.BindingDigest)
	w.str("context", SignatureContext)
	w.value(wardenKey, &ext)
	raw, err := w.finish()
	if err != nil {
		return nil, err
	}
	return Canonical(raw)
}

// SignAuditPackage signs p with key and stores the signature in its Warden
// extension, creating the extension if needed. Sign last: after
// [AuditPackage.Seal] and after every other field of the extension is set.
func SignAuditPackage(p *AuditPackage, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("nexus: signing key is not an Ed25519 private key")
	}
	if p.Warden == nil {
		p.Warden = new(WardenExtension)
	}
	msg, err := SignatureMessage(p)
	if err != nil {
		return err
	}
	keyID := KeyID(key.Public().(ed25519.PublicKey))
	p.Warden.Signature = &PackageSignature{
		Alg:   SignatureAlg,
		KeyID: &keyID,
		Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg)),
	}
	return nil
}

// checkSignature verifies p's Warden signature with pub.
func checkSignature(p *AuditPackage, pub ed25519.PublicKey) Check {
	c := Check{Name: CheckWardenSignature}
	var sig *PackageSignature
	if p.Warden != nil {
		sig = p.Warden.Signature
	}
	switch {
	case sig == nil:
		return c.fail("the package has no Warden signature, but a verifying key was given")
	case pub == nil:
		return c.fail("the package carries a Warden signature, but no public key was given to verify it")
	case len(pub) != ed25519.PublicKeySize:
		return c.fail(fmt.Sprintf("the verifying key has %d bytes, want %d", len(pub), ed25519.PublicKeySize))
	case sig.Alg != SignatureAlg:
		return c.mismatch(fmt.Sprintf("unknown signature algorithm %q", sig.Alg), SignatureAlg, sig.Alg)
	}
	want := KeyID(pub)
	if sig.KeyID != nil && *sig.KeyID != want {
		return c.mismatch("the package was signed by another key", want, *sig.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Value)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return c.fail("warden.signature.value is not a base64 Ed25519 signature")
	}
	msg, err := SignatureMessage(p)
	if err != nil {
		return c.fail("cannot build the signed message: " + err.Error())
	}
	if !ed25519.Verify(pub, msg, raw) {
		return c.fail("the Ed25519 signature does not match the binding digest and the Warden extension")
	}
	return c.pass("Ed25519 signature by " + want + " over the binding digest and the Warden extension")
}

// MarshalJSON writes the extension, omitting absent fields.
func (x *WardenExtension) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	if x.Signature != nil {
		w.value("signature", x.Signature)
	}
	w.optStr("action_digest", x.ActionDigest)
	if x.Approvers != nil {
		w.key("approvers")
		w.buf = append(w.buf, '[')
		for i := range x.Approvers {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			b, err := x.Approvers[i].MarshalJSON()
			if err != nil && w.err == nil {
				w.err = err
			}
			w.buf = append(w.buf, b...)
		}
		w.buf = append(w.buf, ']')
	}
	w.raw("checkpoint", x.Checkpoint)
	w.raw("inclusion_proofs", x.InclusionProofs)
	w.extra(x.Extra)
	return w.finish()
}

// UnmarshalJSON parses a Warden extension.
func (x *WardenExtension) UnmarshalJSON(data []byte) error {
	*x = WardenExtension{}
	return unmarshalInto(data, "Warden extension", func(d *decoder, v *jvalue) { x.decode(d, v, "") })
}

func (x *WardenExtension) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	if sv := r.field("signature"); sv != nil {
		x.Signature = new(PackageSignature)
		x.Signature.decode(d, sv, joinPath(path, "signature"))
	}
	x.ActionDigest = r.optStr("action_digest")
	if list, ok := r.list("approvers", false); ok {
		x.Approvers = make([]ApproverIdentity, len(list))
		for i, av := range list {
			x.Approvers[i].decode(d, av, indexPath(joinPath(path, "approvers"), i))
		}
	}
	x.Checkpoint = r.raw("checkpoint", false, false)
	x.InclusionProofs = r.raw("inclusion_proofs", false, false)
	x.Extra = r.extra()
}

// MarshalJSON writes the signature.
func (s *PackageSignature) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.str("alg", s.Alg)
	w.optStr("key_id", s.KeyID)
	w.str("value", s.Value)
	w.extra(s.Extra)
	return w.finish()
}

// UnmarshalJSON parses a signature.
func (s *PackageSignature) UnmarshalJSON(data []byte) error {
	*s = PackageSignature{}
	return unmarshalInto(data, "signature", func(d *decoder, v *jvalue) { s.decode(d, v, "") })
}

func (s *PackageSignature) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	s.Alg = r.str("alg")
	s.KeyID = r.optStr("key_id")
	s.Value = r.str("value")
	s.Extra = r.extra()
}

// MarshalJSON writes the approver identity.
func (a *ApproverIdentity) MarshalJSON() ([]byte, error) {
	w := newObjWriter()
	w.value("actor", &a.Actor)
	w.optStr("identity", a.Identity)
	w.extra(a.Extra)
	return w.finish()
}

// UnmarshalJSON parses an approver identity.
func (a *ApproverIdentity) UnmarshalJSON(data []byte) error {
	*a = ApproverIdentity{}
	return unmarshalInto(data, "approver identity", func(d *decoder, v *jvalue) { a.decode(d, v, "") })
}

func (a *ApproverIdentity) decode(d *decoder, v *jvalue, path string) {
	r := d.object(v, path)
	if r == nil {
		return
	}
	if av := r.required("actor"); av != nil {
		a.Actor.decode(d, av, joinPath(path, "actor"))
	}
	a.Identity = r.optStr("identity")
	a.Extra = r.extra()
}

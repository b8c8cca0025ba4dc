// Package nexus reads, writes and verifies nexus-control's exchange
// formats exactly: decision bundles (bundle_version "0.5") and audit
// packages (package_version "0.6"), so that bundles and packages exported
// by nexus-control verify in Warden and Warden's verify there.
//
// # Canonical JSON
//
// Every digest of these formats is a SHA-256 over nexus-control's
// canonical JSON, which is not RFC 8785: keys sorted by code point,
// compact separators, non-ASCII written raw, and numbers written as Python
// writes them, integers in full and doubles in repr form (1.0, 1e+20,
// 1e-07). [Canonical] computes it from JSON text, keeping each number's
// integer/double kind as written. Digests come unprefixed (64 hex digits:
// events, templates, router requests and responses, link digests) or with
// the "sha256:" prefix (bundle, router and binding digests); see
// [SHA256Hex], [PrefixDigest], [EventDigest], [RouterLinkDigest] and
// [BindingDigest].
//
// # Documents
//
// [ParseBundle] and [ParseAuditPackage] decode a document into [Bundle]
// and [AuditPackage]. Every field the format defines has a typed field;
// every other field is kept in Extra, and opaque parts (event payloads,
// template snapshots, embedded router bundles) are kept as the bytes
// found, so that writing a document back and digesting it gives exactly
// what the file held. Parse errors name each field at fault by its path,
// such as "events[2].seq". [BuildBundle] and [BuildAuditPackage] export
// as nexus-control does; Seal recomputes a document's digests.
//
// # Verification
//
// [VerifyBundle] and [VerifyAuditPackage] run every check and return a
// [Report] of named checks, each with ok and a message, rather than
// stopping at the first failure. Besides nexus-control's six audit
// package checks, Warden checks what nexus-control does not: every event
// digest, the seq order, event ids, the replay of the events ([Replay],
// nexus-control's state machine, approvals counted by distinct actor)
// against the header, the template section and the router link (whose
// digest is recomputed), and the provenance records.
//
// Bundle digests are computed over the content as it is in the document,
// unknown fields included; nexus-control recomputes them over its own
// re-serialisation, which drops unknown fields. The two agree on every
// document nexus-control writes.
//
// # Warden's additions
//
// An audit package may carry a "warden" object ([WardenExtension]) that
// nexus-control ignores: an Ed25519 signature ([SignAuditPackage]) over
// the binding digest and the rest of the extension, the action digest,
// the approvers' identities, a ledger checkpoint and inclusion proofs.
// Absent fields are ignored; the signature is verified against the key
// the caller gives in [VerifyOptions]. Further checks of the extension
// plug in as [AuditCheck] functions and appear in the report by name.
package nexus

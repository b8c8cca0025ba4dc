// Package canon turns JSON documents into the exact bytes that Warden hashes
// and signs.
//
// Two canonical forms are provided:
//
//   - [JCS] is RFC 8785, the JSON Canonicalization Scheme, used for every
//     digest Warden computes itself (ledger entries, decisions, bundles). It
//     wraps github.com/gowebpki/jcs and adds the guards that library does not
//     have: documents over [MaxInput] bytes, nesting deeper than [MaxDepth],
//     invalid UTF-8, duplicate object keys and integers beyond ±2^53 are
//     rejected with an error instead of being accepted or silently rounded.
//     RFC 8785 assumes I-JSON (RFC 7493), where such integers are not
//     interoperable, so an integer such as 9007199254740993 must be carried as
//     a string. "Integer beyond ±2^53" means a number written without
//     fraction or exponent whose magnitude exceeds 2^53, or any number whose
//     double value is integral with magnitude in (2^53, 1e21), the range RFC
//     8785 writes back as a plain integer. Numbers written with an exponent
//     from 1e21 up, such as 1E30, are doubles by intent and keep RFC 8785's
//     double semantics.
//
//   - [JSStringify] reproduces JavaScript's JSON.stringify(JSON.parse(raw))
//     byte for byte. det-acp hashes ledger data with that expression, so a Go
//     verifier of det-acp ledgers needs it exactly: insertion-ordered objects
//     with integer-like keys first, JavaScript number formatting, no HTML
//     escaping and \uXXXX for control characters and lone surrogates.
//
// [IsCanonical] tells, in one pass and without allocating, whether bytes are
// already JCS output, so verifiers of stored canonical data can skip the
// transformation. [Digest] and [DigestJSON] give the "sha256:<hex>" form used
// throughout Warden.
//
// Every function here takes hostile input: errors are returned, never panics,
// and time and memory are linear in the size of the input (JSStringify keeps
// a compact 20-byte node per value, so even a 16 MiB document of tiny values
// parses in a bounded multiple of its size).
package canon

// Package ledger is Warden's tamper-evident ledger: an append-only log of
// every evaluation, approval and result of every session, hash-chained per
// session, gathered into one RFC 6962 Merkle tree, and signed.
//
// # Entries and their lines
//
// An Entry is {seq, ts, hash, prev, sessionId, type, data}. Files (exports)
// hold one entry per line as a JSON object with the keys in det-acp's order,
// so tools written for det-acp ledgers can read them:
//
//	{"seq":1,"ts":"2026-11-22T01:53:51.674Z","hash":"sha256:…","prev":"sha256:000…","sessionId":"s","type":"session:start","data":{…}}
//
// The fields:
//
//   - seq counts a session's entries from 1; each session is its own hash
//     chain, as in det-acp.
//   - ts is UTC with exactly three fractional digits and "Z" (TimeFormat,
//     what JavaScript's toISOString writes). It is the wall-clock time of
//     the batch that wrote the entry; order is given by seq and the tree
//     index, not by ts.
//   - prev is the previous entry's hash; the first entry's prev is Genesis,
//     "sha256:" and 64 zeros.
//   - data is the event payload after redaction (see Redact), stored in its
//     RFC 8785 (JCS) form. Integers beyond ±2^53 are refused rather than
//     rounded (package canon).
//   - sessionId and type are non-empty UTF-8 without control characters, at
//     most 256 and 128 bytes.
//
// # The hash
//
// hash = "sha256:" + hex(sha256(JCS(the entry without "hash"))): the RFC
// 8785 form of {data, prev, seq, sessionId, ts, type}. Unlike det-acp, whose
// hash input is "seq|ts|prev|type|JSON.stringify(data)", sessionId is
// covered, and the encoding is unambiguous.
//
// # The tree
//
// Every entry of every session is also a leaf of one Merkle tree, in the
// order the ledger wrote them (Entry.Index, from 0). The leaf data is the
// RFC 8785 form of the whole entry, hash included (Entry.Leaf), and the tree
// is RFC 6962's, computed with golang.org/x/mod/sumdb/tlog: the store keeps
// tlog's "stored hashes", so the root of any size and inclusion and
// consistency proofs are computed from O(log n) reads (ProveInclusion,
// ProveConsistency, CheckInclusion, CheckConsistency).
//
// # Appending
//
// Ledger.Append redacts the data, chains the entry to the session's head,
// assigns the next tree index and writes entries and stored hashes through
// Store.Append in one atomic, durable write. Appends have a single writer
// per Ledger with group commit: calls that arrive while a write is in flight
// wait and are written together in the next Store.Append, and every call
// returns only after its own batch is durable. Several Ledgers (processes)
// may share a store: a store refuses a batch that does not continue its
// current state (ErrConflict) and the Ledger rebuilds and retries it.
//
// # Checkpoints
//
// A checkpoint is a signed tree head in the C2SP tlog-checkpoint form, a
// note body of three lines
//
//	<origin>
//	<tree size>
//	<base64 root hash>
//
// signed with an Ed25519 key in the signed-note format of
// golang.org/x/mod/sumdb/note (keys are one line of text, "name+hash+base64").
// The ledger signs one after an append when CheckpointEvery has passed or
// CheckpointEveryN entries were added since the last one, after every
// session-ending entry (CheckpointOnTypes), on demand (Ledger.Checkpoint),
// and for every export. There is no background goroutine.
//
// # Exports
//
// Ledger.Export writes a session's entries, then one trailer line
//
//	{"warden":{"version":1,"sessionId":…,"entries":N,"lastHash":…,
//	  "checkpoint":"<signed checkpoint>","seal":"<signed seal>",
//	  "verifierKey":…,"proofs":[{"seq":1,"index":…,"proof":["<base64>",…]},…]}}
//
// The checkpoint covers every exported entry. The seal is a second signed
// note, "warden-export/1", the session, N, the last hash and the
// checkpoint's size, one per line: it makes the entry count and the last
// hash tamper-proof, which the plain trailer fields are not. Proofs are
// RFC 6962 inclusion proofs of the entries against the checkpoint: one per
// entry for sessions of up to MaxExportProofs entries, otherwise one for the
// last entry only, which suffices because the last entry's hash commits,
// through the prev links, to every earlier entry (and keeps the trailer far
// below the 16 MiB line limit).
//
// # Verification
//
// Verify reads an export or a det-acp ledger file (told apart by the
// trailer and by which hash scheme the entries satisfy) and reports every
// check at once, each with a name, a verdict, a message and the first
// failing line:
//
//   - limits: no line over MaxLineBytes (16 MiB) and at most MaxLines
//     (10M) lines; reading stops at the first violation, so memory stays
//     bounded by a small multiple of the longest line.
//   - parse: every line is a well-formed entry: exactly the seven keys,
//     each once, seq an integer from 1 to 2^53, valid timestamps, digests
//     and names, valid UTF-8. Blank lines are accepted only at the end, and
//     CRLF endings are accepted, as det-acp does.
//   - entries: the file holds at least one entry.
//   - hash: every entry's hash recomputes. For an export this also requires
//     data in the RFC 8785 form Warden writes; it proves that no entry was
//     edited without recomputing its hash.
//   - chain: the first prev is Genesis and every prev is the previous
//     entry's hash; it proves that no entry was removed, inserted or moved
//     without re-hashing every later entry.
//   - seq: seq runs 1, 2, 3, … (det-acp did not check this).
//   - session: one sessionId throughout (det-acp did not check this).
//
// For an export, in addition:
//
//   - trailer: exactly one trailer, on the last line, byte for byte as
//     Export writes it, naming the entries' session and agreeing with its
//     seal. Its absence means the file was truncated or is not an export.
//   - count and lastHash: the file's entry count and last hash match the
//     trailer and the signed seal; they detect a removed tail even when the
//     trailer was edited.
//   - signature: the checkpoint and the seal are signed by a key in
//     VerifyOptions.Keys. This detects a re-hashed or re-signed file (the
//     message names the unknown key) and an edited checkpoint. With no key
//     given it fails with "no trusted key given".
//   - checkpoint: the checkpoint is well-formed and its tree covers every
//     proven index.
//   - inclusion: the proofs cover the entries as Export writes them and
//     each verifies against the checkpoint's root. This ties the entries to
//     the signed tree: an edited, inserted or reordered entry fails even if
//     the forger re-chained and re-hashed everything after it.
//
// A det-acp file carries no signature, so its report has the checks up to
// session and three warnings: sessionId is not covered by its hashes, a
// removed tail is undetectable, and anyone can rewrite and re-hash the whole
// file. Its hashes are recomputed exactly as det-acp does, with
// canon.JSStringify reproducing JSON.stringify. Because such a file proves
// so little, a caller that expects an export sets VerifyOptions.Kind so that
// a file rewritten into det-acp form is refused.
//
// # Storage
//
// The ledger does not know SQL: it writes through the Store interface.
// MemStore is the in-memory implementation; the SQLite and PostgreSQL stores
// run StoreConformance, the shared suite every Store must pass.
package ledger

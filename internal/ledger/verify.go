package ledger

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/canon"
)

// File kinds reported by Verify.
const (
	// KindExport is a Warden export: entries and a signed trailer.
	KindExport = "warden-export"
	// KindDetACP is a det-acp session ledger file.
	KindDetACP = "det-acp"
	// KindUnknown is a file that is neither.
	KindUnknown = "unknown"
)

// Check names, in the order Verify reports them (the package documentation
// says what each proves).
const (
	// CheckNameLimits: no line longer than MaxLineBytes, at most MaxLines lines.
	CheckNameLimits = "limits"
	// CheckNameParse: every line is a well-formed entry (or the trailer).
	CheckNameParse = "parse"
	// CheckNameEntries: the file holds at least one entry.
	CheckNameEntries = "entries"
	// CheckNameHash: every entry's hash recomputes.
	CheckNameHash = "hash"
	// CheckNameChain: prev links run from Genesis through each previous hash.
	CheckNameChain = "chain"
	// CheckNameSeq: seq runs 1, 2, 3, … without gaps.
	CheckNameSeq = "seq"
	// CheckNameSession: one sessionId throughout.
	CheckNameSession = "session"
	// CheckNameTrailer: exactly one well-formed trailer, on the last line,
	// agreeing with its signed seal.
	CheckNameTrailer = "trailer"
	// CheckNameCount: the entry count matches the trailer and the seal.
	CheckNameCount = "count"
	// CheckNameLastHash: the last entry's hash matches the trailer and the
	// seal.
	CheckNameLastHash = "lastHash"
	// CheckNameSignature: the checkpoint and the seal are signed by a
	// trusted key.
	CheckNameSignature = "signature"
	// CheckNameCheckpoint: the checkpoint is well-formed and covers the
	// proven indexes.
	CheckNameCheckpoint = "checkpoint"
	// CheckNameInclusion: the inclusion proofs tie the entries to the
	// checkpoint's root.
	CheckNameInclusion = "inclusion"
	// CheckNameKind: the file is of the kind VerifyOptions.Kind requires.
	CheckNameKind = "kind"
)

// Warnings reported for det-acp files, which cannot prove these things.
const (
	// WarnDetACPSession: det-acp's hash leaves sessionId out.
	WarnDetACPSession = "det-acp hashes do not cover sessionId: it could have been edited without detection"
	// WarnDetACPTruncate: a det-acp file records no signed length.
	WarnDetACPTruncate = "det-acp files carry no signed size: removing entries from the end is undetectable"
	// WarnDetACPSignature: a det-acp file is not signed.
	WarnDetACPSignature = "det-acp files are not signed: anyone can rewrite and re-hash the whole file"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Keys are the trusted verifier keys ("<name>+<hash>+<base64>"). With
	// none, the signature check of an export fails with "no trusted key
	// given".
	Keys []string
	// Kind, if set, requires the file to be of that kind (KindExport or
	// KindDetACP): a det-acp file cannot prove what an export proves, so a
	// caller expecting an export must not accept a file rewritten into
	// det-acp form.
	Kind string
}

// Check is the outcome of one verification check.
type Check struct {
	Name    string
	OK      bool
	Message string
	// Line is the first failing line (1-based), or 0.
	Line int
}

// Report is the result of Verify.
type Report struct {
	// Kind is KindExport, KindDetACP or KindUnknown.
	Kind string
	// Valid is true when every check passed.
	Valid bool
	// Entries is the number of entry lines.
	Entries int
	// FirstSeq and LastSeq are the seq of the first and last parsed entry.
	FirstSeq, LastSeq int64
	// SessionID is the first parsed entry's session.
	SessionID string
	// Checks lists every check performed, passed or failed.
	Checks []Check
	// Warnings are limitations of the file's format (det-acp).
	Warnings []string
}

// Failed returns the failed checks.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the check with the given name, or false.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// acc accumulates the failures of one check, keeping the first.
type acc struct {
	fails int
	line  int
	msg   string
}

func (a *acc) fail(line int, format string, args ...any) {
	a.fails++
	if a.fails == 1 {
		a.line = line
		a.msg = fmt.Sprintf(format, args...)
	}
}

func (a *acc) result(name, okMsg string) Check {
	if a.fails == 0 {
		return Check{Name: name, OK: true, Message: okMsg}
	}
	msg := a.msg
	if a.fails > 1 {
		msg += fmt.Sprintf(" (%d failures in total)", a.fails)
	}
	return Check{Name: name, OK: false, Message: msg, Line: a.line}
}

// leafRef remembers what an inclusion proof needs about an entry.
type leafRef struct {
	line int
	seq  int64
	leaf tlog.Hash
	ok   bool // leaf could be computed
}

type verifier struct {
	opts VerifyOptions

	limits acc
	parse  acc
	wHash  acc // Warden hash failures
	dHash  acc // det-acp hash failures
	chain  acc
	seq    acc
	sess   acc

	wMatch, dMatch bool // some entry matched the scheme

	entryLines int
	parsed     int
	first      rawEntry
	firstLine  int
	havePrev   bool
	prevHash   string
	prevSeq    int64
	lastHash   string
	lastSeq    int64

	refs []leafRef // entries 1..MaxExportProofs, by position
	last leafRef   // the last entry

	blankLine int // first of the blank lines seen since the last content line

	trailers     int
	trailerLine  int
	trailer      trailerBody
	trailerErr   error
	afterTrailer int // first content line after the first trailer

	buf []byte
}

// Verify reads a Warden export or a det-acp ledger file and checks it,
// reporting every check at once. It never panics and uses memory bounded by
// the longest line. See the package documentation for what each check
// proves.
func Verify(r io.Reader, opts VerifyOptions) Report {
	v := &verifier{opts: opts}
	lr := newLineReader(r)
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errLineTooLong) || errors.Is(err, errTooManyLines) {
				v.limits.fail(lr.line+1, "line %d: %v", lr.line+1, err)
			} else {
				v.parse.fail(lr.line+1, "line %d: read error: %v", lr.line+1, err)
			}
			break
		}
		v.line(lr.line, line)
	}
	return v.report(lr.line)
}

func (v *verifier) line(n int, line []byte) {
	if isBlank(line) {
		if v.blankLine == 0 {
			v.blankLine = n
		}
		return
	}
	if v.blankLine != 0 {
		if v.entryLines > 0 || v.trailers > 0 {
			v.parse.fail(v.blankLine, "line %d: blank line between entries", v.blankLine)
		}
		v.blankLine = 0
	}
	if isTrailer(line) {
		v.trailers++
		if v.trailers == 1 {
			v.trailerLine = n
			v.trailer, v.trailerErr = parseTrailer(line)
		}
		return
	}
	if v.trailers > 0 && v.afterTrailer == 0 {
		v.afterTrailer = n
	}
	v.entryLines++
	e, err := parseEntryLine(line)
	if err != nil {
		v.parse.fail(n, "line %d: %v", n, err)
		return
	}
	v.entry(n, &e)
}

func (v *verifier) entry(n int, e *rawEntry) {
	v.parsed++
	pos := v.parsed
	if pos == 1 {
		v.first, v.firstLine = *e, n
	}
	// Chain, seq and session do not depend on the hash scheme.
	wantPrev := Genesis
	if v.havePrev {
		wantPrev = v.prevHash
	}
	if e.prev != wantPrev {
		v.chain.fail(n, "line %d (seq %d): prev is %s, want %s", n, e.seq, e.prev, wantPrev)
	}
	if want := v.prevSeq + 1; e.seq != want {
		v.seq.fail(n, "line %d: seq %d, want %d", n, e.seq, want)
	}
	if e.sessionID != v.first.sessionID {
		v.sess.fail(n, "line %d (seq %d): sessionId %q differs from %q", n, e.seq, clip(e.sessionID), clip(v.first.sessionID))
	}
	v.havePrev, v.prevHash, v.prevSeq = true, e.hash, e.seq
	v.lastHash, v.lastSeq = e.hash, e.seq

	// Warden scheme: always, since exports need the leaves.
	ref := leafRef{line: n, seq: e.seq}
	if !canon.IsCanonical(e.data) {
		// Warden writes data in RFC 8785 form; anything else was edited or
		// re-serialized (and canonicalizing hostile data is not needed to
		// say so).
		v.wHash.fail(n, "line %d (seq %d): data is not in the RFC 8785 form Warden writes (edited or re-serialized)", n, e.seq)
	} else {
		ent := Entry{Seq: e.seq, TS: e.ts, Hash: e.hash, Prev: e.prev, SessionID: e.sessionID, Type: e.typ, Data: e.data}
		v.buf = ent.hashInput(v.buf[:0])
		if got := canon.Digest(v.buf); got != e.hash {
			v.wHash.fail(n, "line %d (seq %d): hash mismatch: computed %s, recorded %s", n, e.seq, got, e.hash)
		} else {
			v.wMatch = true
		}
		v.buf = ent.leaf(v.buf[:0])
		ref.leaf, ref.ok = tlog.RecordHash(v.buf), true
	}
	if pos <= MaxExportProofs {
		v.refs = append(v.refs, ref)
	}
	v.last = ref

	// det-acp scheme: until the file is known to be an export.
	if !v.wMatch && v.trailers == 0 {
		got, err := detACPHash(e)
		switch {
		case err != nil:
			v.dHash.fail(n, "line %d (seq %d): data cannot be serialized: %v", n, e.seq, err)
		case got != e.hash:
			v.dHash.fail(n, "line %d (seq %d): hash mismatch: computed %s, recorded %s", n, e.seq, got, e.hash)
		default:
			v.dMatch = true
		}
	}
}

// detACPHash computes det-acp's hash of an entry:
// sha256 of "<seq>|<ts>|<prev>|<type>|<JSON.stringify(data)>".
func detACPHash(e *rawEntry) (string, error) {
	js, err := canon.JSStringify(e.data)
	if err != nil {
		return "", err
	}
	in := make([]byte, 0, 128+len(js))
	in = strconv.AppendInt(in, e.seq, 10)
	in = append(in, '|')
	in = append(in, e.ts...)
	in = append(in, '|')
	in = append(in, e.prev...)
	in = append(in, '|')
	in = append(in, e.typ...)
	in = append(in, '|')
	in = append(in, js...)
	return canon.Digest(in), nil
}

func (v *verifier) report(lines int) Report {
	rep := Report{Entries: v.entryLines, SessionID: v.first.sessionID}
	if v.parsed > 0 {
		rep.FirstSeq, rep.LastSeq = v.first.seq, v.lastSeq
	}
	switch {
	case v.trailers > 0 || v.wMatch:
		rep.Kind = KindExport
	case v.dMatch:
		rep.Kind = KindDetACP
	default:
		rep.Kind = KindUnknown
	}

	add := func(c Check) { rep.Checks = append(rep.Checks, c) }
	add(v.limits.result(CheckNameLimits, fmt.Sprintf("%d lines, none longer than 16 MiB", lines)))
	add(v.parse.result(CheckNameParse, fmt.Sprintf("%d entry lines parsed", v.parsed)))
	var entries acc
	if v.entryLines == 0 {
		entries.fail(0, "the file holds no entries")
	}
	add(entries.result(CheckNameEntries, fmt.Sprintf("%d entries", v.entryLines)))

	hash := v.wHash
	scheme := "sha256(JCS(entry without hash))"
	switch rep.Kind {
	case KindDetACP:
		hash, scheme = v.dHash, `sha256("seq|ts|prev|type|JSON.stringify(data)")`
	case KindUnknown:
		hash = acc{}
		if v.parsed > 0 {
			hash.fail(v.firstLine, "no entry's hash matches either the Warden or the det-acp scheme")
		}
	}
	add(hash.result(CheckNameHash, fmt.Sprintf("%d hashes recomputed as %s", v.parsed, scheme)))
	add(v.chain.result(CheckNameChain, "every prev links to the previous entry's hash, from genesis"))
	add(v.seq.result(CheckNameSeq, fmt.Sprintf("seq runs from 1 to %d", v.lastSeq)))
	add(v.sess.result(CheckNameSession, fmt.Sprintf("every entry belongs to session %q", v.first.sessionID)))

	if rep.Kind == KindExport {
		v.exportChecks(add)
	}
	if rep.Kind == KindDetACP {
		rep.Warnings = []string{WarnDetACPSession, WarnDetACPTruncate, WarnDetACPSignature}
	}
	if v.opts.Kind != "" {
		var k acc
		if rep.Kind != v.opts.Kind {
			k.fail(0, "the file is a %s file, not the required %s", rep.Kind, v.opts.Kind)
		}
		add(k.result(CheckNameKind, "the file is a "+rep.Kind+" file as required"))
	}
	rep.Valid = rep.Kind != KindUnknown
	for _, c := range rep.Checks {
		if !c.OK {
			rep.Valid = false
		}
	}
	return rep
}

func (v *verifier) exportChecks(add func(Check)) {
	t := &v.trailer
	usable := v.trailers > 0 && v.trailerErr == nil

	// The seal and the checkpoint are parsed (not yet verified) first, so
	// the trailer can be checked against them.
	var sl seal
	var sealErr error
	var size int64
	var root tlog.Hash
	var cpErr error
	if usable {
		if body, ok := splitNote([]byte(t.Seal)); !ok {
			sealErr = fmt.Errorf("%w: the export seal is not a signed note", ErrInvalid)
		} else {
			sl, sealErr = parseSealBody(body)
		}
		if body, ok := splitNote([]byte(t.Checkpoint)); !ok {
			cpErr = fmt.Errorf("%w: the checkpoint is not a signed note", ErrInvalid)
		} else {
			_, size, root, cpErr = parseCheckpointBody(body)
			if cpErr == nil && size < 1 {
				cpErr = fmt.Errorf("%w: the checkpoint covers an empty tree", ErrInvalid)
			}
		}
	}

	var trailerA acc
	switch {
	case v.trailers == 0:
		trailerA.fail(0, "no trailer: the file was truncated or is not a complete export")
	case v.trailers > 1:
		trailerA.fail(v.trailerLine, "%d trailer lines, want exactly one", v.trailers)
	case v.afterTrailer != 0:
		trailerA.fail(v.afterTrailer, "line %d: entries after the trailer on line %d", v.afterTrailer, v.trailerLine)
	case v.trailerErr != nil:
		trailerA.fail(v.trailerLine, "line %d: %v", v.trailerLine, v.trailerErr)
	case t.SessionID != v.first.sessionID:
		trailerA.fail(v.trailerLine, "line %d: the trailer names session %q, the entries %q", v.trailerLine, clip(t.SessionID), clip(v.first.sessionID))
	case sealErr != nil:
		trailerA.fail(v.trailerLine, "line %d: %v", v.trailerLine, sealErr)
	case sl.sessionID != t.SessionID || sl.entries != t.Entries || sl.lastHash != t.LastHash || (cpErr == nil && sl.size != size):
		trailerA.fail(v.trailerLine, "line %d: the trailer's fields disagree with its signed seal (session %q, %d entries, last hash %s, tree size %d)",
			v.trailerLine, clip(sl.sessionID), sl.entries, sl.lastHash, sl.size)
	}
	add(trailerA.result(CheckNameTrailer, fmt.Sprintf("trailer on line %d, consistent with its signed seal", v.trailerLine)))

	if !usable {
		for _, name := range []string{CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion} {
			var a acc
			a.fail(0, "not checked: no usable trailer")
			add(a.result(name, ""))
		}
		return
	}

	// Count and last hash are compared with the trailer and, above all,
	// with the signed seal, which a forger cannot edit.
	var count acc
	switch {
	case t.Entries != int64(v.entryLines):
		count.fail(v.trailerLine, "the trailer records %d entries, the file holds %d (entries were removed or added)", t.Entries, v.entryLines)
	case sealErr == nil && sl.entries != int64(v.entryLines):
		count.fail(v.trailerLine, "the signed seal records %d entries, the file holds %d (entries were removed or added, and the trailer edited)", sl.entries, v.entryLines)
	}
	add(count.result(CheckNameCount, fmt.Sprintf("%d entries, as the signed seal records", v.entryLines)))

	var lastHash acc
	switch {
	case t.LastHash != v.lastHash:
		lastHash.fail(v.trailerLine, "the trailer's lastHash %s is not the last entry's hash %s (the tail was changed)", clip(t.LastHash), clip(v.lastHash))
	case sealErr == nil && sl.lastHash != v.lastHash:
		lastHash.fail(v.trailerLine, "the signed seal's last hash %s is not the last entry's hash %s (the tail was changed, and the trailer edited)", sl.lastHash, clip(v.lastHash))
	}
	add(lastHash.result(CheckNameLastHash, "the last entry's hash matches the signed seal"))

	var sig acc
	for _, n := range []struct{ what, msg string }{{"checkpoint", t.Checkpoint}, {"export seal", t.Seal}} {
		if sig.fails > 0 {
			break
		}
		_, err := openNote([]byte(n.msg), v.opts.Keys)
		var unknown *UnknownKeyError
		var invalid *note.InvalidSignatureError
		switch {
		case err == nil:
		case errors.Is(err, ErrNoTrustedKey):
			sig.fail(v.trailerLine, "no trusted key given: the %s signature cannot be checked", n.what)
		case errors.As(err, &unknown):
			sig.fail(v.trailerLine, "the %s is %v: the file was re-signed or comes from another ledger (unknown key)", n.what, err)
		case errors.As(err, &invalid):
			sig.fail(v.trailerLine, "the %s's signature by trusted key %s+%08x does not verify: it was altered", n.what, invalid.Name, invalid.Hash)
		default:
			sig.fail(v.trailerLine, "the %s: %v", n.what, err)
		}
	}
	add(sig.result(CheckNameSignature, "the checkpoint and the export seal are signed by a trusted key"))

	// The checkpoint body is used even when the signature fails, so the
	// proofs are still checked against the root it claims.
	var cpA acc
	if cpErr != nil {
		cpA.fail(v.trailerLine, "%v", cpErr)
	}
	for _, p := range t.Proofs {
		if cpA.fails == 0 && p.Index >= size {
			cpA.fail(v.trailerLine, "the checkpoint (size %d) does not cover entry index %d", size, p.Index)
		}
	}
	add(cpA.result(CheckNameCheckpoint, fmt.Sprintf("the checkpoint covers a tree of %d entries", size)))

	var inc acc
	if cpA.fails > 0 {
		inc.fail(v.trailerLine, "not checked: the checkpoint is unusable")
		add(inc.result(CheckNameInclusion, ""))
		return
	}
	v.checkProofs(&inc, t.Proofs, size, root)
	add(inc.result(CheckNameInclusion, fmt.Sprintf("%d inclusion proofs verify against the checkpoint root", len(t.Proofs))))
}

// checkProofs checks the trailer's proofs: the coverage rule of Export (one
// per entry, or the last entry's only beyond MaxExportProofs), strictly
// increasing indexes, and each proof against the root.
func (v *verifier) checkProofs(inc *acc, proofs []trailerProof, size int64, root tlog.Hash) {
	n := v.entryLines
	var want []leafRef
	if n <= MaxExportProofs {
		if len(proofs) != n {
			inc.fail(v.trailerLine, "the trailer has %d proofs for %d entries", len(proofs), n)
		}
		want = v.refs
	} else {
		if len(proofs) != 1 {
			inc.fail(v.trailerLine, "the trailer has %d proofs; a file of %d entries carries exactly one, for its last entry", len(proofs), n)
		}
		want = []leafRef{v.last}
	}
	if v.parsed != n {
		inc.fail(v.trailerLine, "not every entry parsed, so not every entry is proven")
	}
	prevIndex := int64(-1)
	for i, p := range proofs {
		if i >= len(want) {
			inc.fail(v.trailerLine, "proof %d (seq %d) has no entry", i+1, p.Seq)
			continue
		}
		ref := want[i]
		if p.Seq != ref.seq {
			inc.fail(ref.line, "line %d: proof %d is for seq %d, but the entry there has seq %d", ref.line, i+1, p.Seq, ref.seq)
			continue
		}
		if p.Index <= prevIndex {
			inc.fail(ref.line, "line %d (seq %d): proof index %d does not increase", ref.line, ref.seq, p.Index)
			continue
		}
		prevIndex = p.Index
		if !ref.ok {
			inc.fail(ref.line, "line %d (seq %d): no leaf to prove", ref.line, ref.seq)
			continue
		}
		proof, err := decodeProof(p.Proof)
		if err != nil {
			inc.fail(ref.line, "line %d (seq %d): %v", ref.line, ref.seq, err)
			continue
		}
		if p.Index < 0 || p.Index >= size {
			inc.fail(ref.line, "line %d (seq %d): index %d outside the checkpoint's tree", ref.line, ref.seq, p.Index)
			continue
		}
		if err := tlog.CheckRecord(proof, size, root, p.Index, ref.leaf); err != nil {
			inc.fail(ref.line, "line %d (seq %d): the entry is not at index %d of the signed tree (edited, inserted or reordered)", ref.line, ref.seq, p.Index)
		}
	}
}

package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/note"
)

// exportFixture appends entries for three interleaved sessions and exports
// session "target", which gets n entries.
func exportFixture(t testing.TB, n int) (file []byte, vkey string, l *Ledger) {
	t.Helper()
	ctx := context.Background()
	signer, vkey := newTestSigner(t)
	clock := &fakeClock{now: testTime}
	l = New(NewMemStore(), signer, Options{Now: clock.Now, CheckpointEvery: -1})
	for i := 0; i < n; i++ {
		clock.Advance(time.Millisecond)
		recs := []Record{{"target", "action:evaluate", map[string]any{"i": i, "verdict": "allow", "note": "é/</>"}}}
		if i%3 == 0 {
			recs = append(recs, Record{fmt.Sprintf("other-%d", i%2), "action:evaluate", map[string]any{"i": i}})
		}
		if _, err := l.AppendBatch(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, "target"); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), vkey, l
}

func splitLines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func joinLines(lines []string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

// rechain recomputes seq, prev and hash of entries in order, as a forger
// without the signing key would.
func rechain(t testing.TB, entries []Entry) []Entry {
	t.Helper()
	out := make([]Entry, len(entries))
	prev := Genesis
	for i, e := range entries {
		ts, err := ParseTime(e.TS)
		if err != nil {
			t.Fatal(err)
		}
		ne, err := NewEntry(e.SessionID, e.Type, int64(i+1), prev, ts, json.RawMessage(e.Data))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ne
		prev = ne.Hash
	}
	return out
}

// forge rewrites an export's entries with edit, re-chains them, and updates
// the trailer's count and last hash, keeping its checkpoint and proofs.
func forge(t testing.TB, file []byte, edit func([]Entry) []Entry) []byte {
	t.Helper()
	entries, err := ReadEntries(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	entries = rechain(t, edit(entries))
	lines := splitLines(file)
	tr, err := parseTrailer([]byte(lines[len(lines)-1]))
	if err != nil {
		t.Fatal(err)
	}
	tr.Entries = int64(len(entries))
	tr.LastHash = entries[len(entries)-1].Hash
	var out []string
	for _, e := range entries {
		out = append(out, string(e.AppendLine(nil)))
	}
	b, err := json.Marshal(trailer{Warden: tr})
	if err != nil {
		t.Fatal(err)
	}
	return joinLines(append(out, string(b)))
}

// editTrailer decodes the trailer line, applies edit and re-encodes it.
func editTrailer(t testing.TB, file []byte, edit func(*trailerBody)) []byte {
	t.Helper()
	lines := splitLines(file)
	tr, err := parseTrailer([]byte(lines[len(lines)-1]))
	if err != nil {
		t.Fatal(err)
	}
	edit(&tr)
	b, err := json.Marshal(trailer{Warden: tr})
	if err != nil {
		t.Fatal(err)
	}
	lines[len(lines)-1] = string(b)
	return joinLines(lines)
}

var allExportChecks = []string{
	CheckNameLimits, CheckNameParse, CheckNameEntries, CheckNameHash, CheckNameChain, CheckNameSeq, CheckNameSession,
	CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion,
}

func checkNames(cs []Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestExportUntouched(t *testing.T) {
	file, vkey, _ := exportFixture(t, 12)
	lines := splitLines(file)
	if len(lines) != 13 {
		t.Fatalf("export has %d lines, want 12 entries + trailer", len(lines))
	}
	// Entry lines keep det-acp's key order.
	if !strings.HasPrefix(lines[0], `{"seq":1,"ts":"2026-11-22T01:53:51.675Z","hash":"sha256:`) ||
		!strings.Contains(lines[0], `","sessionId":"target","type":"action:evaluate","data":{"i":0,"note":"é/</>","verdict":"allow"}}`) {
		t.Fatalf("first line: %s", lines[0])
	}
	if !strings.HasPrefix(lines[12], `{"warden":{"version":1,"sessionId":"target","entries":12,"lastHash":"sha256:`) {
		t.Fatalf("trailer: %s", lines[12])
	}
	rep := Verify(bytes.NewReader(file), VerifyOptions{Keys: []string{vkey}})
	want := Report{Kind: KindExport, Valid: true, Entries: 12, FirstSeq: 1, LastSeq: 12, SessionID: "target"}
	if diff := cmp.Diff(want, rep, cmpopts.IgnoreFields(Report{}, "Checks")); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allExportChecks, checkNames(rep.Checks)); diff != "" {
		t.Fatalf("checks (-want +got):\n%s", diff)
	}
	if f := rep.Failed(); len(f) != 0 {
		t.Fatalf("failed checks on an untouched export: %+v", f)
	}
	// Accepted like det-acp: CRLF endings and trailing blank lines.
	crlf := bytes.ReplaceAll(file, []byte("\n"), []byte("\r\n"))
	crlf = append(crlf, "\r\n\n  \n"...)
	if rep := Verify(bytes.NewReader(crlf), VerifyOptions{Keys: []string{vkey}}); !rep.Valid {
		t.Fatalf("CRLF export: %+v", rep.Failed())
	}
	// ReadEntries returns the entries with their global indexes.
	es, err := ReadEntries(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 12 || es[0].Index != 0 || es[1].Index != 2 || es[3].Index != 4 || es[11].Seq != 12 {
		t.Fatalf("ReadEntries: %d entries, indexes %d %d", len(es), es[0].Index, es[1].Index)
	}
	for _, e := range es {
		if err := e.Verify(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportTampering(t *testing.T) {
	file, vkey, _ := exportFixture(t, 12)
	lines := splitLines(file)
	n := len(lines) - 1 // entry lines
	otherSigner, otherKey := newTestSigner(t)

	tests := []struct {
		name       string
		tamper     func() []byte
		keys       []string
		wantFailed []string
	}{
		{"edit a data value", func() []byte {
			c := append([]string{}, lines...)
			c[4] = strings.Replace(c[4], `"i":4`, `"i":5`, 1)
			return joinLines(c)
		}, nil, []string{CheckNameHash, CheckNameInclusion}},
		{"edit sessionId", func() []byte {
			c := append([]string{}, lines...)
			c[6] = strings.Replace(c[6], `"sessionId":"target"`, `"sessionId":"victim"`, 1)
			return joinLines(c)
		}, nil, []string{CheckNameHash, CheckNameSession, CheckNameInclusion}},
		{"edit a timestamp", func() []byte {
			c := append([]string{}, lines...)
			i := strings.Index(c[2], `Z","hash"`)
			c[2] = c[2][:i-1] + "9" + c[2][i:]
			return joinLines(c)
		}, nil, []string{CheckNameHash, CheckNameInclusion}},
		{"reorder two lines", func() []byte {
			c := append([]string{}, lines...)
			c[3], c[4] = c[4], c[3]
			return joinLines(c)
		}, nil, []string{CheckNameChain, CheckNameSeq, CheckNameInclusion}},
		{"delete a middle line", func() []byte {
			c := append(append([]string{}, lines[:5]...), lines[6:]...)
			return joinLines(c)
		}, nil, []string{CheckNameChain, CheckNameSeq, CheckNameCount, CheckNameInclusion}},
		{"insert a forged line, re-chained", func() []byte {
			return forge(t, file, func(es []Entry) []Entry {
				forged := es[5]
				forged.Data = json.RawMessage(`{"verdict":"allow","i":"forged"}`)
				return append(es[:6:6], append([]Entry{forged}, es[6:]...)...)
			})
		}, nil, []string{CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameInclusion}},
		{"edit a data value, re-chained", func() []byte {
			return forge(t, file, func(es []Entry) []Entry {
				es[3].Data = json.RawMessage(`{"i":3,"note":"é/</>","verdict":"deny"}`)
				return es
			})
		}, nil, []string{CheckNameTrailer, CheckNameLastHash, CheckNameInclusion}},
		{"reorder two lines, re-chained", func() []byte {
			return forge(t, file, func(es []Entry) []Entry {
				es[7], es[8] = es[8], es[7]
				return es
			})
		}, nil, []string{CheckNameTrailer, CheckNameLastHash, CheckNameInclusion}},
		{"remove the last entry", func() []byte {
			c := append(append([]string{}, lines[:n-1]...), lines[n])
			return joinLines(c)
		}, nil, []string{CheckNameCount, CheckNameLastHash, CheckNameInclusion}},
		{"remove the last entry, trailer updated", func() []byte {
			return forge(t, file, func(es []Entry) []Entry { return es[:len(es)-1] })
		}, nil, []string{CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameInclusion}},
		{"truncate to a prefix, trailer and proofs fixed up", func() []byte {
			// Every kept entry is genuinely in the signed tree and every
			// kept proof verifies: only the signed seal tells.
			short := forge(t, file, func(es []Entry) []Entry { return es[:5] })
			return editTrailer(t, short, func(tr *trailerBody) { tr.Proofs = tr.Proofs[:5] })
		}, nil, []string{CheckNameTrailer, CheckNameCount, CheckNameLastHash}},
		{"re-seal a truncated file with another key", func() []byte {
			short := forge(t, file, func(es []Entry) []Entry { return es[:5] })
			return editTrailer(t, short, func(tr *trailerBody) {
				tr.Proofs = tr.Proofs[:5]
				body, _ := splitNote([]byte(tr.Seal))
				sl, _ := parseSealBody(body)
				msg, err := note.Sign(&note.Note{Text: sealBody(sl.sessionID, 5, tr.LastHash, sl.size)}, otherSigner.signer)
				if err != nil {
					t.Fatal(err)
				}
				tr.Seal = string(msg)
			})
		}, nil, []string{CheckNameSignature}},
		{"remove all but the first entry", func() []byte {
			return joinLines([]string{lines[0], lines[n]})
		}, nil, []string{CheckNameCount, CheckNameLastHash, CheckNameInclusion}},
		{"remove the tail with the trailer", func() []byte {
			return joinLines(lines[:n-2])
		}, nil, []string{CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion}},
		{"drop the trailer", func() []byte {
			return joinLines(lines[:n])
		}, nil, []string{CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion}},
		{"two trailers", func() []byte {
			return joinLines(append(append([]string{}, lines...), lines[n]))
		}, nil, []string{CheckNameTrailer}},
		{"entry after the trailer", func() []byte {
			return joinLines(append(append([]string{}, lines...), lines[0]))
		}, nil, []string{CheckNameChain, CheckNameSeq, CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameInclusion}},
		{"blank line between entries", func() []byte {
			c := append(append(append([]string{}, lines[:3]...), ""), lines[3:]...)
			return joinLines(c)
		}, nil, []string{CheckNameParse}},
		{"re-sign the checkpoint with another key", func() []byte {
			return editTrailer(t, file, func(tr *trailerBody) {
				body, _ := splitNote([]byte(tr.Checkpoint))
				_, size, root, _ := parseCheckpointBody(body)
				msg, err := signCheckpoint(otherSigner, "warden.test/ledger", size, root)
				if err != nil {
					t.Fatal(err)
				}
				tr.Checkpoint = string(msg)
				tr.VerifierKey = otherKey
			})
		}, nil, []string{CheckNameSignature}},
		{"forge a whole ledger under another key", func() []byte {
			ctx := context.Background()
			es, err := ReadEntries(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			fl := New(NewMemStore(), otherSigner, Options{Origin: "warden.test/ledger", CheckpointEvery: -1})
			for i, e := range es {
				data := json.RawMessage(e.Data)
				if i == 2 {
					data = json.RawMessage(`{"verdict":"allow","i":"forged"}`)
				}
				if _, err := fl.Append(ctx, e.SessionID, e.Type, data); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := fl.Export(ctx, &buf, "target"); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}, nil, []string{CheckNameSignature}},
		{"edit the checkpoint size", func() []byte {
			return editTrailer(t, file, func(tr *trailerBody) {
				tr.Checkpoint = strings.Replace(tr.Checkpoint, "\n", "\n1", 1)
			})
		}, nil, []string{CheckNameTrailer, CheckNameSignature, CheckNameInclusion}},
		{"corrupt a proof", func() []byte {
			return editTrailer(t, file, func(tr *trailerBody) {
				p := tr.Proofs[5].Proof
				p[0] = strings.Replace(p[0], p[0][:2], flip2(p[0][:2]), 1)
			})
		}, nil, []string{CheckNameInclusion}},
		{"drop a proof", func() []byte {
			return editTrailer(t, file, func(tr *trailerBody) { tr.Proofs = tr.Proofs[:len(tr.Proofs)-1] })
		}, nil, []string{CheckNameInclusion}},
		{"proof claims another index", func() []byte {
			return editTrailer(t, file, func(tr *trailerBody) { tr.Proofs[1].Index = tr.Proofs[2].Index })
		}, nil, []string{CheckNameInclusion}},
		{"trailer names another session", func() []byte {
			return editTrailer(t, file, func(tr *trailerBody) { tr.SessionID = "other" })
		}, nil, []string{CheckNameTrailer}},
		{"trailer with an unknown field", func() []byte {
			c := append([]string{}, lines...)
			c[n] = strings.Replace(c[n], `{"warden":{`, `{"warden":{"extra":1,`, 1)
			return joinLines(c)
		}, nil, []string{CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion}},
		{"no trusted key", func() []byte { return file }, []string{}, []string{CheckNameSignature}},
		{"only another key trusted", func() []byte { return file }, []string{otherKey}, []string{CheckNameSignature}},
		{"line too long", func() []byte {
			c := append([]string{}, lines...)
			c[1] = strings.Repeat(" ", MaxLineBytes+1)
			return joinLines(c)
		}, nil, []string{CheckNameLimits, CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.keys
			if keys == nil {
				keys = []string{vkey}
			}
			rep := Verify(bytes.NewReader(tt.tamper()), VerifyOptions{Keys: keys})
			if rep.Valid {
				t.Fatalf("tampered export verified: %+v", rep)
			}
			if rep.Kind != KindExport {
				t.Errorf("kind %q, want %q", rep.Kind, KindExport)
			}
			if diff := cmp.Diff(allExportChecks, checkNames(rep.Checks)); diff != "" {
				t.Errorf("not every check reported (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailed, checkNames(rep.Failed())); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s\nreport: %+v", diff, rep.Failed())
			}
			for _, c := range rep.Failed() {
				if c.Message == "" {
					t.Errorf("check %s failed without a message", c.Name)
				}
			}
		})
	}
	// The messages say what happened.
	byName := func(name string) []byte {
		for _, tt := range tests {
			if tt.name == name {
				return tt.tamper()
			}
		}
		t.Fatalf("no case %q", name)
		return nil
	}
	rep := Verify(bytes.NewReader(byName("re-sign the checkpoint with another key")), VerifyOptions{Keys: []string{vkey}})
	if c, _ := rep.Check(CheckNameSignature); !strings.Contains(c.Message, "unknown key") {
		t.Errorf("re-signed checkpoint message: %q", c.Message)
	}
	rep = Verify(bytes.NewReader(file), VerifyOptions{})
	if c, _ := rep.Check(CheckNameSignature); !strings.Contains(c.Message, "no trusted key given") {
		t.Errorf("no key message: %q", c.Message)
	}
	rep = Verify(bytes.NewReader(byName("edit a data value")), VerifyOptions{Keys: []string{vkey}})
	if c, _ := rep.Check(CheckNameHash); c.Line != 5 || !strings.Contains(c.Message, "line 5 (seq 5): hash mismatch") {
		t.Errorf("hash check: %+v", c)
	}
	rep = Verify(bytes.NewReader(byName("truncate to a prefix, trailer and proofs fixed up")), VerifyOptions{Keys: []string{vkey}})
	if c, _ := rep.Check(CheckNameCount); !strings.Contains(c.Message, "the signed seal records 12 entries, the file holds 5") {
		t.Errorf("truncation message: %q", c.Message)
	}
}

// flip2 changes a two-character base64 prefix to another valid one.
func flip2(s string) string {
	if s == "AA" {
		return "AB"
	}
	return "AA"
}

// TestExportLarge covers sessions beyond MaxExportProofs: one proof, for the
// last entry, binds the whole chain.
func TestExportLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large export")
	}
	ctx := context.Background()
	signer, vkey := newTestSigner(t)
	l := New(NewMemStore(), signer, Options{CheckpointEvery: -1})
	const n = MaxExportProofs + 50
	recs := make([]Record, 0, n)
	for i := 0; i < n; i++ {
		recs = append(recs, Record{"big", "action:evaluate", map[string]any{"i": i}})
	}
	if _, err := l.AppendBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, "big"); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	rep := Verify(bytes.NewReader(file), VerifyOptions{Keys: []string{vkey}})
	if !rep.Valid || rep.Entries != n {
		t.Fatalf("large export: %+v", rep.Failed())
	}
	lines := splitLines(file)
	tr, err := parseTrailer([]byte(lines[len(lines)-1]))
	if err != nil || len(tr.Proofs) != 1 || tr.Proofs[0].Seq != n {
		t.Fatalf("trailer proofs: %d, %v", len(tr.Proofs), err)
	}
	forged := forge(t, file, func(es []Entry) []Entry {
		es[100].Data = json.RawMessage(`{"i":"forged"}`)
		return es
	})
	rep = Verify(bytes.NewReader(forged), VerifyOptions{Keys: []string{vkey}})
	if diff := cmp.Diff([]string{CheckNameTrailer, CheckNameLastHash, CheckNameInclusion}, checkNames(rep.Failed())); diff != "" {
		t.Fatalf("re-chained edit of a large export (-want +got):\n%s", diff)
	}
	// Claiming per-entry proofs for a large file is refused.
	more := editTrailer(t, file, func(tr *trailerBody) { tr.Proofs = append(tr.Proofs, tr.Proofs[0]) })
	rep = Verify(bytes.NewReader(more), VerifyOptions{Keys: []string{vkey}})
	if diff := cmp.Diff([]string{CheckNameInclusion}, checkNames(rep.Failed())); diff != "" {
		t.Fatalf("two proofs in a large export (-want +got):\n%s", diff)
	}
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	_, _, l := exportFixture(t, 2)
	if err := l.Export(ctx, &bytes.Buffer{}, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("export of an unknown session: %v", err)
	}
	nl := New(NewMemStore(), nil, Options{})
	mustAppend(t, nl, "s", "x")
	if err := nl.Export(ctx, &bytes.Buffer{}, "s"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("export without a signer: %v", err)
	}
	// A later export reuses the covering checkpoint; a new entry needs a
	// new one.
	var a, b bytes.Buffer
	if err := l.Export(ctx, &a, "target"); err != nil {
		t.Fatal(err)
	}
	if err := l.Export(ctx, &b, "target"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two exports of an unchanged session differ")
	}
	mustAppend(t, l, "target", "x")
	var c bytes.Buffer
	if err := l.Export(ctx, &c, "target"); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("export after an append did not change")
	}
}

func TestVerifyKindOption(t *testing.T) {
	file, vkey, _ := exportFixture(t, 3)
	rep := Verify(bytes.NewReader(file), VerifyOptions{Keys: []string{vkey}, Kind: KindExport})
	if !rep.Valid {
		t.Fatalf("export with Kind=export: %+v", rep.Failed())
	}
	rep = Verify(bytes.NewReader(file), VerifyOptions{Keys: []string{vkey}, Kind: KindDetACP})
	if rep.Valid || checkNames(rep.Failed())[0] != CheckNameKind {
		t.Fatalf("export with Kind=det-acp: %+v", rep.Failed())
	}
}

func TestVerifyDegenerate(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantKind   string
		wantFailed []string
	}{
		{"empty", "", KindUnknown, []string{CheckNameEntries}},
		{"blank lines", "\n\n  \r\n", KindUnknown, []string{CheckNameEntries}},
		{"not json", "hello\n", KindUnknown, []string{CheckNameParse}},
		{"binary", "\x00\xff\xfe", KindUnknown, []string{CheckNameParse}},
		{"json but not an entry", `{"a":1}` + "\n", KindUnknown, []string{CheckNameParse}},
		{"trailer only", `{"warden":{}}` + "\n", KindExport, []string{CheckNameEntries, CheckNameTrailer, CheckNameCount, CheckNameLastHash, CheckNameSignature, CheckNameCheckpoint, CheckNameInclusion}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Verify(strings.NewReader(tt.in), VerifyOptions{})
			if rep.Valid || rep.Kind != tt.wantKind {
				t.Fatalf("Verify = kind %q valid %v", rep.Kind, rep.Valid)
			}
			if diff := cmp.Diff(tt.wantFailed, checkNames(rep.Failed())); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s\n%+v", diff, rep.Failed())
			}
		})
	}
}

// endless yields the same byte forever, counting what was read.
type endless struct {
	b    byte
	read int64
}

func (r *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	r.read += int64(len(p))
	return len(p), nil
}

// lines yields n newlines.
type lines struct{ n int64 }

func (r *lines) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range k {
		p[i] = '\n'
	}
	r.n -= k
	return int(k), nil
}

func TestVerifyLimits(t *testing.T) {
	// An endless line is refused after 16 MiB, without reading on.
	r := &endless{b: 'x'}
	rep := Verify(r, VerifyOptions{})
	if c, _ := rep.Check(CheckNameLimits); c.OK || !strings.Contains(c.Message, "16 MiB") {
		t.Fatalf("endless line: %+v", c)
	}
	if r.read > MaxLineBytes+1<<20 {
		t.Fatalf("read %d bytes of an endless line", r.read)
	}
	if _, err := ReadEntries(&endless{b: 'x'}); err == nil {
		t.Fatal("ReadEntries accepted an endless line")
	}
	// More than MaxLines lines are refused.
	if testing.Short() {
		return
	}
	rep = Verify(&lines{n: MaxLines + 1}, VerifyOptions{})
	if c, _ := rep.Check(CheckNameLimits); c.OK || !strings.Contains(c.Message, "more than 10000000 lines") {
		t.Fatalf("too many lines: %+v", c)
	}
	rep = Verify(&lines{n: MaxLines}, VerifyOptions{})
	if c, _ := rep.Check(CheckNameLimits); !c.OK {
		t.Fatalf("exactly MaxLines lines: %+v", c)
	}
	// Hostile data in a line of allowed size costs memory proportional to
	// the line, not more.
	big := `{"seq":1,"ts":"2026-01-01T00:00:00.000Z","hash":"` + Genesis + `","prev":"` + Genesis +
		`","sessionId":"s","type":"t","data":[` + strings.Repeat("1,", 4<<20) + `1]}`
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep = Verify(strings.NewReader(big), VerifyOptions{})
	runtime.ReadMemStats(&after)
	if rep.Valid {
		t.Fatal("hostile line verified")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 20*uint64(len(big)) {
		t.Fatalf("verifying a %d-byte line allocated %d bytes", len(big), alloc)
	} else {
		t.Logf("verifying a %d-byte hostile line allocated %d bytes", len(big), alloc)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestVerifyReadError(t *testing.T) {
	file, vkey, _ := exportFixture(t, 3)
	rep := Verify(&failingReader{data: file[:len(file)/2], err: errors.New("disk gone")}, VerifyOptions{Keys: []string{vkey}})
	c, _ := rep.Check(CheckNameParse)
	if rep.Valid || c.OK || !strings.Contains(c.Message, "read error: disk gone") {
		t.Fatalf("read error: %+v", c)
	}
	if _, err := ReadEntries(&failingReader{data: file, err: errors.New("disk gone")}); err == nil {
		t.Fatal("ReadEntries ignored a read error")
	}
}

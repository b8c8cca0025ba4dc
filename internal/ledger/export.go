package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/canon"
)

// MaxExportProofs is the largest session an export carries one inclusion
// proof per entry for. A larger session carries the proof of its last entry
// only: that entry's hash commits, through the prev links, to every earlier
// entry, so one proof binds the whole chain to the signed tree while the
// trailer stays far below MaxLineBytes.
const MaxExportProofs = 4096

// ExportVersion is the version number in export trailers.
const ExportVersion = 1

// exportPage is how many entries Export reads from the store at once.
const exportPage = 1024

// trailer is the last line of an export file.
type trailer struct {
	Warden trailerBody `json:"warden"`
}

type trailerBody struct {
	Version     int            `json:"version"`
	SessionID   string         `json:"sessionId"`
	Entries     int64          `json:"entries"`
	LastHash    string         `json:"lastHash"`
	Checkpoint  string         `json:"checkpoint"`
	Seal        string         `json:"seal"`
	VerifierKey string         `json:"verifierKey"`
	Proofs      []trailerProof `json:"proofs"`
}

type trailerProof struct {
	Seq   int64    `json:"seq"`
	Index int64    `json:"index"`
	Proof []string `json:"proof"`
}

// Export writes the session's entries as JSONL, one entry per line in
// det-acp's key order, followed by one trailer line:
//
//	{"warden":{"version":1,"sessionId":…,"entries":N,"lastHash":…,
//	  "checkpoint":"<signed note>","seal":"<signed note>","verifierKey":…,
//	  "proofs":[{"seq":1,"index":…,"proof":["<base64 hash>",…]},…]}}
//
// The checkpoint covers every exported entry (the latest stored checkpoint
// if it does, else a new one). The seal is a note signed with the same key
// stating the session, the entry count, the last hash and the checkpoint's
// size, so that a shortened file cannot be passed off with an edited
// trailer. Proofs are RFC 6962 inclusion proofs against
// the checkpoint: one per entry, or for the last entry only when the session
// has more than MaxExportProofs entries. Export fails if the session is
// unknown, the ledger has no signer, or the stored entries do not verify.
func (l *Ledger) Export(ctx context.Context, w io.Writer, sessionID string) error {
	if l.signer == nil {
		return fmt.Errorf("%w: export needs a signing key", ErrInvalid)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	type ref struct{ seq, index int64 }
	var (
		refs  []ref
		last  Entry
		count int64
		line  []byte
	)
	for after := int64(0); ; {
		page, err := l.store.Entries(ctx, sessionID, after, exportPage)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			e := &page[i]
			wantPrev := Genesis
			if count > 0 {
				wantPrev = last.Hash
			}
			if e.SessionID != sessionID || e.Seq != count+1 || e.Prev != wantPrev || (count > 0 && e.Index <= last.Index) {
				return fmt.Errorf("%w: stored session %q is not a valid chain at seq %d", ErrInvalid, clip(sessionID), count+1)
			}
			if err := e.Verify(); err != nil {
				return fmt.Errorf("stored entry %d: %w", e.Index, err)
			}
			line = append(e.AppendLine(line[:0]), '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
			if count < MaxExportProofs {
				refs = append(refs, ref{e.Seq, e.Index})
			}
			last = *e
			count++
		}
		after = last.Seq
	}
	if count == 0 {
		return fmt.Errorf("%w: session %q has no entries", ErrNotFound, clip(sessionID))
	}
	cp, err := l.coveringCheckpoint(ctx, last.Index)
	if err != nil {
		return err
	}
	if count > MaxExportProofs {
		refs = []ref{{last.Seq, last.Index}}
	}
	seal, err := note.Sign(&note.Note{Text: sealBody(sessionID, count, last.Hash, cp.Size)}, l.signer.signer)
	if err != nil {
		return fmt.Errorf("ledger: sign export seal: %w", err)
	}
	t := trailer{Warden: trailerBody{
		Version:     ExportVersion,
		SessionID:   sessionID,
		Entries:     count,
		LastHash:    last.Hash,
		Checkpoint:  string(cp.Note),
		Seal:        string(seal),
		VerifierKey: l.signer.VerifierKey(),
		Proofs:      make([]trailerProof, 0, len(refs)),
	}}
	for _, r := range refs {
		p, err := l.ProveInclusion(ctx, r.index, cp.Size)
		if err != nil {
			return err
		}
		tp := trailerProof{Seq: r.seq, Index: r.index, Proof: make([]string, len(p))}
		for i, h := range p {
			tp.Proof[i] = base64.StdEncoding.EncodeToString(h[:])
		}
		t.Warden.Proofs = append(t.Warden.Proofs, tp)
	}
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return err
	}
	return bw.Flush()
}

// parseTrailer decodes a trailer line strictly: it must be byte for byte
// the JSON Export writes (so no unknown, repeated, reordered or differently
// cased keys, no missing fields, no extra whitespace). The number of proofs
// and of strings is bounded before decoding, so a hostile 16 MiB trailer
// cannot take much more memory than its own size.
func parseTrailer(line []byte) (trailerBody, error) {
	if n := bytes.Count(line, []byte(`"seq"`)); n > MaxExportProofs+1 {
		return trailerBody{}, fmt.Errorf("%w: trailer has %d proofs, more than %d", ErrInvalid, n, MaxExportProofs)
	}
	if n := bytes.Count(line, []byte(`"`)); n > (MaxExportProofs+1)*(2*64+8)+64 {
		return trailerBody{}, fmt.Errorf("%w: trailer has too many strings", ErrInvalid)
	}
	var t trailer
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return trailerBody{}, fmt.Errorf("%w: trailer: %v", ErrInvalid, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil || !bytes.Equal(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), line) {
		return trailerBody{}, fmt.Errorf("%w: trailer is not exactly as Warden writes it (missing, extra, repeated or reordered fields, or reformatted)", ErrInvalid)
	}
	if t.Warden.Version != ExportVersion {
		return trailerBody{}, fmt.Errorf("%w: trailer version %d, want %d", ErrInvalid, t.Warden.Version, ExportVersion)
	}
	return t.Warden, nil
}

// sealHeader is the first line of an export seal.
const sealHeader = "warden-export/1"

// sealBody is the text of an export seal, the signed statement that the
// session had exactly entries entries, the last with hash lastHash, when it
// was exported against the checkpoint of the given tree size:
//
//	warden-export/1
//	<sessionId>
//	<entries>
//	<lastHash>
//	<checkpoint size>
func sealBody(sessionID string, entries int64, lastHash string, size int64) string {
	return sealHeader + "\n" + sessionID + "\n" + strconv.FormatInt(entries, 10) + "\n" + lastHash + "\n" + strconv.FormatInt(size, 10) + "\n"
}

// seal is a parsed export seal.
type seal struct {
	sessionID string
	entries   int64
	lastHash  string
	size      int64
}

// parseSealBody parses the body of an export seal strictly.
func parseSealBody(text string) (seal, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 6 || lines[5] != "" || lines[0] != sealHeader {
		return seal{}, fmt.Errorf("%w: export seal is not %s with five lines", ErrInvalid, sealHeader)
	}
	s := seal{sessionID: lines[1], lastHash: lines[3]}
	if err := checkName("sessionId", s.sessionID, MaxSessionIDLen); err != nil {
		return seal{}, err
	}
	if !canon.IsDigest(s.lastHash) {
		return seal{}, fmt.Errorf("%w: export seal last hash %q is not a sha256 digest", ErrInvalid, clip(s.lastHash))
	}
	var err error
	if s.entries, err = parseSeq([]byte(lines[2])); err != nil {
		return seal{}, fmt.Errorf("%w: export seal entry count %q", ErrInvalid, clip(lines[2]))
	}
	if s.size, err = parseSeq([]byte(lines[4])); err != nil {
		return seal{}, fmt.Errorf("%w: export seal tree size %q", ErrInvalid, clip(lines[4]))
	}
	return s, nil
}

// decodeProof decodes a trailer proof's base64 hashes.
func decodeProof(p []string) (tlog.RecordProof, error) {
	if len(p) > 64 {
		return nil, fmt.Errorf("%w: proof has %d hashes", ErrInvalid, len(p))
	}
	out := make(tlog.RecordProof, len(p))
	for i, s := range p {
		b, err := b64.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("%w: proof hash %d is not a base64 SHA-256 hash", ErrInvalid, i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

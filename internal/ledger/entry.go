package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/canon"
)

// Genesis is the prev value of the first entry of every session: "sha256:"
// followed by 64 zeros, as in det-acp.
const Genesis = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is the layout of Entry.TS: UTC, milliseconds, "Z", exactly what
// JavaScript's Date.prototype.toISOString writes.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Limits on entry fields. They keep lines and hash inputs bounded and keep
// identifiers printable.
const (
	// MaxSessionIDLen is the longest session ID, in bytes.
	MaxSessionIDLen = 256
	// MaxTypeLen is the longest entry type, in bytes.
	MaxTypeLen = 128
	// MaxSeq is the largest sequence number: 2^53, the largest integer
	// that JSON (and JavaScript) carries exactly.
	MaxSeq = 1 << 53
)

var (
	// ErrInvalid is wrapped by errors about malformed entries, arguments
	// and files.
	ErrInvalid = errors.New("ledger: invalid")
	// ErrConflict is wrapped by Store.Append errors when the batch does not
	// continue the store's current state (tree size, a session's seq or
	// prev); nothing was written and the caller may rebuild and retry.
	ErrConflict = errors.New("ledger: append conflicts with the stored state")
	// ErrNotFound is wrapped by errors about unknown sessions and indexes.
	ErrNotFound = errors.New("ledger: not found")
)

// Entry is one ledger record. Its JSON form, in files, keeps det-acp's key
// order: seq, ts, hash, prev, sessionId, type, data.
type Entry struct {
	// Seq is the entry's position in its session's hash chain, from 1.
	Seq int64 `json:"seq"`
	// TS is the time of the append, in TimeFormat.
	TS string `json:"ts"`
	// Hash is Digest(JCS(the entry without "hash")).
	Hash string `json:"hash"`
	// Prev is the Hash of the session's previous entry, or Genesis.
	Prev string `json:"prev"`
	// SessionID names the session, and so the hash chain.
	SessionID string `json:"sessionId"`
	// Type is the event type, such as "action:evaluate".
	Type string `json:"type"`
	// Data is the event's JSON payload, in RFC 8785 form when written by
	// Warden.
	Data json.RawMessage `json:"data"`
	// Index is the entry's 0-based position in the global Merkle tree over
	// all sessions, or -1 when unknown (an entry read from a det-acp file).
	Index int64 `json:"-"`
}

// NewEntry builds an entry and computes its hash. data is encoded with
// encoding/json and canonicalized with RFC 8785 (no redaction is applied
// here; Ledger.Append redacts). Index is left at 0 for the caller to set.
func NewEntry(sessionID, typ string, seq int64, prev string, ts time.Time, data any) (Entry, error) {
	raw, err := canon.Marshal(data)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: entry data: %w", ErrInvalid, err)
	}
	tss, err := FormatTime(ts)
	if err != nil {
		return Entry{}, err
	}
	return newEntryCanonical(sessionID, typ, seq, prev, tss, raw)
}

// newEntryCanonical builds an entry whose data is already in RFC 8785 form.
func newEntryCanonical(sessionID, typ string, seq int64, prev, ts string, data []byte) (Entry, error) {
	e := Entry{Seq: seq, TS: ts, Prev: prev, SessionID: sessionID, Type: typ, Data: data}
	if err := e.checkFields(false); err != nil {
		return Entry{}, err
	}
	e.Hash = canon.Digest(e.hashInput(nil))
	return e, nil
}

// FormatTime returns t in TimeFormat (UTC, truncated to milliseconds). Years
// outside 0000–9999 are an error, as they are for toISOString's short form.
func FormatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("%w: timestamp year %d out of range", ErrInvalid, y)
	}
	return t.Truncate(time.Millisecond).Format(TimeFormat), nil
}

// ParseTime parses a timestamp in exactly TimeFormat.
func ParseTime(s string) (time.Time, error) {
	if !validTS(s) {
		return time.Time{}, fmt.Errorf("%w: timestamp %q is not of the form YYYY-MM-DDTHH:MM:SS.mmmZ", ErrInvalid, clip(s))
	}
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp %q: %v", ErrInvalid, clip(s), err)
	}
	return t, nil
}

// validTS checks the shape of TimeFormat without allocating.
func validTS(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd.dddZ"
	if len(s) != len(shape) {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != shape[i] {
			return false
		}
	}
	return true
}

// checkFields validates everything but the data's JSON and, when withHash,
// the form of Hash.
func (e *Entry) checkFields(withHash bool) error {
	if e.Seq < 1 || e.Seq > MaxSeq {
		return fmt.Errorf("%w: seq %d out of range 1..2^53", ErrInvalid, e.Seq)
	}
	if _, err := ParseTime(e.TS); err != nil {
		return err
	}
	if !canon.IsDigest(e.Prev) {
		return fmt.Errorf("%w: prev %q is not a sha256 digest", ErrInvalid, clip(e.Prev))
	}
	if withHash && !canon.IsDigest(e.Hash) {
		return fmt.Errorf("%w: hash %q is not a sha256 digest", ErrInvalid, clip(e.Hash))
	}
	if e.Seq == 1 && e.Prev != Genesis {
		return fmt.Errorf("%w: seq 1 must have the genesis prev", ErrInvalid)
	}
	if err := checkName("sessionId", e.SessionID, MaxSessionIDLen); err != nil {
		return err
	}
	if err := checkName("type", e.Type, MaxTypeLen); err != nil {
		return err
	}
	if len(e.Data) == 0 {
		return fmt.Errorf("%w: entry has no data", ErrInvalid)
	}
	return nil
}

// checkName accepts non-empty valid UTF-8 without control characters.
func checkName(field, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrInvalid, field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: %s %q contains a control character", ErrInvalid, field, clip(s))
		}
	}
	return nil
}

// Verify checks the entry's fields and recomputes its hash.
func (e *Entry) Verify() error {
	if err := e.checkFields(true); err != nil {
		return err
	}
	data, err := canonical(e.Data)
	if err != nil {
		return fmt.Errorf("%w: entry data: %w", ErrInvalid, err)
	}
	c := *e
	c.Data = data
	if got := canon.Digest(c.hashInput(nil)); got != e.Hash {
		return fmt.Errorf("%w: hash mismatch at seq %d: computed %s, recorded %s", ErrInvalid, e.Seq, got, e.Hash)
	}
	return nil
}

// Leaf returns the entry's Merkle leaf data: the RFC 8785 form of the whole
// entry, hash included. The tree's record hash is tlog.RecordHash(leaf).
func (e *Entry) Leaf() ([]byte, error) {
	if err := e.Verify(); err != nil {
		return nil, err
	}
	return e.canonicalLeaf()
}

// canonicalLeaf is Leaf without the verification.
func (e *Entry) canonicalLeaf() ([]byte, error) {
	data, err := canonical(e.Data)
	if err != nil {
		return nil, err
	}
	c := *e
	c.Data = data
	return c.leaf(nil), nil
}

// LeafHash returns tlog.RecordHash of the entry's Leaf.
func (e *Entry) LeafHash() (tlog.Hash, error) {
	leaf, err := e.Leaf()
	if err != nil {
		return tlog.Hash{}, err
	}
	return tlog.RecordHash(leaf), nil
}

// hashInput appends the RFC 8785 form of the entry without "hash" to dst.
// e.Data must already be canonical. Keys in RFC 8785 order:
// data, prev, seq, sessionId, ts, type.
func (e *Entry) hashInput(dst []byte) []byte {
	dst = append(dst, `{"data":`...)
	dst = append(dst, e.Data...)
	return e.appendTail(dst)
}

// leaf appends the RFC 8785 form of the whole entry to dst.
func (e *Entry) leaf(dst []byte) []byte {
	dst = append(dst, `{"data":`...)
	dst = append(dst, e.Data...)
	dst = append(dst, `,"hash":`...)
	dst = canon.AppendString(dst, e.Hash)
	return e.appendTail(dst)
}

func (e *Entry) appendTail(dst []byte) []byte {
	dst = append(dst, `,"prev":`...)
	dst = canon.AppendString(dst, e.Prev)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"sessionId":`...)
	dst = canon.AppendString(dst, e.SessionID)
	dst = append(dst, `,"ts":`...)
	dst = canon.AppendString(dst, e.TS)
	dst = append(dst, `,"type":`...)
	dst = canon.AppendString(dst, e.Type)
	return append(dst, '}')
}

// AppendLine appends the entry's file line, without the newline, to dst:
// one JSON object in det-acp's key order with the data as stored.
func (e *Entry) AppendLine(dst []byte) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = canon.AppendString(dst, e.TS)
	dst = append(dst, `,"hash":`...)
	dst = canon.AppendString(dst, e.Hash)
	dst = append(dst, `,"prev":`...)
	dst = canon.AppendString(dst, e.Prev)
	dst = append(dst, `,"sessionId":`...)
	dst = canon.AppendString(dst, e.SessionID)
	dst = append(dst, `,"type":`...)
	dst = canon.AppendString(dst, e.Type)
	dst = append(dst, `,"data":`...)
	dst = append(dst, e.Data...)
	return append(dst, '}')
}

// canonical returns the RFC 8785 form of data, without copying data that
// is already canonical (as Warden stores it).
func canonical(data []byte) ([]byte, error) {
	if canon.IsCanonical(data) {
		return data, nil
	}
	return canon.JCS(data)
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

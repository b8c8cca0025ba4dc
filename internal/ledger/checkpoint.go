package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// maxNoteSize bounds a checkpoint note read from a file.
const maxNoteSize = 64 << 10

var b64 = base64.StdEncoding.Strict()

// checkOrigin validates a checkpoint origin line.
func checkOrigin(origin string) error {
	if origin == "" || len(origin) > 256 || !utf8.ValidString(origin) ||
		strings.IndexFunc(origin, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%w: checkpoint origin %q must be 1 to 256 bytes of UTF-8 without control characters", ErrInvalid, clip(origin))
	}
	return nil
}

// checkpointBody returns the C2SP tlog-checkpoint body: origin, size and the
// base64 root hash, one per line.
func checkpointBody(origin string, size int64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// parseCheckpointBody parses a note body written by checkpointBody. It
// accepts exactly three lines (no extension lines), a size in canonical
// decimal and a 32-byte root in padded standard base64.
func parseCheckpointBody(text string) (origin string, size int64, root tlog.Hash, err error) {
	bad := func(format string, args ...any) (string, int64, tlog.Hash, error) {
		return "", 0, tlog.Hash{}, fmt.Errorf("%w: checkpoint body: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return bad("want exactly three lines (origin, size, root)")
	}
	if err := checkOrigin(lines[0]); err != nil {
		return "", 0, tlog.Hash{}, err
	}
	s := lines[1]
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') || strings.Trim(s, "0123456789") != "" {
		return bad("size %q is not a decimal number", clip(s))
	}
	size, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return bad("size %q out of range", clip(s))
	}
	h, derr := b64.DecodeString(lines[2])
	if derr != nil || len(h) != tlog.HashSize {
		return bad("root %q is not a base64 SHA-256 hash", clip(lines[2]))
	}
	copy(root[:], h)
	return lines[0], size, root, nil
}

// signCheckpoint signs the checkpoint body for a tree head.
func signCheckpoint(s *Signer, origin string, size int64, root tlog.Hash) ([]byte, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: checkpointBody(origin, size, root)}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	return msg, nil
}

// UnknownKeyError reports a signed note (a checkpoint or an export seal)
// signed only by keys that are not trusted.
type UnknownKeyError struct {
	// Keys are the "<name>+<hash>" of the signatures found.
	Keys []string
}

func (e *UnknownKeyError) Error() string {
	if len(e.Keys) == 0 {
		return "the note has no signature"
	}
	return "signed only by unknown key(s) " + strings.Join(e.Keys, ", ") + ", none of which is trusted"
}

// ErrNoTrustedKey is returned by OpenCheckpoint when no trusted key is given.
var ErrNoTrustedKey = errors.New("ledger: no trusted key given")

// OpenCheckpoint verifies a signed checkpoint note against the trusted
// verifier keys (in "<name>+<hash>+<base64>" form) and returns it. At least
// one signature must be by a trusted key; a signature by a trusted key that
// does not verify is an error. Errors: ErrNoTrustedKey, *UnknownKeyError,
// *note.InvalidSignatureError, or one wrapping ErrInvalid.
func OpenCheckpoint(msg []byte, keys []string) (Checkpoint, error) {
	n, err := openNote(msg, keys)
	if err != nil {
		return Checkpoint{}, err
	}
	origin, size, root, err := parseCheckpointBody(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Origin: origin, Size: size, Root: root, Note: bytes.Clone(msg)}, nil
}

// openNote verifies a signed note against trusted keys; see OpenCheckpoint
// for the errors.
func openNote(msg []byte, keys []string) (*note.Note, error) {
	if len(msg) > maxNoteSize {
		return nil, fmt.Errorf("%w: signed note is %d bytes, more than %d", ErrInvalid, len(msg), maxNoteSize)
	}
	verifiers, err := trustedVerifiers(keys)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			uk := &UnknownKeyError{}
			for _, s := range unverified.Note.UnverifiedSigs {
				uk.Keys = append(uk.Keys, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return nil, uk
		}
		var invalid *note.InvalidSignatureError
		if errors.As(err, &invalid) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: signed note: %v", ErrInvalid, err)
	}
	return n, nil
}

// trustedVerifiers parses keys, dropping duplicates (note.VerifierList
// rejects the same key twice as ambiguous).
func trustedVerifiers(keys []string) ([]note.Verifier, error) {
	if len(keys) == 0 {
		return nil, ErrNoTrustedKey
	}
	type id struct {
		name string
		hash uint32
	}
	seen := map[id]bool{}
	var out []note.Verifier
	for i, k := range keys {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("%w: trusted key %d (%q): %v", ErrInvalid, i+1, clip(k), err)
		}
		if seen[id{v.Name(), v.KeyHash()}] {
			continue
		}
		seen[id{v.Name(), v.KeyHash()}] = true
		out = append(out, v)
	}
	return out, nil
}

// splitNote returns the body of a note without verifying anything, or false
// if msg is not shaped like a signed note.
func splitNote(msg []byte) (string, bool) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return "", false
	}
	return string(msg[:i+1]), true
}

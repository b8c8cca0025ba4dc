package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Signer signs checkpoints with an Ed25519 key in the signed-note format of
// golang.org/x/mod/sumdb/note. Keys are text: the private key
// "PRIVATE+KEY+<name>+<hash>+<base64>" and the verifier key
// "<name>+<hash>+<base64>", one line each, so a verifier key fits in a
// configuration file or on a command line.
type Signer struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

// GenerateSigner creates a new Ed25519 key named name and returns the signer
// with its private key (skey, keep secret) and verifier key (vkey, publish).
// A name is non-empty UTF-8 without spaces or '+', for example
// "warden.example.com/ledger".
func GenerateSigner(name string) (*Signer, string, string, error) {
	if err := checkKeyName(name); err != nil {
		return nil, "", "", err
	}
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, "", "", fmt.Errorf("ledger: generate key: %w", err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		return nil, "", "", err
	}
	return s, skey, s.vkey, nil
}

// NewSigner returns the signer for a private key in note format, as returned
// by GenerateSigner. Only Ed25519 keys are supported.
func NewSigner(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	ns, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrInvalid, err)
	}
	// note.NewSigner has validated the layout; derive the public key.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("%w: private key is not an Ed25519 key", ErrInvalid)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(ns.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrInvalid, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrInvalid, err)
	}
	return &Signer{signer: ns, verifier: v, vkey: vkey}, nil
}

// Name returns the key's name.
func (s *Signer) Name() string { return s.signer.Name() }

// Verifier returns the note.Verifier for the signer's public key.
func (s *Signer) Verifier() note.Verifier { return s.verifier }

// VerifierKey returns the encoded verifier key, "<name>+<hash>+<base64>".
func (s *Signer) VerifierKey() string { return s.vkey }

// checkKeyName applies note's rules for key names.
func checkKeyName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, '+') ||
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%w: key name %q must be non-empty UTF-8 without spaces, control characters or '+'", ErrInvalid, clip(name))
	}
	return nil
}

// LoadOrCreateKey returns the signer whose private key is stored at path,
// creating the key (named name) if the file does not exist. A new key file is
// written atomically with mode 0600: a temporary file in the same directory
// is written and fsynced, then linked into place (so two processes racing to
// create it end up sharing one key), and the directory is fsynced. An
// existing file must not be readable or writable by group or others, and
// the key it holds must be named name.
func LoadOrCreateKey(path, name string) (*Signer, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	s, err := loadKey(path, name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	_, skey, _, err := GenerateSigner(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("ledger: create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSync(tmp, skey+"\n"); err != nil {
		return nil, fmt.Errorf("ledger: write key file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadKey(path, name) // another process created it first
		}
		// Hard links unsupported: fall back to rename, which replaces any
		// file created since the check above.
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("ledger: install key file: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return nil, fmt.Errorf("ledger: sync key directory: %w", serr)
		}
	}
	return loadKey(path, name)
}

func writeSync(f *os.File, content string) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadKey(path, name string) (*Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: key file %s is not a regular file", ErrInvalid, path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: key file %s has mode %04o; it must not be accessible by group or others (chmod 600 %s)", ErrInvalid, path, fi.Mode().Perm(), path)
	}
	if fi.Size() > 4096 {
		return nil, fmt.Errorf("%w: key file %s is too large to be a key", ErrInvalid, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if s.Name() != name {
		return nil, fmt.Errorf("%w: key file %s holds key %q, want %q", ErrInvalid, path, s.Name(), name)
	}
	return s, nil
}

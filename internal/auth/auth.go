// Package auth issues and checks the bearer tokens of Warden's HTTP API.
//
// A token names an identity (the name recorded as requester or approver),
// a role — agent, approver or admin — and the groups the identity belongs
// to, which gates may name as "group:<name>" approvers. Its secret,
// "wdn_" followed by 32 random base62 characters, is shown once when it is
// issued; a Store keeps only the secret's SHA-256, so a leaked store does
// not leak credentials. Authenticate looks a token up by that digest and
// compares digests in constant time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/wardenhq/warden/internal/warden"
)

// Role is what a token may do.
type Role string

// The roles, from least to most trusted.
const (
	// RoleAgent may create sessions and evaluate, record, terminate and
	// report in the sessions it created.
	RoleAgent Role = "agent"
	// RoleApprover may list and decide approvals and read every session
	// and report.
	RoleApprover Role = "approver"
	// RoleAdmin may do everything an approver or an agent may, in every
	// session, and read the metrics.
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r == RoleAgent || r == RoleApprover || r == RoleAdmin }

// Token is an issued credential. Hash is the hex SHA-256 of the secret; the
// secret itself is never stored.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Groups  []string  `json:"groups,omitempty"`
	Hash    string    `json:"-"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked"`
}

// Principal is the identity an authenticated request acts as.
type Principal struct {
	TokenID string
	Name    string
	Role    Role
	Groups  []string
}

// Has reports whether the principal holds role need: admins hold every
// role, others only their own.
func (p Principal) Has(need Role) bool {
	return p.Role == need || p.Role == RoleAdmin
}

// Store keeps tokens. Implementations are safe for concurrent use and
// return copies that callers may modify.
type Store interface {
	// Put stores t, replacing any token with the same ID.
	Put(ctx context.Context, t Token) error
	// ByHash returns the token whose Hash is hash, or ErrNotFound.
	ByHash(ctx context.Context, hash string) (Token, error)
	// List returns every token, revoked ones included, ordered by Created
	// and then ID.
	List(ctx context.Context) ([]Token, error)
	// Revoke marks the token with this ID revoked, or returns ErrNotFound.
	// Revoking a revoked token succeeds.
	Revoke(ctx context.Context, id string) error
}

// ErrNotFound is returned by a Store for an unknown token.
var ErrNotFound = errors.New("token not found")

// SecretPrefix starts every token secret.
const SecretPrefix = "wdn_"

// secretChars is the number of random characters after SecretPrefix.
const secretChars = 32

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// maxNameLen bounds identity and group names.
const maxNameLen = 128

// HashSecret returns the hex SHA-256 of a secret: what a Store keeps.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// randomBase62 returns n uniformly random base62 characters.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps every character
			// equally likely.
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// Issue creates a token for the identity name with role and groups, stores
// it, and returns its secret — the only time the secret is available — and
// the stored token.
func Issue(ctx context.Context, store Store, name string, role Role, groups []string) (string, Token, error) {
	if err := checkName("name", name); err != nil {
		return "", Token{}, err
	}
	if !role.Valid() {
		return "", Token{}, warden.Errorf(warden.CodeInvalidInput, "role %q is not a role; use agent, approver or admin", role)
	}
	for _, g := range groups {
		if err := checkName("group", g); err != nil {
			return "", Token{}, err
		}
	}
	secret := SecretPrefix + randomBase62(secretChars)
	t := Token{
		ID:      "tok_" + randomBase62(12),
		Name:    name,
		Role:    role,
		Groups:  slices.Clone(groups),
		Hash:    HashSecret(secret),
		Created: time.Now().UTC(),
	}
	if err := store.Put(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("store token: %w", err)
	}
	return secret, t, nil
}

func checkName(what, s string) error {
	switch {
	case strings.TrimSpace(s) == "" || strings.TrimSpace(s) != s:
		return warden.Errorf(warden.CodeInvalidInput, "the token's %s %q must be non-empty and have no surrounding spaces", what, s)
	case len(s) > maxNameLen:
		return warden.Errorf(warden.CodeInvalidInput, "the token's %s is longer than %d bytes", what, maxNameLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return warden.Errorf(warden.CodeInvalidInput, "the token's %s %q contains control characters", what, s)
	}
	return nil
}

// wellFormed reports whether secret has the shape of an issued secret.
func wellFormed(secret string) bool {
	rest, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok || len(rest) != secretChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// Authenticate returns the principal of secret. An unknown, malformed or
// revoked secret is an UNAUTHORIZED error; a store failure is returned
// as is.
func Authenticate(ctx context.Context, store Store, secret string) (Principal, error) {
	if !wellFormed(secret) {
		return Principal{}, warden.Errorf(warden.CodeUnauthorized, "invalid token: a Warden token is %s followed by %d letters and digits", SecretPrefix, secretChars)
	}
	hash := HashSecret(secret)
	t, err := store.ByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, warden.Errorf(warden.CodeUnauthorized, "invalid token: no such token; ask an admin for one")
	} else if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	// The lookup is by digest, which reveals nothing about the secret; the
	// final comparison is constant-time all the same.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
		return Principal{}, warden.Errorf(warden.CodeUnauthorized, "invalid token: no such token; ask an admin for one")
	}
	if t.Revoked {
		return Principal{}, warden.Errorf(warden.CodeUnauthorized, "token %s has been revoked; ask an admin for a new one", t.ID)
	}
	if !t.Role.Valid() {
		return Principal{}, warden.Errorf(warden.CodeUnauthorized, "token %s has no valid role; ask an admin for a new one", t.ID)
	}
	return Principal{TokenID: t.ID, Name: t.Name, Role: t.Role, Groups: slices.Clone(t.Groups)}, nil
}

package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/warden"
)

func TestMemStoreConformance(t *testing.T) {
	StoreConformance(t, func(*testing.T) Store { return NewMemStore() })
}

func TestIssueSecretShape(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	seen := map[string]bool{}
	for range 50 {
		secret, tok, err := Issue(ctx, s, "agent-1", RoleAgent, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !wellFormed(secret) || len(secret) != len(SecretPrefix)+32 {
			t.Fatalf("secret %q is not wdn_ + 32 base62 characters", secret)
		}
		if seen[secret] {
			t.Fatalf("secret %q issued twice", secret)
		}
		seen[secret] = true
		if tok.Hash != HashSecret(secret) || strings.Contains(tok.Hash, secret[len(SecretPrefix):]) {
			t.Fatalf("stored hash %q is not the secret's SHA-256", tok.Hash)
		}
		if !strings.HasPrefix(tok.ID, "tok_") || tok.Created.IsZero() || tok.Revoked {
			t.Fatalf("token %+v", tok)
		}
	}
	list, _ := s.List(ctx)
	for _, tok := range list {
		if seen[tok.Hash] {
			t.Fatal("a store holds a secret")
		}
	}
}

func TestIssueRejects(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		role   Role
		groups []string
	}{
		{"", RoleAgent, nil},
		{" alice", RoleAgent, nil},
		{"alice\n", RoleAgent, nil},
		{strings.Repeat("a", 129), RoleAgent, nil},
		{"alice", "root", nil},
		{"alice", RoleApprover, []string{""}},
		{"alice", RoleApprover, []string{"a\x00b"}},
	} {
		if _, _, err := Issue(ctx, NewMemStore(), tc.name, tc.role, tc.groups); warden.ErrorCode(err) != warden.CodeInvalidInput {
			t.Errorf("Issue(%q, %q, %q) error = %v, want INVALID_INPUT", tc.name, tc.role, tc.groups, err)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	secret, tok, err := Issue(ctx, s, "bob", RoleAdmin, []string{"ops"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Authenticate(ctx, s, secret)
	if err != nil || p.Name != "bob" || p.Role != RoleAdmin || p.TokenID != tok.ID {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	for _, bad := range []string{
		"",
		"Bearer " + secret,
		secret + "x",
		secret[:len(secret)-1],
		strings.Replace(secret, "wdn_", "wdx_", 1),
		"wdn_" + strings.Repeat("!", 32),
		"wdn_" + strings.Repeat("A", 32),
	} {
		if _, err := Authenticate(ctx, s, bad); warden.ErrorCode(err) != warden.CodeUnauthorized {
			t.Errorf("Authenticate(%q) error = %v, want UNAUTHORIZED", bad, err)
		}
	}
	if err := s.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = Authenticate(ctx, s, secret)
	if warden.ErrorCode(err) != warden.CodeUnauthorized || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("Authenticate(revoked) error = %v", err)
	}
}

func TestPrincipalHas(t *testing.T) {
	for _, tc := range []struct {
		role Role
		need Role
		want bool
	}{
		{RoleAgent, RoleAgent, true},
		{RoleAgent, RoleApprover, false},
		{RoleAgent, RoleAdmin, false},
		{RoleApprover, RoleApprover, true},
		{RoleApprover, RoleAgent, false},
		{RoleApprover, RoleAdmin, false},
		{RoleAdmin, RoleAgent, true},
		{RoleAdmin, RoleApprover, true},
		{RoleAdmin, RoleAdmin, true},
	} {
		if got := (Principal{Role: tc.role}).Has(tc.need); got != tc.want {
			t.Errorf("%s.Has(%s) = %v, want %v", tc.role, tc.need, got, tc.want)
		}
	}
}

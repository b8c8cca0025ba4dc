package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wardenhq/warden/internal/warden"
)

// StoreConformance runs the behaviour every Store must have against stores
// made by newStore, which returns an empty store for each subtest. Store
// implementations call it from their tests.
//
// Timestamps are compared with time.Time.Equal at millisecond precision,
// and nil and empty group lists are equal, so a store may keep either.
func StoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	tok := func(id, hash string, offset time.Duration, groups ...string) Token {
		return Token{ID: id, Name: "name-" + id, Role: RoleApprover, Groups: groups, Hash: hash, Created: at.Add(offset)}
	}
	opts := cmp.Options{cmpopts.EquateEmpty()}
	mustPut := func(t *testing.T, s Store, tokens ...Token) {
		t.Helper()
		for _, tk := range tokens {
			if err := s.Put(ctx, tk); err != nil {
				t.Fatalf("Put(%s): %v", tk.ID, err)
			}
		}
	}

	t.Run("ByHashUnknown", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.ByHash(ctx, HashSecret("wdn_nothing")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ByHash(unknown) error = %v, want ErrNotFound", err)
		}
	})

	t.Run("PutByHash", func(t *testing.T) {
		s := newStore(t)
		want := tok("tok_a", HashSecret("a"), 0, "security", "oncall")
		mustPut(t, s, want, tok("tok_b", HashSecret("b"), time.Second))
		got, err := s.ByHash(ctx, want.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, opts); d != "" {
			t.Errorf("ByHash (-want +got):\n%s", d)
		}
	})

	t.Run("ListOrder", func(t *testing.T) {
		s := newStore(t)
		if list, err := s.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("List(empty) = %v, %v; want nothing", list, err)
		}
		a, b, c := tok("tok_c", "h1", 2*time.Second), tok("tok_a", "h2", 0), tok("tok_b", "h3", 2*time.Second)
		mustPut(t, s, a, b, c)
		got, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]Token{b, c, a}, got, opts); d != "" {
			t.Errorf("List (-want +got):\n%s", d)
		}
	})

	t.Run("PutReplaces", func(t *testing.T) {
		s := newStore(t)
		old := tok("tok_a", "old-hash", 0)
		mustPut(t, s, old)
		repl := old
		repl.Name, repl.Role, repl.Hash = "renamed", RoleAdmin, "new-hash"
		mustPut(t, s, repl)
		if _, err := s.ByHash(ctx, "old-hash"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ByHash(replaced hash) error = %v, want ErrNotFound", err)
		}
		got, err := s.ByHash(ctx, "new-hash")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(repl, got, opts); d != "" {
			t.Errorf("replaced token (-want +got):\n%s", d)
		}
		if list, _ := s.List(ctx); len(list) != 1 {
			t.Errorf("List after replace has %d tokens, want 1", len(list))
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		s := newStore(t)
		a, b := tok("tok_a", "ha", 0), tok("tok_b", "hb", time.Second)
		mustPut(t, s, a, b)
		if err := s.Revoke(ctx, "tok_a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "tok_a"); err != nil {
			t.Errorf("second Revoke: %v, want nil", err)
		}
		if err := s.Revoke(ctx, "tok_nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Revoke(unknown) error = %v, want ErrNotFound", err)
		}
		got, err := s.ByHash(ctx, "ha")
		if err != nil {
			t.Fatal(err)
		}
		a.Revoked = true
		if d := cmp.Diff(a, got, opts); d != "" {
			t.Errorf("revoked token (-want +got):\n%s", d)
		}
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]Token{a, b}, list, opts); d != "" {
			t.Errorf("List after revoke (-want +got):\n%s", d)
		}
	})

	t.Run("CopiesOut", func(t *testing.T) {
		s := newStore(t)
		in := tok("tok_a", "ha", 0, "g1")
		mustPut(t, s, in)
		in.Groups[0] = "changed-after-put"
		got, _ := s.ByHash(ctx, "ha")
		if len(got.Groups) != 1 || got.Groups[0] != "g1" {
			t.Fatalf("groups after the caller changed its slice: %v", got.Groups)
		}
		got.Groups[0] = "changed-after-get"
		again, _ := s.ByHash(ctx, "ha")
		if again.Groups[0] != "g1" {
			t.Fatalf("groups after the caller changed a returned slice: %v", again.Groups)
		}
	})

	t.Run("IssueAuthenticate", func(t *testing.T) {
		s := newStore(t)
		secret, issued, err := Issue(ctx, s, "alice", RoleApprover, []string{"security"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Authenticate(ctx, s, secret)
		if err != nil {
			t.Fatal(err)
		}
		want := Principal{TokenID: issued.ID, Name: "alice", Role: RoleApprover, Groups: []string{"security"}}
		if d := cmp.Diff(want, p, opts); d != "" {
			t.Errorf("principal (-want +got):\n%s", d)
		}
		if err := s.Revoke(ctx, issued.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := Authenticate(ctx, s, secret); warden.ErrorCode(err) != warden.CodeUnauthorized {
			t.Errorf("Authenticate(revoked) error = %v, want UNAUTHORIZED", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					id := fmt.Sprintf("tok_%d_%d", g, i)
					if err := s.Put(ctx, tok(id, "hash-"+id, time.Duration(i)*time.Millisecond)); err != nil {
						t.Error(err)
						return
					}
					if _, err := s.ByHash(ctx, "hash-"+id); err != nil {
						t.Error(err)
						return
					}
					if i%5 == 0 {
						if err := s.Revoke(ctx, id); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		revoked := 0
		for _, tk := range list {
			if tk.Revoked {
				revoked++
			}
		}
		if len(list) != 200 || revoked != 40 {
			t.Errorf("after concurrent writes: %d tokens, %d revoked; want 200 and 40", len(list), revoked)
		}
	})
}

package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/tlog"
)

// StoreConformance runs the behaviour every Store implementation must have
// against stores made by newStore, which must return a new, empty store on
// each call (and arrange its cleanup with t.Cleanup). The SQLite and
// PostgreSQL stores run it from their own tests.
func StoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("Empty", func(t *testing.T) { conformEmpty(t, newStore(t)) })
	t.Run("RoundTrip", func(t *testing.T) { conformRoundTrip(t, newStore(t)) })
	t.Run("Atomicity", func(t *testing.T) { conformAtomicity(t, newStore) })
	t.Run("Ordering", func(t *testing.T) { conformOrdering(t, newStore(t)) })
	t.Run("Checkpoints", func(t *testing.T) { conformCheckpoints(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { conformConcurrent(t, newStore(t)) })
}

// conformClock is a deterministic clock for conformance ledgers.
func conformClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
}

func conformEmpty(t *testing.T, s Store) {
	ctx := context.Background()
	if n, err := s.TreeSize(ctx); err != nil || n != 0 {
		t.Fatalf("TreeSize = %d, %v; want 0", n, err)
	}
	if _, ok, err := s.Head(ctx, "nobody"); err != nil || ok {
		t.Fatalf("Head(unknown) ok=%v err=%v; want false, nil", ok, err)
	}
	if es, err := s.Entries(ctx, "nobody", 0, 0); err != nil || len(es) != 0 {
		t.Fatalf("Entries(unknown) = %d entries, %v; want none", len(es), err)
	}
	if _, err := s.EntryAt(ctx, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("EntryAt(0) on empty store: %v; want ErrNotFound", err)
	}
	if _, err := s.ReadHashes(ctx, []int64{0}); err == nil {
		t.Fatal("ReadHashes(0) on empty store succeeded")
	}
	if _, ok, err := s.LatestCheckpoint(ctx); err != nil || ok {
		t.Fatalf("LatestCheckpoint on empty store ok=%v err=%v", ok, err)
	}
	if err := s.Append(ctx, nil, nil); err != nil {
		t.Fatalf("Append(empty batch) = %v; want nil", err)
	}
}

// conformBatch builds the entries and stored hashes of records on top of s's
// current state, as a Ledger would.
func conformBatch(t *testing.T, s Store, now func() time.Time, records ...Record) ([]Entry, []StoredHash) {
	t.Helper()
	l := New(s, nil, Options{Now: now, Redact: RedactOptions{Disabled: true}})
	es, hs, err := l.Build(context.Background(), s, records)
	if err != nil {
		t.Fatal(err)
	}
	return es, hs
}

// recomputeHashes returns the tlog stored hashes of a tree whose leaves are
// the given entries, computed independently of any store.
func recomputeHashes(t *testing.T, entries []Entry) []tlog.Hash {
	t.Helper()
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("no hash %d", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := range entries {
		leaf, err := entries[i].Leaf()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		hs, err := tlog.StoredHashes(int64(i), leaf, r)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	return hashes
}

func conformRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	now := conformClock()
	b1, h1 := conformBatch(t, s, now,
		Record{"s1", "session:start", map[string]any{"policy": "p", "text": "héllo </b> \u2028"}},
		Record{"s2", "session:start", map[string]any{"n": 1.5}},
		Record{"s1", "action:evaluate", map[string]any{"verdict": "allow", "reasons": []any{}}},
	)
	if err := s.Append(ctx, b1, h1); err != nil {
		t.Fatalf("Append: %v", err)
	}
	b2, h2 := conformBatch(t, s, now, Record{"s1", "action:result", map[string]any{"success": true}})
	if err := s.Append(ctx, b2, h2); err != nil {
		t.Fatalf("Append second batch: %v", err)
	}
	all := append(append([]Entry{}, b1...), b2...)

	if n, err := s.TreeSize(ctx); err != nil || n != 4 {
		t.Fatalf("TreeSize = %d, %v; want 4", n, err)
	}
	for i, want := range all {
		got, err := s.EntryAt(ctx, int64(i))
		if err != nil {
			t.Fatalf("EntryAt(%d): %v", i, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("EntryAt(%d) mismatch (-want +got):\n%s", i, diff)
		}
	}
	head, ok, err := s.Head(ctx, "s1")
	if err != nil || !ok {
		t.Fatalf("Head(s1) ok=%v err=%v", ok, err)
	}
	if diff := cmp.Diff(all[3], head); diff != "" {
		t.Errorf("Head(s1) mismatch (-want +got):\n%s", diff)
	}
	want := recomputeHashes(t, all)
	idx := make([]int64, len(want))
	for i := range idx {
		idx[i] = int64(i)
	}
	got, err := s.ReadHashes(ctx, idx)
	if err != nil {
		t.Fatalf("ReadHashes: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored hashes differ from an independent computation (-want +got):\n%s", diff)
	}
	if _, err := s.ReadHashes(ctx, []int64{int64(len(want))}); err == nil {
		t.Error("ReadHashes past the end succeeded")
	}
	if _, err := s.EntryAt(ctx, 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("EntryAt(4): %v; want ErrNotFound", err)
	}
	if _, err := s.EntryAt(ctx, -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("EntryAt(-1): %v; want ErrNotFound", err)
	}
	// Entries returned must not alias the store.
	es, err := s.Entries(ctx, "s1", 0, 0)
	if err != nil || len(es) != 3 {
		t.Fatalf("Entries(s1) = %d, %v; want 3", len(es), err)
	}
	es[0].Data[0] = 'X'
	again, _ := s.EntryAt(ctx, 0)
	if !bytes.Equal(again.Data, all[0].Data) {
		t.Error("modifying a returned entry changed the store")
	}
}

func conformAtomicity(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	type mutate func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash)
	tests := []struct {
		name    string
		mutate  mutate
		wantErr error
	}{
		{"first index not tree size", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			for i := range es {
				es[i].Index++
			}
			return es, hs
		}, ErrConflict},
		{"index gap", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			es[2].Index++
			return es, hs
		}, ErrConflict},
		{"seq gap in third entry", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			e, _ := NewEntry(es[2].SessionID, es[2].Type, es[2].Seq+1, es[2].Prev, time.Now(), map[string]any{})
			e.Index = es[2].Index
			es[2] = e
			return es, hs
		}, ErrConflict},
		{"prev not head", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			e, _ := NewEntry(es[2].SessionID, es[2].Type, es[2].Seq, es[0].Prev, time.Now(), map[string]any{})
			e.Index = es[2].Index
			es[2] = e
			return es, hs
		}, ErrConflict},
		{"missing stored hash", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			return es, hs[:len(hs)-1]
		}, ErrConflict},
		{"stored hash index shifted", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			hs[len(hs)-1].Index++
			return es, hs
		}, ErrConflict},
		{"entry hash does not verify", func(es []Entry, hs []StoredHash) ([]Entry, []StoredHash) {
			es[2].Data = []byte(`{"edited":true}`)
			return es, hs
		}, ErrInvalid},
		{"entry batch replayed", nil, ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			now := conformClock()
			base, baseH := conformBatch(t, s, now, Record{"a", "session:start", map[string]any{"i": 0}})
			if err := s.Append(ctx, base, baseH); err != nil {
				t.Fatal(err)
			}
			es, hs := conformBatch(t, s, now,
				Record{"a", "action:evaluate", map[string]any{"i": 1}},
				Record{"b", "session:start", map[string]any{"i": 2}},
				Record{"a", "action:result", map[string]any{"i": 3}},
			)
			if tt.mutate == nil {
				// Replay: the first write succeeds, the same batch again
				// must be refused.
				if err := s.Append(ctx, es, hs); err != nil {
					t.Fatal(err)
				}
				base = append(base, es...)
			} else {
				es, hs = tt.mutate(es, hs)
			}
			err := s.Append(ctx, es, hs)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append = %v; want an error wrapping %v", err, tt.wantErr)
			}
			// Nothing of the refused batch may be visible.
			if n, err := s.TreeSize(ctx); err != nil || n != int64(len(base)) {
				t.Fatalf("TreeSize after refused append = %d, %v; want %d", n, err, len(base))
			}
			if _, err := s.EntryAt(ctx, int64(len(base))); !errors.Is(err, ErrNotFound) {
				t.Errorf("EntryAt(%d) after refused append: %v; want ErrNotFound", len(base), err)
			}
			if _, ok, _ := s.Head(ctx, "b"); ok && tt.mutate != nil {
				t.Error("session b exists after a refused append")
			}
			head, _, _ := s.Head(ctx, "a")
			if diff := cmp.Diff(base[len(base)-1].Hash, head.Hash); tt.mutate != nil && diff != "" {
				t.Errorf("head of a moved (-want +got):\n%s", diff)
			}
			want := recomputeHashes(t, base)
			if _, err := s.ReadHashes(ctx, []int64{int64(len(want))}); err == nil {
				t.Error("a stored hash of the refused batch is readable")
			}
			// The store still accepts a correct batch afterwards.
			good, goodH := conformBatch(t, s, now, Record{"a", "action:evaluate", map[string]any{"i": 9}})
			if err := s.Append(ctx, good, goodH); err != nil {
				t.Fatalf("Append after refusal: %v", err)
			}
		})
	}
}

func conformOrdering(t *testing.T, s Store) {
	ctx := context.Background()
	l := New(s, nil, Options{Now: conformClock()})
	var want []Entry
	for i := 0; i < 30; i++ {
		sid := fmt.Sprintf("s%d", i%3)
		e, err := l.Append(ctx, sid, "action:evaluate", map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != int64(i) {
			t.Fatalf("entry %d has index %d", i, e.Index)
		}
		want = append(want, e)
	}
	for i := range want {
		got, err := s.EntryAt(ctx, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[i], got); diff != "" {
			t.Fatalf("EntryAt(%d) (-want +got):\n%s", i, diff)
		}
	}
	session := func(sid string) []Entry {
		var out []Entry
		for _, e := range want {
			if e.SessionID == sid {
				out = append(out, e)
			}
		}
		return out
	}
	s1 := session("s1")
	tests := []struct {
		name  string
		after int64
		limit int
		want  []Entry
	}{
		{"all", 0, 0, s1},
		{"negative limit is all", 0, -1, s1},
		{"after 3", 3, 0, s1[3:]},
		{"limit 4", 0, 4, s1[:4]},
		{"after 2 limit 3", 2, 3, s1[2:5]},
		{"after last", 10, 0, nil},
		{"after beyond", 99, 5, nil},
	}
	for _, tt := range tests {
		got, err := s.Entries(ctx, "s1", tt.after, tt.limit)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Entries(s1, after %d, limit %d) %s (-want +got):\n%s", tt.after, tt.limit, tt.name, diff)
		}
	}
	for i, e := range s1 {
		if e.Seq != int64(i+1) {
			t.Errorf("s1 entry %d has seq %d", i, e.Seq)
		}
	}
}

func conformCheckpoints(t *testing.T, s Store) {
	ctx := context.Background()
	signer, _, vkey, err := GenerateSigner("conformance.example/log")
	if err != nil {
		t.Fatal(err)
	}
	now := conformClock()
	l := New(s, signer, Options{Now: now, CheckpointEvery: -1, CheckpointOnTypes: []string{}})
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Checkpoint of an empty ledger: %v; want ErrNotFound", err)
	}
	for i := 0; i < 5; i++ {
		if _, err := l.Append(ctx, "s", "action:evaluate", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := s.LatestCheckpoint(ctx); err != nil || ok {
		t.Fatalf("LatestCheckpoint before any: ok=%v err=%v", ok, err)
	}
	c5, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LatestCheckpoint(ctx)
	if err != nil || !ok {
		t.Fatalf("LatestCheckpoint: ok=%v err=%v", ok, err)
	}
	if diff := cmp.Diff(c5, got); diff != "" {
		t.Errorf("LatestCheckpoint (-want +got):\n%s", diff)
	}
	opened, err := OpenCheckpoint(got.Note, []string{vkey})
	if err != nil {
		t.Fatalf("stored checkpoint does not open: %v", err)
	}
	if opened.Size != 5 || opened.Root != c5.Root || opened.Origin != "conformance.example/log" {
		t.Errorf("opened checkpoint = %+v", opened)
	}
	for i := 0; i < 3; i++ {
		if _, err := l.Append(ctx, "s", "action:evaluate", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	c8, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// An older checkpoint saved late does not become the latest.
	if err := s.SaveCheckpoint(ctx, c5); err != nil {
		t.Fatalf("SaveCheckpoint(older): %v", err)
	}
	if got, _, _ := s.LatestCheckpoint(ctx); got.Size != 8 || !bytes.Equal(got.Note, c8.Note) {
		t.Errorf("LatestCheckpoint after saving an older one has size %d, want 8", got.Size)
	}
	// Among equal sizes, the most recently saved wins.
	c8b := c8
	c8b.Time = c8.Time.Add(time.Second)
	if err := s.SaveCheckpoint(ctx, c8b); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.LatestCheckpoint(ctx); !got.Time.Equal(c8b.Time) {
		t.Errorf("LatestCheckpoint among equal sizes = %v, want the later save %v", got.Time, c8b.Time)
	}
	for _, size := range []int64{0, 9, -1} {
		bad := c8
		bad.Size = size
		if err := s.SaveCheckpoint(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SaveCheckpoint(size %d) = %v; want ErrInvalid", size, err)
		}
	}
}

func conformConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	signer, _, vkey, err := GenerateSigner("conformance.example/log")
	if err != nil {
		t.Fatal(err)
	}
	// Two ledgers over one store stand for two processes sharing a
	// database: their appends conflict and must be retried, never lost.
	l1 := New(s, signer, Options{CheckpointEveryN: 50})
	l2 := New(s, signer, Options{})
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		l := l1
		if w%4 == 3 {
			l = l2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				sid := fmt.Sprintf("session-%d", (w+i)%5)
				if _, err := l.Append(ctx, sid, "action:evaluate", map[string]any{"w": w, "i": i}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	n, err := s.TreeSize(ctx)
	if err != nil || n != workers*each {
		t.Fatalf("TreeSize = %d, %v; want %d", n, err, workers*each)
	}
	all := make([]Entry, n)
	seen := map[string]bool{}
	for i := range all {
		e, err := s.EntryAt(ctx, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != int64(i) {
			t.Fatalf("EntryAt(%d).Index = %d", i, e.Index)
		}
		key := fmt.Sprint(e.SessionID, "/", e.Seq)
		if seen[key] {
			t.Fatalf("two entries for %s", key)
		}
		seen[key] = true
		all[i] = e
	}
	// The stored tree is the tree of the entries in index order.
	want := recomputeHashes(t, all)
	idx := make([]int64, len(want))
	for i := range idx {
		idx[i] = int64(i)
	}
	got, err := s.ReadHashes(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("stored tree differs from the entries' tree (-want +got):\n%s", diff)
	}
	// Every chain is valid: exports verify.
	for sid := 0; sid < 5; sid++ {
		var buf bytes.Buffer
		if err := l1.Export(ctx, &buf, fmt.Sprintf("session-%d", sid)); err != nil {
			t.Fatal(err)
		}
		rep := Verify(&buf, VerifyOptions{Keys: []string{vkey}})
		if !rep.Valid {
			t.Errorf("session-%d export does not verify: %+v", sid, rep.Failed())
		}
	}
	if c, ok, err := s.LatestCheckpoint(ctx); err != nil || !ok || c.Size < 50 {
		t.Errorf("no automatic checkpoint: %+v ok=%v err=%v", c.Size, ok, err)
	}
}

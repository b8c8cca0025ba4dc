package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"
)

// countingStore wraps a Store, counts Append calls and can slow them down
// (like an fsync) or fail them.
type countingStore struct {
	Store
	appends   atomic.Int64
	entries   atomic.Int64
	delay     time.Duration
	failNext  atomic.Int64 // number of Append calls to fail
	failSaves atomic.Bool
}

func (s *countingStore) Append(ctx context.Context, es []Entry, hs []StoredHash) error {
	s.appends.Add(1)
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.failNext.Load() > 0 {
		s.failNext.Add(-1)
		return errors.New("disk on fire")
	}
	if err := s.Store.Append(ctx, es, hs); err != nil {
		return err
	}
	s.entries.Add(int64(len(es)))
	return nil
}

func (s *countingStore) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	if s.failSaves.Load() {
		return errors.New("checkpoint table locked")
	}
	return s.Store.SaveCheckpoint(ctx, c)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestSigner(t testing.TB) (*Signer, string) {
	t.Helper()
	s, _, vkey, err := GenerateSigner("warden.test/ledger")
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// checkChains verifies that the store holds one total order with a valid
// hash chain per session, and returns the number of entries per session.
func checkChains(t *testing.T, s Store) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	n, err := s.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]Entry{}
	var all []Entry
	for i := int64(0); i < n; i++ {
		e, err := s.EntryAt(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != i {
			t.Fatalf("entry %d has index %d", i, e.Index)
		}
		if err := e.Verify(); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		h, ok := heads[e.SessionID]
		wantSeq, wantPrev := int64(1), Genesis
		if ok {
			wantSeq, wantPrev = h.Seq+1, h.Hash
		}
		if e.Seq != wantSeq || e.Prev != wantPrev {
			t.Fatalf("entry %d (%s seq %d) breaks its chain: want seq %d", i, e.SessionID, e.Seq, wantSeq)
		}
		heads[e.SessionID] = e
		all = append(all, e)
	}
	want := recomputeHashes(t, all)
	root, err := tlog.TreeHash(n, storeReader{ctx, s})
	if err != nil {
		t.Fatal(err)
	}
	wantRoot, err := tlog.TreeHash(n, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = want[x]
		}
		return out, nil
	}))
	if err != nil || root != wantRoot {
		t.Fatalf("tree root %v differs from the root of the entries %v (%v)", root, wantRoot, err)
	}
	counts := map[string]int64{}
	for sid, h := range heads {
		counts[sid] = h.Seq
	}
	return counts
}

func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: NewMemStore(), delay: 2 * time.Millisecond}
	l := New(cs, nil, Options{})
	const workers, each, sessions = 16, 25, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string][]int64{} // session → seqs in the order callers saw them
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				sid := fmt.Sprintf("s%d", w%sessions)
				e, err := l.Append(ctx, sid, "action:evaluate", map[string]any{"w": w, "i": i})
				if err != nil {
					t.Error(err)
					return
				}
				// The entry is durable when Append returns.
				stored, err := cs.EntryAt(ctx, e.Index)
				if err != nil || stored.Hash != e.Hash {
					t.Errorf("entry %d not durable on return: %v", e.Index, err)
				}
				mu.Lock()
				got[sid] = append(got[sid], e.Seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := int64(workers * each)
	if n := cs.entries.Load(); n != total {
		t.Fatalf("%d entries written, want %d", n, total)
	}
	calls := cs.appends.Load()
	t.Logf("%d entries in %d Store.Append calls", total, calls)
	if calls >= total {
		t.Fatalf("group commit did not batch: %d Store.Append calls for %d entries", calls, total)
	}
	counts := checkChains(t, cs)
	for sid, seqs := range got {
		if counts[sid] != int64(len(seqs)) {
			t.Errorf("session %s: %d entries stored, %d appended", sid, counts[sid], len(seqs))
		}
	}
}

func TestAppendBatch(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: NewMemStore()}
	clock := &fakeClock{now: testTime}
	l := New(cs, nil, Options{Now: clock.Now})
	es, err := l.AppendBatch(ctx, []Record{
		{"a", "session:start", map[string]any{"policy": "p"}},
		{"b", "session:start", nil},
		{"a", "action:evaluate", map[string]any{"verdict": "allow"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Sid   string
		Seq   int64
		Index int64
		TS    string
		Data  string
	}
	var got []view
	for _, e := range es {
		got = append(got, view{e.SessionID, e.Seq, e.Index, e.TS, string(e.Data)})
	}
	want := []view{
		{"a", 1, 0, "2026-11-22T01:53:51.674Z", `{"policy":"p"}`},
		{"b", 1, 1, "2026-11-22T01:53:51.674Z", `null`},
		{"a", 2, 2, "2026-11-22T01:53:51.674Z", `{"verdict":"allow"}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("AppendBatch (-want +got):\n%s", diff)
	}
	if es[2].Prev != es[0].Hash {
		t.Fatal("second entry of a does not chain to the first")
	}
	if cs.appends.Load() != 1 {
		t.Fatalf("a batch took %d Store.Append calls", cs.appends.Load())
	}

	// An invalid record rejects the whole batch before anything is written.
	_, err = l.AppendBatch(ctx, []Record{{"a", "x", 1}, {"", "x", 1}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("AppendBatch with an empty session = %v", err)
	}
	_, err = l.AppendBatch(ctx, []Record{{"a", "x", map[string]any{"id": uint64(1) << 62}}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "4611686018427387904") {
		t.Fatalf("AppendBatch with a big integer = %v", err)
	}
	// A store failure fails the batch and writes nothing.
	cs.failNext.Store(1)
	if _, err := l.Append(ctx, "a", "x", 1); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Append with a failing store = %v", err)
	}
	// A cancelled context writes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cctx, "a", "x", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context = %v", err)
	}
	if n, _ := cs.TreeSize(ctx); n != 3 {
		t.Fatalf("tree size %d after refused appends, want 3", n)
	}
	if es, err := l.AppendBatch(ctx, nil); err != nil || es != nil {
		t.Fatalf("AppendBatch(nil) = %v, %v", es, err)
	}
	// Appending continues the chains.
	e, err := l.Append(ctx, "a", "x", 1)
	if err != nil || e.Seq != 3 || e.Index != 3 {
		t.Fatalf("Append after failures = %+v, %v", e, err)
	}
	checkChains(t, cs)
}

func TestAutomaticCheckpoints(t *testing.T) {
	ctx := context.Background()
	signer, vkey := newTestSigner(t)
	tests := []struct {
		name    string
		opts    Options
		steps   func(l *Ledger, clock *fakeClock)
		wantCPs []int64 // sizes of the checkpoints saved, in order
	}{
		{"every N", Options{CheckpointEvery: -1, CheckpointEveryN: 3}, func(l *Ledger, _ *fakeClock) {
			for i := 0; i < 7; i++ {
				mustAppend(t, l, "s", "action:evaluate")
			}
		}, []int64{3, 6}},
		{"every 5s by default", Options{}, func(l *Ledger, clock *fakeClock) {
			mustAppend(t, l, "s", "action:evaluate")
			clock.Advance(4 * time.Second)
			mustAppend(t, l, "s", "action:evaluate")
			clock.Advance(2 * time.Second)
			mustAppend(t, l, "s", "action:evaluate")
			mustAppend(t, l, "s", "action:evaluate")
			clock.Advance(5 * time.Second)
			mustAppend(t, l, "s", "action:evaluate")
		}, []int64{3, 5}},
		{"session end", Options{CheckpointEvery: -1}, func(l *Ledger, _ *fakeClock) {
			mustAppend(t, l, "s", "action:evaluate")
			mustAppend(t, l, "s", "session:terminate")
			mustAppend(t, l, "t", "session:end")
		}, []int64{2, 3}},
		{"custom types", Options{CheckpointEvery: -1, CheckpointOnTypes: []string{"gate:approved"}}, func(l *Ledger, _ *fakeClock) {
			mustAppend(t, l, "s", "session:terminate")
			mustAppend(t, l, "s", "gate:approved")
		}, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: testTime}
			rec := &recordingStore{Store: NewMemStore()}
			tt.opts.Now = clock.Now
			l := New(rec, signer, tt.opts)
			tt.steps(l, clock)
			var sizes []int64
			for _, c := range rec.saved {
				sizes = append(sizes, c.Size)
				if _, err := OpenCheckpoint(c.Note, []string{vkey}); err != nil {
					t.Errorf("checkpoint %d does not open: %v", c.Size, err)
				}
			}
			if diff := cmp.Diff(tt.wantCPs, sizes); diff != "" {
				t.Errorf("checkpoint sizes (-want +got):\n%s", diff)
			}
		})
	}

	// A failing checkpoint does not fail the append and is reported.
	cs := &countingStore{Store: NewMemStore()}
	cs.failSaves.Store(true)
	var reported []error
	l := New(cs, signer, Options{CheckpointEveryN: 1, OnCheckpointError: func(err error) { reported = append(reported, err) }})
	if _, err := l.Append(ctx, "s", "x", 1); err != nil {
		t.Fatalf("Append with failing checkpoints: %v", err)
	}
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "locked") {
		t.Fatalf("reported checkpoint errors = %v", reported)
	}
	// Without a signer there is no checkpoint at all.
	nl := New(NewMemStore(), nil, Options{CheckpointEveryN: 1})
	mustAppend(t, nl, "s", "x")
	if _, err := nl.Checkpoint(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Checkpoint without a signer = %v", err)
	}
}

type recordingStore struct {
	Store
	saved []Checkpoint
}

func (s *recordingStore) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	if err := s.Store.SaveCheckpoint(ctx, c); err != nil {
		return err
	}
	s.saved = append(s.saved, c)
	return nil
}

func mustAppend(t testing.TB, l *Ledger, sid, typ string) Entry {
	t.Helper()
	e, err := l.Append(context.Background(), sid, typ, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCheckpointFormat(t *testing.T) {
	ctx := context.Background()
	signer, vkey := newTestSigner(t)
	clock := &fakeClock{now: testTime}
	l := New(NewMemStore(), signer, Options{Origin: "example.com/warden", Now: clock.Now, CheckpointEvery: -1})
	for i := 0; i < 5; i++ {
		mustAppend(t, l, "s", "x")
	}
	c, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root, err := l.TreeHash(ctx, 5)
	if err != nil || root != c.Root {
		t.Fatalf("checkpoint root %v, tree hash %v (%v)", c.Root, root, err)
	}
	body, ok := splitNote(c.Note)
	wantBody := "example.com/warden\n5\n" + base64Std(c.Root[:]) + "\n"
	if !ok || body != wantBody {
		t.Fatalf("checkpoint body %q, want %q", body, wantBody)
	}
	if !strings.HasPrefix(string(c.Note[len(body):]), "\n— warden.test/ledger ") {
		t.Fatalf("signature line: %q", c.Note[len(body):])
	}
	got, err := OpenCheckpoint(c.Note, []string{vkey})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Checkpoint{Origin: "example.com/warden", Size: 5, Root: c.Root, Note: c.Note}, got); diff != "" {
		t.Fatalf("OpenCheckpoint (-want +got):\n%s", diff)
	}

	other, otherKey := newTestSigner(t)
	forged, err := signCheckpoint(other, "example.com/warden", 5, c.Root)
	if err != nil {
		t.Fatal(err)
	}
	var unknown *UnknownKeyError
	if _, err := OpenCheckpoint(forged, []string{vkey}); !errors.As(err, &unknown) {
		t.Fatalf("checkpoint by another key: %v; want UnknownKeyError", err)
	}
	if _, err := OpenCheckpoint(forged, []string{vkey, otherKey, vkey}); err != nil {
		t.Fatalf("checkpoint with its key trusted (and a duplicate key): %v", err)
	}
	if _, err := OpenCheckpoint(c.Note, nil); !errors.Is(err, ErrNoTrustedKey) {
		t.Fatalf("no keys: %v", err)
	}
	if _, err := OpenCheckpoint(c.Note, []string{"garbage"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed key: %v", err)
	}
	tampered := []byte(strings.Replace(string(c.Note), "\n5\n", "\n6\n", 1))
	if _, err := OpenCheckpoint(tampered, []string{vkey}); err == nil {
		t.Fatal("a checkpoint with an edited size opened")
	}
	for _, body := range []string{"o\n5\n", "o\n05\n" + base64Std(c.Root[:]) + "\n", "o\n5\n" + base64Std(c.Root[:]) + "\nextra\n",
		"o\n-5\n" + base64Std(c.Root[:]) + "\n", "o\n5\nAAAA\n", "\n5\n" + base64Std(c.Root[:]) + "\n", "o\n99999999999999999999\n" + base64Std(c.Root[:]) + "\n"} {
		if _, _, _, err := parseCheckpointBody(body); err == nil {
			t.Errorf("parseCheckpointBody(%q) succeeded", body)
		}
	}
	if _, err := signCheckpoint(signer, "bad\norigin", 1, c.Root); err == nil {
		t.Error("signed a checkpoint with a newline in its origin")
	}
}

func TestProofs(t *testing.T) {
	ctx := context.Background()
	l := New(NewMemStore(), nil, Options{})
	const n = 21
	var leaves [][]byte
	for i := 0; i < n; i++ {
		e := mustAppend(t, l, fmt.Sprintf("s%d", i%3), "x")
		leaf, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
	}
	roots := make([]tlog.Hash, n+1)
	for size := int64(1); size <= n; size++ {
		r, err := l.TreeHash(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		roots[size] = r
		for idx := int64(0); idx < size; idx++ {
			p, err := l.ProveInclusion(ctx, idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckInclusion(p, size, r, idx, leaves[idx]); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", idx, size, err)
			}
			other := (idx + 1) % size
			if other != idx {
				if err := CheckInclusion(p, size, r, idx, leaves[other]); err == nil {
					t.Fatalf("proof of %d accepted leaf %d", idx, other)
				}
				if err := CheckInclusion(p, size, r, other, leaves[idx]); err == nil && size > 1 {
					t.Fatalf("proof of %d accepted at index %d", idx, other)
				}
			}
		}
	}
	for old := int64(1); old <= n; old++ {
		for size := old; size <= n; size++ {
			p, err := l.ProveConsistency(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckConsistency(p, old, roots[old], size, roots[size]); err != nil {
				t.Fatalf("consistency %d→%d: %v", old, size, err)
			}
			if old < size {
				if err := CheckConsistency(p, old, roots[size], size, roots[old]); err == nil {
					t.Fatalf("consistency %d→%d accepted swapped roots", old, size)
				}
			}
		}
	}
	bad := []struct {
		name string
		err  error
	}{
		{"index = size", func() error { _, err := l.ProveInclusion(ctx, 5, 5); return err }()},
		{"size > tree", func() error { _, err := l.ProveInclusion(ctx, 0, n+1); return err }()},
		{"negative index", func() error { _, err := l.ProveInclusion(ctx, -1, 3); return err }()},
		{"old 0", func() error { _, err := l.ProveConsistency(ctx, 0, 3); return err }()},
		{"old > new", func() error { _, err := l.ProveConsistency(ctx, 4, 3); return err }()},
		{"new > tree", func() error { _, err := l.ProveConsistency(ctx, 1, n+1); return err }()},
		{"tree hash beyond", func() error { _, err := l.TreeHash(ctx, n+1); return err }()},
		{"check bad index", CheckInclusion(nil, 3, roots[3], 3, leaves[0])},
		{"check huge proof", CheckInclusion(make(tlog.RecordProof, 65), 3, roots[3], 0, leaves[0])},
		{"check consistency bad sizes", CheckConsistency(nil, 0, roots[1], 1, roots[1])},
	}
	for _, b := range bad {
		if !errors.Is(b.err, ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", b.name, b.err)
		}
	}
}

func TestSigner(t *testing.T) {
	s, skey, vkey, err := GenerateSigner("warden.test/k1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+warden.test/k1+") || !strings.HasPrefix(vkey, "warden.test/k1+") {
		t.Fatalf("key formats: %q %q", skey, vkey)
	}
	s2, err := NewSigner(skey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if s2.VerifierKey() != vkey || s.VerifierKey() != vkey || s2.Name() != "warden.test/k1" {
		t.Fatalf("verifier keys differ: %q %q %q", s.VerifierKey(), s2.VerifierKey(), vkey)
	}
	if s2.Verifier().Name() != "warden.test/k1" || s2.Verifier().KeyHash() != s.Verifier().KeyHash() {
		t.Fatal("verifier identity differs")
	}
	for _, name := range []string{"", "a b", "a+b", "tab\tname", "nl\n"} {
		if _, _, _, err := GenerateSigner(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("GenerateSigner(%q) = %v", name, err)
		}
	}
	for _, k := range []string{"", vkey, "PRIVATE+KEY+x+00000000+AA==", skey[:len(skey)-4] + "AAAA"} {
		if _, err := NewSigner(k); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewSigner(%q) = %v", k, err)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "ledger.key")
	s1, err := LoadOrCreateKey(path, "warden.test/local")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	s2, err := LoadOrCreateKey(path, "warden.test/local")
	if err != nil || s2.VerifierKey() != s1.VerifierKey() {
		t.Fatalf("reloaded key differs: %v", err)
	}
	if _, err := LoadOrCreateKey(path, "warden.test/other"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("name mismatch: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path, "warden.test/local"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable key file: %v", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(bad, "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("garbage key file: %v", err)
	}
	if _, err := LoadOrCreateKey(dir, "x"); err == nil {
		t.Fatal("a directory loaded as a key")
	}
	// Racing creators end up with one key.
	race := filepath.Join(dir, "race.key")
	var wg sync.WaitGroup
	keys := make([]string, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := LoadOrCreateKey(race, "warden.test/race")
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = s.VerifierKey()
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("racing creators got different keys: %v", keys)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func base64Std(b []byte) string { return b64.EncodeToString(b) }

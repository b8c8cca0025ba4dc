package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// TestLedgerConformance runs the ledger package's Store suite against a
// store on a file and one in memory.
//
// Its Concurrent case runs two ledger.Ledgers over one store: they build
// through AppendFunc under the write lock, so neither ever conflicts.
func TestLedgerConformance(t *testing.T) {
	for _, path := range []string{"file", sqlite.MemoryPath} {
		t.Run(path, func(t *testing.T) {
			ledger.StoreConformance(t, func(t *testing.T) ledger.Store {
				p := path
				if p == "file" {
					p = filepath.Join(t.TempDir(), "warden.db")
				}
				return sqlite.NewLedgerStore(mustOpen(t, p))
			})
		})
	}
}

// newStores returns a fresh store on a file and one in memory.
func newStores(t *testing.T) map[string]*sqlite.LedgerStore {
	return map[string]*sqlite.LedgerStore{
		"file":   sqlite.NewLedgerStore(mustOpen(t, filepath.Join(t.TempDir(), "warden.db"))),
		"memory": sqlite.NewLedgerStore(mustOpen(t, sqlite.MemoryPath)),
	}
}

// TestLedgerNotFound checks that lookups of what is not stored wrap both
// sentinels, this package's and the ledger's, and that ReadHashes answers
// repeated and unsorted indexes in order.
func TestLedgerNotFound(t *testing.T) {
	ctx := context.Background()
	for name, st := range newStores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := appendRecords(ctx, st, sessionRecords("a", 1, 3)); err != nil {
				t.Fatal(err)
			}
			_, err := st.EntryAt(ctx, 3)
			if !errors.Is(err, ledger.ErrNotFound) || !errors.Is(err, sqlite.ErrNotFound) {
				t.Errorf("EntryAt(3) = %v, want ledger.ErrNotFound and sqlite.ErrNotFound", err)
			}
			if want := "read ledger entry at index 3: entry not found"; err == nil || err.Error() != want {
				t.Errorf("EntryAt(3) = %v, want %q", err, want)
			}
			_, err = st.ReadHashes(ctx, []int64{0, 99, 1})
			if !errors.Is(err, ledger.ErrNotFound) || !errors.Is(err, sqlite.ErrNotFound) {
				t.Errorf("ReadHashes([0 99 1]) = %v, want ErrNotFound", err)
			}
			if err == nil || !strings.Contains(err.Error(), "stored hash 99 not found") {
				t.Errorf("ReadHashes error %v does not name hash 99", err)
			}
			if hs, err := st.ReadHashes(ctx, nil); len(hs) != 0 || err != nil {
				t.Errorf("ReadHashes(nil) = %v, %v", hs, err)
			}
			hs, err := st.ReadHashes(ctx, []int64{3, 0, 3})
			if err != nil {
				t.Fatal(err)
			}
			three, _ := st.ReadHashes(ctx, []int64{3})
			zero, _ := st.ReadHashes(ctx, []int64{0})
			if hs[0] != three[0] || hs[1] != zero[0] || hs[2] != three[0] {
				t.Errorf("ReadHashes([3 0 3]) = %v", hs)
			}
		})
	}
}

// TestLedgerAppendRejects offers batches that do not continue the store or
// do not match their entries, in the cases the conformance suite leaves
// out: each is refused with the right error and leaves nothing behind, and
// the store accepts the correct batch afterwards. A wrong stored hash is
// refused because Append recomputes the tree, which the suite does not
// require.
func TestLedgerAppendRejects(t *testing.T) {
	ctx := context.Background()
	type batch struct {
		entries []ledger.Entry
		hashes  []ledger.StoredHash
	}
	for name, st := range newStores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := appendRecords(ctx, st, []record{{"a", 1}, {"b", 1}, {"a", 2}}); err != nil {
				t.Fatal(err)
			}
			good, goodHashes, err := buildBatch(ctx, st, []record{{"a", 3}, {"c", 1}, {"a", 4}})
			if err != nil {
				t.Fatal(err)
			}
			// An entry that repeats "a"'s head: correct index and hashes,
			// but seq 2 already exists.
			dup, dupHashes, err := buildBatch(ctx, st, []record{{"a", 3}})
			if err != nil {
				t.Fatal(err)
			}
			// "a" is at seq 2; its head's prev is the hash of seq 1.
			dup[0] = reseal(t, dup[0], 2, good[0].Prev)
			mutate := func(f func(b *batch)) batch {
				b := batch{append([]ledger.Entry(nil), good...), append([]ledger.StoredHash(nil), goodHashes...)}
				f(&b)
				return b
			}
			for _, tc := range []struct {
				name string
				b    batch
				want error
			}{
				{"extra hash", mutate(func(b *batch) {
					b.hashes = append(b.hashes, ledger.StoredHash{Index: b.hashes[len(b.hashes)-1].Index + 1})
				}), ledger.ErrConflict},
				{"hash index", mutate(func(b *batch) { b.hashes[0].Index-- }), ledger.ErrConflict},
				{"seq repeats", mutate(func(b *batch) { b.entries[0] = reseal(t, b.entries[0], 2, b.entries[0].Prev) }), ledger.ErrConflict},
				{"hashes without entries", batch{nil, goodHashes}, ledger.ErrConflict},
				{"session restarts", mutate(func(b *batch) { b.entries[0] = reseal(t, b.entries[0], 1, ledger.Genesis) }), ledger.ErrConflict},
				{"session seq exists", batch{dup, dupHashes}, ledger.ErrConflict},
				{"entry hash", mutate(func(b *batch) { b.entries[1].Hash = ledger.Genesis }), ledger.ErrInvalid},
				{"stored hash", mutate(func(b *batch) { b.hashes[len(b.hashes)-1].Hash[0] ^= 1 }), ledger.ErrInvalid},
			} {
				err := st.Append(ctx, tc.b.entries, tc.b.hashes)
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: Append = %v, want %v", tc.name, err, tc.want)
				}
				if n, _ := st.TreeSize(ctx); n != 3 {
					t.Errorf("%s: tree size %d after a refused append", tc.name, n)
				}
				if _, err := st.ReadHashes(ctx, []int64{goodHashes[0].Index}); !errors.Is(err, ledger.ErrNotFound) {
					t.Errorf("%s: a stored hash of the refused batch is present (%v)", tc.name, err)
				}
				if es, _ := st.Entries(ctx, "c", 0, 0); len(es) != 0 {
					t.Errorf("%s: session c has entries after a refused append", tc.name)
				}
			}
			if err := st.Append(ctx, good, goodHashes); err != nil {
				t.Fatalf("Append(good) = %v", err)
			}
			if err := st.Append(ctx, good, goodHashes); !errors.Is(err, ledger.ErrConflict) {
				t.Errorf("Append(good) again = %v, want ErrConflict", err)
			}
			checkLedger(t, st)
		})
	}
}

// TestLedgerCheckpointRoot shows the check the conformance suite does not
// require: a checkpoint whose root is not the stored tree's is refused. It
// also checks that the time comes back in UTC, to the nanosecond.
func TestLedgerCheckpointRoot(t *testing.T) {
	ctx := context.Background()
	for name, st := range newStores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := appendRecords(ctx, st, sessionRecords("a", 1, 5)); err != nil {
				t.Fatal(err)
			}
			root, err := tlog.TreeHash(3, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return st.ReadHashes(ctx, ix) }))
			if err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 11, 5, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
			c := ledger.Checkpoint{Origin: "warden.test/log", Size: 3, Root: root, Note: []byte("signed"), Time: at}
			bad := c
			bad.Size = 4
			if err := st.SaveCheckpoint(ctx, bad); !errors.Is(err, ledger.ErrInvalid) {
				t.Errorf("SaveCheckpoint(root of another size) = %v, want ErrInvalid", err)
			}
			if _, ok, _ := st.LatestCheckpoint(ctx); ok {
				t.Error("a refused checkpoint was saved")
			}
			if err := st.SaveCheckpoint(ctx, c); err != nil {
				t.Fatal(err)
			}
			got, ok, err := st.LatestCheckpoint(ctx)
			if err != nil || !ok {
				t.Fatalf("LatestCheckpoint = %v, %v", ok, err)
			}
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("LatestCheckpoint (-want +got):\n%s", diff)
			}
			if got.Time.Location() != time.UTC || got.Time.Nanosecond() != 123456789 {
				t.Errorf("checkpoint time = %v, want UTC with nanoseconds", got.Time)
			}
		})
	}
}

// reseal returns e with another seq and prev, correctly hashed.
func reseal(t *testing.T, e ledger.Entry, seq int64, prev string) ledger.Entry {
	t.Helper()
	ts, err := ledger.ParseTime(e.TS)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ledger.NewEntry(e.SessionID, e.Type, seq, prev, ts, e.Data)
	if err != nil {
		t.Fatal(err)
	}
	r.Index = e.Index
	return r
}

// TestLedgerTwoHandles appends through two DBs open on one file, as two
// processes would, while a third handle reads: the order stays total.
func TestLedgerTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	stores := []*sqlite.LedgerStore{
		sqlite.NewLedgerStore(mustOpen(t, path)),
		sqlite.NewLedgerStore(mustOpen(t, path)),
	}
	reader := sqlite.NewLedgerStore(mustOpen(t, path))
	const each = 150
	done := make(chan struct{})
	errs := make(chan error, len(stores)+1)
	go func() { // a reader that must always see a consistent tree
		var last int64
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			n, err := reader.TreeSize(ctx)
			if err == nil && n < last {
				err = errors.New("tree size went backwards")
			}
			if err == nil && n > 0 {
				_, err = tlog.TreeHash(n, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return reader.ReadHashes(ctx, ix) }))
			}
			if err != nil {
				errs <- err
				return
			}
			last = n
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for i, st := range stores {
		go func() { errs <- appendPaced(ctx, st, sessionName(i), each) }()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	got := countSessions(checkLedger(t, reader))
	if diff := cmp.Diff(map[string]int{"s0": each, "s1": each}, got); diff != "" {
		t.Errorf("entries per session (-want +got):\n%s", diff)
	}
}

func TestLedgerAppendFunc(t *testing.T) {
	ctx := context.Background()
	for name, st := range newStores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := appendRecordsFunc(ctx, st, sessionRecords("a", 1, 3)); err != nil {
				t.Fatal(err)
			}
			errBuild := errors.New("build failed")
			err := st.AppendFunc(ctx, func(view ledger.Store) ([]ledger.Entry, []ledger.StoredHash, error) {
				es, hs, err := buildBatch(ctx, view, sessionRecords("a", 4, 2))
				if err != nil {
					return nil, nil, err
				}
				if err := view.Append(ctx, es, hs); err == nil {
					t.Error("Append on the view succeeded")
				}
				if err := view.SaveCheckpoint(ctx, ledger.Checkpoint{Size: 1}); err == nil {
					t.Error("SaveCheckpoint on the view succeeded")
				}
				// The view reads in the transaction.
				if n, err := view.TreeSize(ctx); n != 3 || err != nil {
					t.Errorf("view TreeSize = %d, %v", n, err)
				}
				if es, err := view.Entries(ctx, "a", 1, 0); len(es) != 2 || err != nil {
					t.Errorf("view Entries = %d entries, %v", len(es), err)
				}
				if _, err := view.EntryAt(ctx, 3); !errors.Is(err, ledger.ErrNotFound) {
					t.Errorf("view EntryAt(3) = %v", err)
				}
				if _, ok, err := view.LatestCheckpoint(ctx); ok || err != nil {
					t.Errorf("view LatestCheckpoint = %v, %v", ok, err)
				}
				return nil, nil, errBuild
			})
			if err != errBuild {
				t.Errorf("AppendFunc = %v, want the build error as is", err)
			}
			err = st.AppendFunc(ctx, func(view ledger.Store) ([]ledger.Entry, []ledger.StoredHash, error) {
				es, hs, err := buildBatch(ctx, view, sessionRecords("a", 4, 2))
				return es, hs[1:], err
			})
			if !errors.Is(err, ledger.ErrConflict) {
				t.Errorf("AppendFunc(missing hash) = %v, want ErrConflict", err)
			}
			if err := st.AppendFunc(ctx, func(ledger.Store) ([]ledger.Entry, []ledger.StoredHash, error) { return nil, nil, nil }); err != nil {
				t.Errorf("AppendFunc(empty) = %v", err)
			}
			if n, _ := st.TreeSize(ctx); n != 3 {
				t.Fatalf("tree size %d after refused batches, want 3", n)
			}

			// Writers that never pause, on this handle: no conflict, ever.
			const writers, each = 4, 25
			errs := make(chan error, writers)
			for w := range writers {
				go func() {
					var err error
					for k := 0; err == nil && k < each; k++ {
						_, err = appendRecordsFunc(ctx, st, []record{{sessionName(w), k}, {"shared", k}})
					}
					errs <- err
				}()
			}
			for range writers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			got := countSessions(checkLedger(t, st))
			want := map[string]int{"a": 3, "shared": writers * each}
			for w := range writers {
				want[sessionName(w)] = each
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries per session (-want +got):\n%s", diff)
			}
		})
	}
}

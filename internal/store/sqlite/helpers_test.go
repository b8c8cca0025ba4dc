package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// A record names the session and data of an entry to build.
type record struct {
	session string
	n       int
}

// buildBatch turns records into entries and the stored hashes they add,
// continuing st's current state, as the ledger does before Store.Append.
func buildBatch(ctx context.Context, st ledger.Store, records []record) ([]ledger.Entry, []ledger.StoredHash, error) {
	size, err := st.TreeSize(ctx)
	if err != nil {
		return nil, nil, err
	}
	base := tlog.StoredHashCount(size)
	var pending []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		var fetch []int64
		for _, x := range indexes {
			if x < base {
				fetch = append(fetch, x)
			}
		}
		got, err := st.ReadHashes(ctx, fetch)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < base {
				out[i], got = got[0], got[1:]
			} else {
				out[i] = pending[x-base]
			}
		}
		return out, nil
	})
	heads := map[string]ledger.Entry{}
	entries := make([]ledger.Entry, 0, len(records))
	now := time.Now()
	for _, r := range records {
		h, ok := heads[r.session]
		if !ok {
			if h, ok, err = st.Head(ctx, r.session); err != nil {
				return nil, nil, err
			}
		}
		seq, prev := int64(1), ledger.Genesis
		if ok {
			seq, prev = h.Seq+1, h.Hash
		}
		e, err := ledger.NewEntry(r.session, "test:append", seq, prev, now, map[string]any{"n": r.n, "note": "données ✓"})
		if err != nil {
			return nil, nil, err
		}
		e.Index = size + int64(len(entries))
		leaf, err := e.LeafHash()
		if err != nil {
			return nil, nil, err
		}
		hs, err := tlog.StoredHashesForRecordHash(e.Index, leaf, reader)
		if err != nil {
			return nil, nil, err
		}
		pending = append(pending, hs...)
		heads[r.session] = e
		entries = append(entries, e)
	}
	hashes := make([]ledger.StoredHash, len(pending))
	for i, h := range pending {
		hashes[i] = ledger.StoredHash{Index: base + int64(i), Hash: h}
	}
	return entries, hashes, nil
}

// appendRecords builds and appends a batch, rebuilding it for as long as
// another writer keeps moving the store on (ErrConflict).
func appendRecords(ctx context.Context, st ledger.Store, records []record) ([]ledger.Entry, error) {
	for {
		entries, hashes, err := buildBatch(ctx, st, records)
		if err != nil {
			return nil, err
		}
		err = st.Append(ctx, entries, hashes)
		if err == nil {
			return entries, nil
		}
		if !errors.Is(err, ledger.ErrConflict) {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// appendRecordsFunc appends a batch built under the write lock, which never
// conflicts.
func appendRecordsFunc(ctx context.Context, st *sqlite.LedgerStore, records []record) ([]ledger.Entry, error) {
	var out []ledger.Entry
	err := st.AppendFunc(ctx, func(view ledger.Store) ([]ledger.Entry, []ledger.StoredHash, error) {
		es, hs, err := buildBatch(ctx, view, records)
		out = es
		return es, hs, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sessionRecords returns n records of one session, numbered from first.
func sessionRecords(session string, first, n int) []record {
	rs := make([]record, n)
	for i := range rs {
		rs[i] = record{session, first + i}
	}
	return rs
}

// checkLedger reads the whole ledger back and checks that the indexes are
// dense, every entry verifies and chains to its session's previous one, the
// stored hashes are exactly those tlog computes from the entries, and
// Entries agrees with EntryAt. It returns the entries.
func checkLedger(t *testing.T, st ledger.Store) []ledger.Entry {
	t.Helper()
	ctx := context.Background()
	size, err := st.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var (
		all    []ledger.Entry
		want   []tlog.Hash
		heads  = map[string]ledger.Entry{}
		byName = map[string][]ledger.Entry{}
	)
	mem := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = want[x]
		}
		return out, nil
	})
	for i := range size {
		e, err := st.EntryAt(ctx, i)
		if err != nil {
			t.Fatalf("EntryAt(%d): %v", i, err)
		}
		if e.Index != i {
			t.Fatalf("EntryAt(%d).Index = %d", i, e.Index)
		}
		if err := e.Verify(); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		seq, prev := int64(1), ledger.Genesis
		if h, ok := heads[e.SessionID]; ok {
			seq, prev = h.Seq+1, h.Hash
		}
		if e.Seq != seq || e.Prev != prev {
			t.Fatalf("entry %d: session %s seq %d prev %s, want seq %d prev %s", i, e.SessionID, e.Seq, e.Prev, seq, prev)
		}
		heads[e.SessionID] = e
		byName[e.SessionID] = append(byName[e.SessionID], e)
		leaf, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(i, leaf, mem)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
		all = append(all, e)
	}
	if _, err := st.EntryAt(ctx, size); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("EntryAt(size %d) = %v, want ErrNotFound", size, err)
	}

	idx := make([]int64, len(want))
	for i := range idx {
		idx[i] = int64(i)
	}
	got, err := st.ReadHashes(ctx, idx)
	if err != nil {
		t.Fatalf("ReadHashes(all %d): %v", len(idx), err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stored hash %d = %v, recomputed %v", i, got[i], want[i])
		}
	}
	if _, err := st.ReadHashes(ctx, []int64{int64(len(want))}); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("ReadHashes(past the end) = %v, want ErrNotFound", err)
	}
	root, err := tlog.TreeHash(size, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return st.ReadHashes(ctx, ix) }))
	if err != nil {
		t.Fatal(err)
	}
	if wantRoot, _ := tlog.TreeHash(size, mem); root != wantRoot {
		t.Fatalf("root of stored hashes %v, of entries %v", root, wantRoot)
	}

	for name, es := range byName {
		got, err := st.Entries(ctx, name, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(es) {
			t.Fatalf("Entries(%s) has %d entries, want %d", name, len(got), len(es))
		}
		for i := range es {
			if got[i].Hash != es[i].Hash || got[i].Index != es[i].Index {
				t.Fatalf("Entries(%s)[%d] = index %d, want %d", name, i, got[i].Index, es[i].Index)
			}
		}
	}
	return all
}

// countSessions returns how many entries each session has.
func countSessions(es []ledger.Entry) map[string]int {
	m := map[string]int{}
	for _, e := range es {
		m[e.SessionID]++
	}
	return m
}

func sessionName(i int) string { return fmt.Sprintf("s%d", i) }

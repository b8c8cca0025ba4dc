package ledger

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// benchExport is a 100,000-entry export of one session, built once.
var benchExport = sync.OnceValues(func() ([]byte, string) {
	signer, _, vkey, err := GenerateSigner("warden.bench/ledger")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	l := New(NewMemStore(), signer, Options{CheckpointEvery: -1, Redact: RedactOptions{Disabled: true}})
	const n, batch = 100_000, 1000
	for i := 0; i < n; i += batch {
		recs := make([]Record, batch)
		for j := range recs {
			recs[j] = Record{"bench-session", "action:evaluate", map[string]any{
				"actionId": fmt.Sprintf("act-%08d", i+j), "actionIndex": i + j, "tool": "file:read",
				"verdict": "allow", "reasons": []string{"Action allowed by capability file:read"},
			}}
		}
		if _, err := l.AppendBatch(ctx, recs); err != nil {
			panic(err)
		}
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, "bench-session"); err != nil {
		panic(err)
	}
	return buf.Bytes(), vkey
})

// BenchmarkVerify verifies a 100,000-entry export and reports entries/s
// (target ≥ 200,000).
func BenchmarkVerify(b *testing.B) {
	file, vkey := benchExport()
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		rep := Verify(bytes.NewReader(file), VerifyOptions{Keys: []string{vkey}})
		if !rep.Valid || rep.Entries != 100_000 {
			b.Fatalf("benchmark export does not verify: %+v", rep.Failed())
		}
	}
	b.ReportMetric(float64(100_000*b.N)/time.Since(start).Seconds(), "entries/s")
}

// fillMemStore builds a MemStore of n single-session-per-100 entries
// directly, without the per-append checks, for proof benchmarks.
func fillMemStore(n int) *MemStore {
	m := NewMemStore()
	ts, _ := FormatTime(testTime)
	heads := map[string]Entry{}
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = m.hashes[x]
		}
		return out, nil
	})
	var buf []byte
	for i := 0; i < n; i++ {
		sid := "s" + strconv.Itoa(i%100)
		seq, prev := int64(1), Genesis
		if h, ok := heads[sid]; ok {
			seq, prev = h.Seq+1, h.Hash
		}
		e, err := newEntryCanonical(sid, "action:evaluate", seq, prev, ts, []byte(`{"i":`+strconv.Itoa(i)+`}`))
		if err != nil {
			panic(err)
		}
		e.Index = int64(i)
		buf = e.leaf(buf[:0])
		hs, err := tlog.StoredHashes(e.Index, buf, r)
		if err != nil {
			panic(err)
		}
		m.hashes = append(m.hashes, hs...)
		m.entries = append(m.entries, e)
		m.sessions[sid] = append(m.sessions[sid], e.Index)
		heads[sid] = e
	}
	return m
}

var benchStore1M = sync.OnceValue(func() *MemStore { return fillMemStore(1_000_000) })

// BenchmarkProveInclusion proves a random entry in a 1,000,000-entry tree
// (target ≤ 1 ms per proof).
func BenchmarkProveInclusion(b *testing.B) {
	m := benchStore1M()
	l := New(m, nil, Options{})
	ctx := context.Background()
	const size = 1_000_000
	root, err := l.TreeHash(ctx, size)
	if err != nil {
		b.Fatal(err)
	}
	// The proofs are right (checked once, outside the timed loop).
	p, err := l.ProveInclusion(ctx, 123_456, size)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := m.entries[123_456].canonicalLeaf()
	if err != nil || CheckInclusion(p, size, root, 123_456, leaf) != nil {
		b.Fatalf("proof does not check: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		if _, err := l.ProveInclusion(ctx, rng.Int64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProveAndCheckInclusion adds the check of each proof.
func BenchmarkProveAndCheckInclusion(b *testing.B) {
	m := benchStore1M()
	l := New(m, nil, Options{})
	ctx := context.Background()
	const size = 1_000_000
	root, err := l.TreeHash(ctx, size)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		idx := rng.Int64N(size)
		p, err := l.ProveInclusion(ctx, idx, size)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := m.entries[idx].canonicalLeaf()
		if err != nil {
			b.Fatal(err)
		}
		if err := CheckInclusion(p, size, root, idx, leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend appends from parallel goroutines, one session each,
// through group commit: to a MemStore, and to a store that takes 1 ms per
// write like an fsync (64 appenders), where batching carries the throughput.
func BenchmarkAppend(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchAppend(b, 0, 1) })
	b.Run("fsync-1ms", func(b *testing.B) { benchAppend(b, time.Millisecond, 32) })
}

func benchAppend(b *testing.B, delay time.Duration, parallelism int) {
	ctx := context.Background()
	cs := &countingStore{Store: NewMemStore(), delay: delay}
	l := New(cs, nil, Options{})
	var next atomic.Int64
	data := map[string]any{"actionId": "act-0001", "actionIndex": 1, "tool": "file:read", "verdict": "allow", "reasons": []string{"ok"}}
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		sid := "bench-" + strconv.FormatInt(next.Add(1), 10)
		for pb.Next() {
			if _, err := l.Append(ctx, sid, "action:evaluate", data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cs.entries.Load())/time.Since(start).Seconds(), "entries/s")
	if calls := cs.appends.Load(); calls > 0 {
		b.ReportMetric(float64(cs.entries.Load())/float64(calls), "entries/batch")
	}
}

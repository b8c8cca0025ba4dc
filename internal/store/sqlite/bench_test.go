package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// BenchmarkLedgerAppend measures one LedgerStore.Append of a batch of 1, 16
// or 128 entries on a file with synchronous=FULL: each op is one durable
// commit (an fsync of the WAL), so entries/s shows what group commit buys.
// The batches are built against an in-memory mirror outside the timer.
func BenchmarkLedgerAppend(b *testing.B) {
	for _, n := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			st := sqlite.NewLedgerStore(mustOpen(b, filepath.Join(b.TempDir(), "warden.db")))
			mirror := ledger.NewMemStore()
			rs := make([]record, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j := range rs {
					rs[j] = record{sessionName((i*n + j) % 8), i}
				}
				entries, hashes, err := buildBatch(ctx, mirror, rs)
				if err == nil {
					err = mirror.Append(ctx, entries, hashes)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := st.Append(ctx, entries, hashes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkDiskSync measures one small write plus fsync on the benchmark's
// disk: the floor under any durable acknowledgement, so 1/its time bounds
// what one caller waiting for each answer can reach.
func BenchmarkDiskSync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := 0; b.Loop(); i++ {
		if _, err := f.WriteAt(buf, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
}

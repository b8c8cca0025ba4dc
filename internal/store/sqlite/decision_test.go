package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

func TestDecisionConformance(t *testing.T) {
	decision.StoreConformance(t, func(t *testing.T) decision.Store {
		return sqlite.NewDecisionStore(mustOpen(t, filepath.Join(t.TempDir(), "warden.db")))
	})
}

func TestDecisionConformanceMemory(t *testing.T) {
	decision.StoreConformance(t, func(t *testing.T) decision.Store {
		return sqlite.NewDecisionStore(mustOpen(t, sqlite.MemoryPath))
	})
}

// Two processes (two DBs on one file, each with its own Service) approve
// and execute the same decisions: every approval counts once, exactly one
// execution runs, and a third process reopening the file replays the same
// states from the events.
func TestDecisionsSharedAndDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	exec := &decision.NopExecutor{}
	var svcs []*decision.Service
	for range 2 {
		svcs = append(svcs, decision.New(decision.Config{Store: sqlite.NewDecisionStore(mustOpen(t, path)), Executor: exec}))
	}
	const n = 8
	var ids []string
	for i := range n {
		d, err := svcs[i%2].Create(ctx, &decision.Request{Goal: fmt.Sprint("goal ", i), Actor: human("requester"), MinApprovals: intp(3)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int{}
	for _, id := range ids {
		for j := range 6 {
			wg.Go(func() {
				who := fmt.Sprint("approver-", j%3)
				_, err := svcs[j%2].Approve(ctx, id, human(who), decision.ApproveOptions{})
				if err != nil && warden.ErrorCode(err) != warden.CodeAlreadyApproved {
					t.Errorf("Approve(%s, %s): %v", id, who, err)
				}
			})
		}
	}
	wg.Wait()
	for _, id := range ids {
		for j := range 2 {
			wg.Go(func() {
				_, err := svcs[j].Execute(ctx, id, decision.ExecuteOptions{Actor: human("operator")})
				mu.Lock()
				defer mu.Unlock()
				switch warden.ErrorCode(err) {
				case "":
					won[id]++
				case warden.CodeInvalidState:
				default:
					t.Errorf("Execute(%s): %v", id, err)
				}
			})
		}
	}
	wg.Wait()
	store := sqlite.NewDecisionStore(mustOpen(t, path))
	fresh := decision.New(decision.Config{Store: store})
	for _, id := range ids {
		if won[id] != 1 {
			t.Errorf("%s executed %d times", id, won[id])
		}
		d, err := fresh.Verify(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != decision.StateCompleted || d.Tally.Granted != 3 || d.EventCount != 8 {
			t.Errorf("%s: %s, %d approvals, %d events", id, d.State, d.Tally.Granted, d.EventCount)
		}
		decision.CheckReplay(t, store, id)
	}
}

func human(id string) decision.Actor { return decision.Actor{Type: decision.Human, ID: id} }

func intp(n int) *int { return &n }

// BenchmarkApprove measures one durable approval (load the cached state
// and the approver's row, append one event) on a file with
// synchronous=FULL, on a store that holds 1,000 decisions and on one
// decision that already holds 1,000 approvals: approving reads and writes
// the same rows either way, so the two should cost the same.
func BenchmarkApprove(b *testing.B) {
	for _, c := range []struct {
		name      string
		decisions int
		approvals int
	}{
		{"store=1k/approvals=0", 1000, 0},
		{"store=1/approvals=1000", 1, 1000},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			svc := decision.New(decision.Config{Store: sqlite.NewDecisionStore(mustOpen(b, filepath.Join(b.TempDir(), "warden.db")))})
			// Prefill concurrently, so that group commit makes it quick.
			var wg sync.WaitGroup
			sem := make(chan struct{}, 64)
			ids := make([]string, c.decisions)
			for i := range c.decisions {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					d, err := svc.Create(ctx, &decision.Request{Goal: fmt.Sprint("goal ", i), Actor: human("requester"), MinApprovals: intp(decision.MaxMinApprovals)})
					if err != nil {
						b.Error(err)
						return
					}
					ids[i] = d.ID
				})
			}
			wg.Wait()
			for i := range c.approvals {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if _, err := svc.Approve(ctx, ids[0], human(fmt.Sprint("pre-", i)), decision.ApproveOptions{}); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				id := ids[i%len(ids)]
				if _, err := svc.Approve(ctx, id, human(fmt.Sprint("approver-", i)), decision.ApproveOptions{Comment: "ok"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/approve")
		})
	}
}

// BenchmarkDecisionFlow measures the whole life of a decision on a file
// with synchronous=FULL: request, two approvals, execution with the no-op
// executor (five durable commits). Flows run in parallel, as a server's
// callers would, so group commit shares the fsyncs; decisions/s is the
// throughput.
func BenchmarkDecisionFlow(b *testing.B) {
	for _, par := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", par), func(b *testing.B) {
			ctx := context.Background()
			svc := decision.New(decision.Config{
				Store:    sqlite.NewDecisionStore(mustOpen(b, filepath.Join(b.TempDir(), "warden.db"))),
				Executor: decision.NopExecutor{},
			})
			plan := []byte(`[{"tool":"noop","input":{}}]`)
			b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			start := time.Now()
			flow := func() error {
				d, err := svc.Create(ctx, &decision.Request{Goal: "deploy", Actor: human("requester"), Mode: decision.Apply, Plan: plan, MinApprovals: intp(2)})
				if err != nil {
					return err
				}
				for _, who := range []string{"alice", "bob"} {
					if _, err := svc.Approve(ctx, d.ID, human(who), decision.ApproveOptions{}); err != nil {
						return err
					}
				}
				_, err = svc.Execute(ctx, d.ID, decision.ExecuteOptions{Actor: human("operator")})
				return err
			}
			if par == 1 {
				for b.Loop() {
					if err := flow(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := flow(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
		})
	}
}

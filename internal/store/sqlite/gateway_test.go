package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

// gatewayStore is the SQLite gateway store with its ledger readable, so the
// suite also checks what was recorded.
type gatewayStore struct {
	*sqlite.GatewayStore
	ledger *sqlite.LedgerStore
}

func (s gatewayStore) LedgerTypes(t *testing.T, sessionID string) []string {
	entries, err := s.ledger.Entries(context.Background(), sessionID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if err := e.Verify(); err != nil {
			t.Errorf("entry %d of %s: %v", e.Seq, sessionID, err)
		}
		out = append(out, e.Type)
	}
	return out
}

func newGatewayStore(t *testing.T) gateway.Store {
	db := mustOpen(t, filepath.Join(t.TempDir(), "warden.db"))
	ls := sqlite.NewLedgerStore(db)
	return gatewayStore{sqlite.NewGatewayStore(db, ledger.New(ls, nil, ledger.Options{})), ls}
}

func TestGatewayConformance(t *testing.T) {
	gateway.StoreConformance(t, newGatewayStore)
}

func TestTokenConformance(t *testing.T) {
	auth.StoreConformance(t, func(t *testing.T) auth.Store {
		return sqlite.NewTokenStore(mustOpen(t, filepath.Join(t.TempDir(), "warden.db")))
	})
}

// Two gateways on one database file (as warden serve and warden proxy
// would be) share sessions and approvals, and a session survives closing
// and reopening the database.
func TestGatewaySharedAndDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	open := func() (*gateway.Gateway, *sqlite.DB) {
		db, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		ls := sqlite.NewLedgerStore(db)
		return gateway.New(gateway.Config{Store: sqlite.NewGatewayStore(db, ledger.New(ls, nil, ledger.Options{}))}), db
	}
	proxy, db1 := open()
	server, db2 := open()
	s, err := proxy.CreateSession(ctx, gateway.CreateRequest{Owner: "agent", Root: t.TempDir(), Policy: []byte(`
name: shared
capabilities: [{tool: file:delete, scope: {}}]
gates: [{action: file:delete, approval: human, min_approvals: 2}]
`)})
	if err != nil {
		t.Fatal(err)
	}
	action := warden.Action{Tool: "file:delete", Input: map[string]any{"path": "old.txt"}}
	r, err := proxy.Evaluate(ctx, s.ID, action, gateway.EvaluateOptions{Actor: "agent"})
	if err != nil || r.Decision != warden.Gate {
		t.Fatalf("%+v %v", r, err)
	}
	for _, who := range []string{"alice", "bob"} {
		if _, err := server.Approve(ctx, r.ApprovalID, gateway.Approver{ID: who}, gateway.ApproveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if r2, err := proxy.Evaluate(ctx, s.ID, action, gateway.EvaluateOptions{Actor: "agent"}); err != nil || r2.Decision != warden.Allow {
		t.Fatalf("approved elsewhere, retried here: %+v %v", r2, err)
	}
	db1.Close()
	db2.Close()

	again, db3 := open()
	defer db3.Close()
	rep, err := again.Report(ctx, s.ID, true)
	if err != nil || rep.TotalActions != 2 || rep.Approved != 1 || rep.Gated != 1 || len(rep.Actions) != 2 {
		t.Fatalf("after reopening: %+v %v", rep, err)
	}
	if _, err := again.Terminate(ctx, s.ID, "done"); err != nil {
		t.Fatal(err)
	}
}

// Ending a session signs a checkpoint that covers its last entry.
func TestGatewayCheckpointOnSessionEnd(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, filepath.Join(t.TempDir(), "warden.db"))
	signer, _, _, err := ledger.GenerateSigner("test")
	if err != nil {
		t.Fatal(err)
	}
	ls := sqlite.NewLedgerStore(db)
	g := gateway.New(gateway.Config{Store: sqlite.NewGatewayStore(db, ledger.New(ls, signer, ledger.Options{CheckpointEvery: -1}))})
	s, err := g.CreateSession(ctx, gateway.CreateRequest{Root: t.TempDir(), Policy: []byte("name: c\ncapabilities: [{tool: a, scope: {}}]\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Terminate(ctx, s.ID, "done"); err != nil {
		t.Fatal(err)
	}
	c, ok, err := ls.LatestCheckpoint(ctx)
	size, _ := ls.TreeSize(ctx)
	if err != nil || !ok || c.Size != size {
		t.Fatalf("checkpoint %+v (ok %v, err %v), tree size %d", c, ok, err, size)
	}
}

// Operations committed together stay independent: one that fails (or
// panics) rolls back alone, and every other one is durable.
func TestGatewayGroupCommitIsolation(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, filepath.Join(t.TempDir(), "warden.db"))
	st := sqlite.NewGatewayStore(db, ledger.New(sqlite.NewLedgerStore(db), nil, ledger.Options{}))
	g := gateway.New(gateway.Config{Store: st})
	s, err := g.CreateSession(ctx, gateway.CreateRequest{Root: t.TempDir(), Policy: []byte("name: g\ncapabilities: [{tool: file:read, scope: {}}]\n")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var okCount atomic.Int64
	for i := range 64 {
		wg.Go(func() {
			switch i % 4 {
			case 0:
				err := st.Update(ctx, func(tx gateway.Tx) error {
					tx.Append(s.ID, "bogus", map[string]any{"x": 1})
					return errors.New("this operation fails")
				})
				if err == nil || err.Error() != "this operation fails" {
					t.Errorf("failing operation: %v", err)
				}
			case 1:
				err := st.Update(ctx, func(gateway.Tx) error { panic("boom") })
				if err == nil {
					t.Error("a panicking operation succeeded")
				}
			default:
				if r, err := g.Evaluate(ctx, s.ID, warden.Action{Tool: "file:read", Input: map[string]any{"path": "a"}}, gateway.EvaluateOptions{}); err != nil || r.Decision != warden.Allow {
					t.Errorf("evaluate: %+v %v", r, err)
				} else {
					okCount.Add(1)
				}
			}
		})
	}
	wg.Wait()
	got, err := g.Session(ctx, s.ID)
	if err != nil || int64(got.Counters.ActionsEvaluated) != okCount.Load() {
		t.Fatalf("evaluated %d, succeeded %d: %v", got.Counters.ActionsEvaluated, okCount.Load(), err)
	}
	entries, err := sqlite.NewLedgerStore(db).Entries(ctx, s.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type == "bogus" {
			t.Fatal("a failed operation's ledger entry was committed")
		}
	}
	if int64(len(entries)) != 1+okCount.Load() {
		t.Fatalf("%d entries for %d evaluations", len(entries), okCount.Load())
	}
}

// BenchmarkGatewayEvaluate measures evaluate plus durable ledger append
// (synchronous=FULL, group commit) on a real file: one session calling
// sequentially, and eight sessions at once.
func BenchmarkGatewayEvaluate(b *testing.B) {
	for _, sessions := range []int{1, 8} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "warden.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			g := gateway.New(gateway.Config{Store: sqlite.NewGatewayStore(db, ledger.New(sqlite.NewLedgerStore(db), nil, ledger.Options{}))})
			root := b.TempDir()
			ids := make([]string, sessions)
			for i := range ids {
				s, err := g.CreateSession(ctx, gateway.CreateRequest{Root: root, Policy: []byte("name: b\ncapabilities: [{tool: file:read, scope: {paths: [\"./src/**\"]}}]\nforbidden: [{pattern: \"**/.env\"}]\n")})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = s.ID
			}
			action := warden.Action{Tool: "file:read", Input: map[string]any{"path": "src/a.ts"}}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := b.N / sessions
			for _, id := range ids {
				wg.Go(func() {
					for range per {
						if _, err := g.Evaluate(ctx, id, action, gateway.EvaluateOptions{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(per*sessions)/time.Since(start).Seconds(), "actions/s")
		})
	}
}

// BenchmarkGatewayExecute measures file:read and file:write of small files
// through the gateway on a real file: evaluate, execute with the built-in
// executor (backup of the previous content included) and durable record,
// from one session and from eight at once.
func BenchmarkGatewayExecute(b *testing.B) {
	for _, tool := range []string{"file:read", "file:write"} {
		for _, sessions := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/sessions=%d", tool, sessions), func(b *testing.B) {
				ctx := context.Background()
				dir := b.TempDir()
				db, err := sqlite.Open(ctx, filepath.Join(dir, "warden.db"), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				objects, err := executor.NewDirObjects(filepath.Join(dir, "objects"))
				if err != nil {
					b.Fatal(err)
				}
				g := gateway.New(gateway.Config{Objects: objects, Store: sqlite.NewGatewayStore(db, ledger.New(sqlite.NewLedgerStore(db), nil, ledger.Options{}))})
				root := filepath.Join(dir, "project")
				ids := make([]string, sessions)
				for i := range ids {
					if err := os.MkdirAll(filepath.Join(root, "src", fmt.Sprint(i)), 0o755); err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(root, "src", fmt.Sprint(i), "a.txt"), []byte("hello\n"), 0o644); err != nil {
						b.Fatal(err)
					}
					s, err := g.CreateSession(ctx, gateway.CreateRequest{Root: root, Policy: []byte("name: b\ncapabilities:\n  - {tool: file:read, scope: {paths: [\"src/**\"]}}\n  - {tool: file:write, scope: {paths: [\"src/**\"]}}\nforbidden: [{pattern: \"**/.env\"}]\n")})
					if err != nil {
						b.Fatal(err)
					}
					ids[i] = s.ID
				}
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				per := b.N / sessions
				for i, id := range ids {
					wg.Go(func() {
						path := fmt.Sprintf("src/%d/a.txt", i)
						for n := range per {
							a := warden.Action{Tool: tool, Input: map[string]any{"path": path}}
							if tool == "file:write" {
								a.Input["content"] = fmt.Sprintf("version %d\n", n)
							}
							x, err := g.Execute(ctx, id, a, gateway.ExecuteOptions{})
							if err != nil || !x.Executed || !x.Result.Success {
								b.Errorf("%+v %v", x, err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(per*sessions)/time.Since(start).Seconds(), "actions/s")
			})
		}
	}
}

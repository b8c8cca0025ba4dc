package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/internal/auth"
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

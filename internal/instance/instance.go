// Package instance assembles a local Warden: the database, the ledger with
// its signing key, the gateway and the token store. The command line and
// the public Go package both open instances through it.
package instance

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/planexec"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// DefaultDB is the embedded database, relative to the project directory.
const DefaultDB = ".warden/warden.db"

// Instance is an open local Warden.
type Instance struct {
	DB      *sqlite.DB
	Ledger  *ledger.Ledger
	Gateway *gateway.Gateway
	Tokens  *sqlite.TokenStore
	// Decisions is the decision control plane over the same database. It
	// executes decisions with Plans.
	Decisions *decision.Service
	// Plans is the built-in executor of decisions: it runs a decision's
	// plan of actions in a gateway session of its own. Register the
	// policies and roots it may run plans under with Plans.SetTarget; a
	// decision bound to a session runs under that session's policy.
	Plans *planexec.Executor
	// SigningKey is the ledger's Ed25519 signing key, which also signs
	// audit packages (decision.AuditOptions.Signer); the ledger's verifier
	// key, Ledger.Signer().VerifierKey(), verifies both.
	SigningKey ed25519.PrivateKey
	// Dir holds the database and its keys.
	Dir string
}

// Options configure Open.
type Options struct {
	// OnApproval, if not nil, receives each approval requested by a gate
	// with a webhook.
	OnApproval func(*gateway.Approval)
	// Adapters are executors added to the built-in ones.
	Adapters []executor.Adapter
}

// Open opens the database at path (DefaultDB when empty; sqlite.MemoryPath
// for a database that lives only in this process). The ledger signing key
// is kept beside the database in signing.key, created on first use, and
// the backups rollbacks restore from in objects/; an
// in-memory database gets a key that lives as long as it.
func Open(ctx context.Context, path string, opts Options) (*Instance, error) {
	if path == "" {
		path = DefaultDB
	}
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	var signer *ledger.Signer
	var skey string
	dir := filepath.Dir(path)
	if path == sqlite.MemoryPath {
		signer, skey, _, err = ledger.GenerateSigner("warden")
	} else {
		keyFile := filepath.Join(dir, "signing.key")
		if signer, err = ledger.LoadOrCreateKey(keyFile, "warden"); err == nil {
			var b []byte
			b, err = os.ReadFile(keyFile)
			skey = string(b)
		}
	}
	var key ed25519.PrivateKey
	if err == nil {
		key, err = decision.SigningKey(skey)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger signing key: %w", err)
	}
	executors := executor.Default()
	for _, a := range opts.Adapters {
		if err := executors.Register(a); err != nil {
			db.Close()
			return nil, err
		}
	}
	var objects executor.Objects = executor.NewMemObjects()
	if path != sqlite.MemoryPath {
		if objects, err = executor.NewDirObjects(filepath.Join(dir, "objects")); err != nil {
			db.Close()
			return nil, fmt.Errorf("backup store: %w", err)
		}
	}
	l := ledger.New(sqlite.NewLedgerStore(db), signer, ledger.Options{})
	// The database, its signing key, the admin token and the backups are
	// Warden's own: no agent's action may read or change them.
	var protected []string
	if path != sqlite.MemoryPath {
		protected = []string{path, path + "-wal", path + "-shm", path + "-journal",
			filepath.Join(dir, "signing.key"), filepath.Join(dir, "admin.token"), filepath.Join(dir, "objects")}
	}
	gw := gateway.New(gateway.Config{Store: sqlite.NewGatewayStore(db, l), OnApproval: opts.OnApproval, Objects: objects,
		Executors: executors, Protected: protected})
	plans := planexec.New(planexec.Config{Gateway: gw, Registry: executors})
	decisions := decision.New(decision.Config{Store: sqlite.NewDecisionStore(db), Executor: plans})
	plans.SetDecisionSession(func(ctx context.Context, id string) (string, error) {
		d, err := decisions.Get(ctx, id)
		if err != nil {
			return "", err
		}
		return d.SessionID, nil
	})
	return &Instance{
		DB: db, Ledger: l, Dir: dir, Gateway: gw, Decisions: decisions, Plans: plans, SigningKey: key,
		Tokens: sqlite.NewTokenStore(db),
	}, nil
}

// Close closes the database.
func (in *Instance) Close() error { return in.DB.Close() }

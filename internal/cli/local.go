package cli

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// DefaultDB is the embedded database, relative to the project directory.
const DefaultDB = ".warden/warden.db"

// instance is an open local Warden: its database, ledger and gateway.
type instance struct {
	db      *sqlite.DB
	ledger  *ledger.Ledger
	gateway *gateway.Gateway
	tokens  *sqlite.TokenStore
	dir     string // the directory holding the database and its keys
}

// openInstance opens the database at path (DefaultDB when empty), with the
// ledger signing key kept beside it.
func openInstance(ctx context.Context, path string) (*instance, error) {
	if path == "" {
		path = DefaultDB
	}
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	signer, err := ledger.LoadOrCreateKey(filepath.Join(dir, "signing.key"), "warden")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger signing key: %w", err)
	}
	ls := sqlite.NewLedgerStore(db)
	l := ledger.New(ls, signer, ledger.Options{})
	return &instance{
		db: db, ledger: l, dir: dir,
		gateway: gateway.New(gateway.Config{Store: sqlite.NewGatewayStore(db, l)}),
		tokens:  sqlite.NewTokenStore(db),
	}, nil
}

func (in *instance) Close() error { return in.db.Close() }

// localIdentity is who a local command acts as: --as, or the OS user.
func localIdentity(as string) string {
	if as != "" {
		return as
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "local"
}

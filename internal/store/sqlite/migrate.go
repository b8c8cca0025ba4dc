package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is wrapped by the error Open returns for a database whose
// schema version is newer than this binary knows: it was written by a newer
// Warden, and an older one must not touch it.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the embedded migrations, checked once at start-up.
var migrations = mustLoadMigrations(migrationFS, "migrations")

// schemaVersion is the schema version this binary writes: the number of the
// last embedded migration. A database's version is its PRAGMA user_version.
var schemaVersion = len(migrations)

// A migration is one numbered SQL script.
type migration struct {
	version int
	name    string // file name, for errors
	sql     string
}

func mustLoadMigrations(fsys fs.FS, dir string) []migration {
	m, err := loadMigrations(fsys, dir)
	if err != nil {
		panic(err)
	}
	return m
}

// loadMigrations reads dir's NNNN_name.sql files. Their numbers must run
// 1, 2, 3, … without gap or duplicate, so that the Nth script moves a
// database from version N-1 to N.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range ents { // sorted by name
		name := e.Name()
		num, rest, ok := strings.Cut(name, "_")
		if e.IsDir() || !ok || len(num) != 4 || !strings.HasSuffix(rest, ".sql") || len(rest) == len(".sql") {
			return nil, fmt.Errorf("migration %q: name is not NNNN_name.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %q: bad number %q", name, num)
		}
		if want := len(ms) + 1; v != want {
			return nil, fmt.Errorf("migration %q: number %d, want %d", name, v, want)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations in %q", dir)
	}
	return ms, nil
}

// migrate brings the database to schemaVersion. Each migration runs in its
// own IMMEDIATE transaction together with the user_version update, so a
// crash leaves the database at a whole version and two processes opening a
// new file at once apply each migration exactly once: the second waits for
// the write lock and then sees the version the first committed.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateTo(ctx, migrations)
}

// migrateTo applies ms, the migrations known to this binary.
func (db *DB) migrateTo(ctx context.Context, ms []migration) error {
	// The common case, a database already up to date, takes no write lock.
	v, err := userVersion(ctx, db.write)
	if err != nil {
		return err
	}
	if err := checkVersion(v, len(ms)); err != nil {
		return err
	}
	for v < len(ms) {
		if v, err = db.migrateOne(ctx, ms); err != nil {
			return err
		}
	}
	return nil
}

// migrateOne applies the migration after the database's current version, if
// there is one, and returns the version reached.
func (db *DB) migrateOne(ctx context.Context, ms []migration) (version int, err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	v, err := userVersion(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := checkVersion(v, len(ms)); err != nil {
		return 0, err
	}
	if v == len(ms) { // another process got here first
		return v, tx.Commit()
	}
	m := ms[v]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.name, err)
	}
	// PRAGMA takes no parameters; m.version is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return 0, fmt.Errorf("migration %s: set user_version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return m.version, nil
}

// checkVersion accepts a database version v that a binary knowing versions
// up to known can migrate.
func checkVersion(v, known int) error {
	if v > known {
		return fmt.Errorf("%w: database is at schema version %d, this binary knows versions up to %d; use a newer Warden",
			ErrSchemaTooNew, v, known)
	}
	if v < 0 {
		return fmt.Errorf("database has negative schema version %d", v)
	}
	return nil
}

func userVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

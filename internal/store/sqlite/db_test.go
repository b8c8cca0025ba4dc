package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/store/sqlite"
)

// mustOpen opens path and closes it when the test ends.
func mustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	// The characters that mean something in a URI must reach SQLite as
	// part of the file name.
	dir := filepath.Join(t.TempDir(), "my project?x=1#y%41", ".warden")
	path := filepath.Join(dir, "warden.db")
	db := mustOpen(t, path)
	if got := db.Path(); got != path {
		t.Errorf("Path() = %q, want %q", got, path)
	}
	for p, want := range map[string]os.FileMode{
		dir:               0o700 | os.ModeDir,
		path:              0o600,
		path + "-wal":     0o600,
		filepath.Dir(dir): 0o700 | os.ModeDir,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
}

func TestOpenPragmas(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "warden.db"))
	ctx := context.Background()
	check := func(t *testing.T, pool string, want map[string]string) {
		t.Helper()
		p := db.Writer()
		if pool == "reader" {
			p = db.Reader()
		}
		got := map[string]string{}
		for name := range want {
			var v string
			if err := p.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
				t.Fatalf("%s PRAGMA %s: %v", pool, name, err)
			}
			got[name] = v
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s pragmas (-want +got):\n%s", pool, diff)
		}
	}
	check(t, "writer", map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2",
		"busy_timeout": "10000",
		"foreign_keys": "1",
		"user_version": fmt.Sprint(sqlite.SchemaVersion),
	})
	check(t, "reader", map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "10000",
		"foreign_keys": "1",
	})
}

func TestReadPoolIsReadOnly(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "warden.db"))
	_, err := db.Reader().Exec("CREATE TABLE x (a INTEGER) STRICT")
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("write on the read pool: err = %v, want a readonly error", err)
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "warden.db"), &sqlite.Options{ReadConns: 2, BusyTimeout: 1500e6})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Reader().Stats().MaxOpenConnections; got != 2 {
		t.Errorf("read pool size = %d, want 2", got)
	}
	if got := db.Writer().Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool size = %d, want 1", got)
	}
	var ms int
	if err := db.Reader().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil || ms != 1500 {
		t.Errorf("busy_timeout = %d, %v; want 1500", ms, err)
	}

	for _, o := range []sqlite.Options{{ReadConns: -1}, {BusyTimeout: -1}} {
		if db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), &o); err == nil {
			db.Close()
			t.Errorf("Open with %+v succeeded", o)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"empty":         "",
		"parent a file": filepath.Join(file, "warden.db"),
		"not sqlite":    notDB,
	} {
		t.Run(name, func(t *testing.T) {
			db, err := sqlite.Open(ctx, path, nil)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if want := fmt.Sprintf("open database %q: ", path); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestOpenMemory(t *testing.T) {
	db := mustOpen(t, sqlite.MemoryPath)
	if db.Reader() != db.Writer() {
		t.Error("in-memory database has two pools")
	}
	var mode string
	if err := db.Writer().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "memory" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	// Two in-memory databases are distinct.
	other := mustOpen(t, sqlite.MemoryPath)
	if _, err := db.Writer().Exec("CREATE TABLE only_here (a INTEGER) STRICT"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Writer().Exec("CREATE TABLE only_here (a INTEGER) STRICT"); err != nil {
		t.Errorf("second in-memory database shares the first: %v", err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warden.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	future := sqlite.SchemaVersion + 7
	if _, err := db.Writer().Exec(fmt.Sprintf("PRAGMA user_version = %d", future)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = sqlite.Open(context.Background(), path, nil)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer database succeeded")
	}
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Errorf("error %v does not wrap ErrSchemaTooNew", err)
	}
	for _, want := range []string{path, fmt.Sprintf("version %d", future), fmt.Sprintf("up to %d", sqlite.SchemaVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestConcurrentOpen opens one new file from many goroutines at once, ten
// times over: each migration must be applied exactly once (a second
// application would fail on CREATE TABLE), the switch to WAL mode must not
// fail any opener, and every opener must end up at the current version.
func TestConcurrentOpen(t *testing.T) {
	for range 10 {
		path := filepath.Join(t.TempDir(), "warden.db")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		dbs := make([]*sqlite.DB, n)
		for i := range n {
			wg.Go(func() {
				dbs[i], errs[i] = sqlite.Open(context.Background(), path, nil)
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open %d: %v", i, errs[i])
				continue
			}
			var v int
			if err := dbs[i].Reader().QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != sqlite.SchemaVersion {
				t.Errorf("Open %d: user_version = %d, %v", i, v, err)
			}
			dbs[i].Close()
		}
	}
}

package sqlite

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestEmbeddedMigrations(t *testing.T) {
	if schemaVersion < 1 || schemaVersion != len(migrations) {
		t.Fatalf("schemaVersion = %d with %d migrations", schemaVersion, len(migrations))
	}
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migration %s has version %d, want %d", m.name, m.version, i+1)
		}
		// Every table is STRICT.
		for _, stmt := range strings.Split(m.sql, ";") {
			if strings.Contains(stmt, "CREATE TABLE") && !strings.Contains(stmt, ") STRICT") {
				t.Errorf("migration %s: table is not STRICT:%s", m.name, stmt)
			}
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := loadMigrations(fstest.MapFS{
		"m/0002_two.sql": file("B"),
		"m/0001_one.sql": file("A"),
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []migration{{1, "0001_one.sql", "A"}, {2, "0002_two.sql", "B"}}
	if diff := cmp.Diff(want, ms, cmp.AllowUnexported(migration{})); diff != "" {
		t.Errorf("loadMigrations (-want +got):\n%s", diff)
	}

	for name, fsys := range map[string]fstest.MapFS{
		"empty":        {"m/.keep": file("")},
		"gap":          {"m/0001_a.sql": file(""), "m/0003_c.sql": file("")},
		"duplicate":    {"m/0001_a.sql": file(""), "m/0001_b.sql": file("")},
		"zero":         {"m/0000_a.sql": file("")},
		"short number": {"m/001_a.sql": file("")},
		"no name":      {"m/0001_.sql": file("")},
		"not sql":      {"m/0001_a.txt": file("")},
		"no dir":       {},
	} {
		if _, err := loadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: loadMigrations succeeded", name)
		}
	}
}

// TestMigrationIsAtomic applies a good migration and then a failing one:
// the failing one leaves no trace and the version stays at the good one.
func TestMigrationIsAtomic(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, MemoryPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := len(migrations)
	ms := append(migrations[:base:base],
		migration{base + 1, "good.sql", "CREATE TABLE good (a INTEGER) STRICT;"},
		migration{base + 2, "bad.sql", "CREATE TABLE half (a INTEGER) STRICT; INSERT INTO nowhere VALUES (1);"},
	)
	err = db.migrateTo(ctx, ms)
	if err == nil || !strings.Contains(err.Error(), "bad.sql") {
		t.Fatalf("migrateTo = %v, want an error naming bad.sql", err)
	}
	v, err := userVersion(ctx, db.write)
	if err != nil || v != base+1 {
		t.Errorf("user_version = %d, %v; want %d", v, err, base+1)
	}
	var n int
	if err := db.write.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name IN ('good', 'half')").Scan(&n); err != nil || n != 1 {
		t.Errorf("tables good+half = %d, %v; want only good", n, err)
	}
	// The binary now knows fewer versions than the database has.
	if err := db.migrateTo(ctx, migrations); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("migrateTo older list = %v, want ErrSchemaTooNew", err)
	}
}

// TestPragmaCheck shows that a connection whose settings differ from the
// expected ones is refused with an error naming the pragma.
func TestPragmaCheck(t *testing.T) {
	ctx := context.Background()
	dsn := "file::memory:?" + writerQuery(10000)
	checks := []pragmaCheck{{"journal_mode", "memory"}, {"synchronous", "1"}}
	db, err := openPool(ctx, dsn, 1, checks, 0)
	if err == nil {
		db.Close()
		t.Fatal("openPool succeeded")
	}
	if want := `PRAGMA synchronous is "2", want "1"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

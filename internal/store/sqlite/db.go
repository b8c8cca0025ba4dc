package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// MemoryPath is the path that opens a private in-memory database, for tests.
// Such a database lives on one connection shared by writes and reads, is not
// durable, and disappears when the DB is closed.
const MemoryPath = ":memory:"

// Defaults for the fields of Options left zero.
const (
	// DefaultReadConns is the default size of the read pool.
	DefaultReadConns = 4
	// DefaultBusyTimeout is how long a connection waits by default for a
	// lock held by another connection or process.
	DefaultBusyTimeout = 10 * time.Second
)

// Options tunes Open. A nil *Options selects every default.
type Options struct {
	// ReadConns is the size of the read-only pool. Zero selects
	// DefaultReadConns. An in-memory database ignores it.
	ReadConns int
	// BusyTimeout is how long a connection waits for another connection or
	// process holding a lock before failing with SQLITE_BUSY. It is applied
	// in whole milliseconds. Zero selects DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// DB is an open Warden database: one writer connection and a read-only pool
// over the same SQLite file. It is safe for concurrent use by any number of
// goroutines, and several processes may open the same file at once.
type DB struct {
	path  string
	write *sql.DB // exactly one connection; every transaction is BEGIN IMMEDIATE
	read  *sql.DB // mode=ro; the same *sql.DB as write for an in-memory database
	// stmts are the hot queries, prepared on the writer connection.
	stmts map[string]*sql.Stmt
}

// Open opens the database at path, creating the parent directory (0700) and
// the file (0600) if they are missing, checks that every connection has the
// journal mode, durability, busy timeout and foreign-key settings Warden
// relies on, and applies the embedded migrations the file does not have yet.
// It fails with an error wrapping ErrSchemaTooNew if the file was written by
// a newer Warden. path may be MemoryPath for tests.
func Open(ctx context.Context, path string, opts *Options) (*DB, error) {
	db, err := open(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	return db, nil
}

func open(ctx context.Context, path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ReadConns < 0 {
		return nil, fmt.Errorf("negative ReadConns %d", o.ReadConns)
	}
	if o.ReadConns == 0 {
		o.ReadConns = DefaultReadConns
	}
	if o.BusyTimeout < 0 {
		return nil, fmt.Errorf("negative BusyTimeout %v", o.BusyTimeout)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	busyMS := max(1, o.BusyTimeout.Milliseconds())

	if path == MemoryPath {
		w, err := openPool(ctx, "file::memory:?"+writerQuery(busyMS), 1, memoryChecks(busyMS), o.BusyTimeout)
		if err != nil {
			return nil, err
		}
		db := &DB{path: path, write: w, read: w}
		if err := db.migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
		db.prepare(ctx)
		return db, nil
	}

	if path == "" {
		return nil, errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	// Create the file ourselves so that it gets mode 0600 whatever the umask;
	// SQLite gives the -wal and -shm files the mode of the database file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	// The "file:" prefix matters: without it the driver strips the query
	// and SQLite never sees mode=ro.
	name := "file:" + (&url.URL{Path: abs}).EscapedPath()
	w, err := openPool(ctx, name+"?"+writerQuery(busyMS), 1, writerChecks(busyMS), o.BusyTimeout)
	if err != nil {
		return nil, err
	}
	db := &DB{path: abs, write: w}
	// Migrate before the read pool exists: a read-only connection cannot
	// turn a new file into WAL mode, and readers need the schema.
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	r, err := openPool(ctx, name+"?"+readerQuery(busyMS), o.ReadConns, readerChecks(busyMS), o.BusyTimeout)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.read = r
	db.prepare(ctx)
	return db, nil
}

// Close closes both pools. It waits for queries in progress to finish.
func (db *DB) Close() error {
	var errs []error
	for _, st := range db.stmts {
		st.Close()
	}
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database %q: %w", db.path, err)
	}
	return nil
}

// Path returns the absolute path of the database file, or MemoryPath.
func (db *DB) Path() string { return db.path }

// update runs fn in a write transaction, which holds the write lock from its
// start, and commits it; with synchronous=FULL the commit returns once the
// WAL is fsynced.
func (db *DB) update(ctx context.Context, fn func(wtx) error) error {
	tx, err := db.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(wtx{Tx: tx, stmts: db.stmts}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// writerQuery is the DSN query of the writer connection. synchronous=FULL
// makes every commit fsync the WAL before it returns, so an acknowledged
// write survives a crash or power loss (SPEC §6); _txlock=immediate makes
// every transaction take the write lock at BEGIN, so a transaction that reads
// and then writes never fails with SQLITE_BUSY_SNAPSHOT, which busy_timeout
// does not retry.
func writerQuery(busyMS int64) string {
	return "_pragma=busy_timeout(" + strconv.FormatInt(busyMS, 10) + ")" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
}

// readerQuery is the DSN query of the read pool. mode=ro makes SQLite refuse
// every write on these connections; they inherit WAL mode from the file,
// which the writer has set by the time the pool opens.
func readerQuery(busyMS int64) string {
	return "mode=ro" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(busyMS, 10) + ")" +
		"&_pragma=foreign_keys(1)"
}

// A pragmaCheck is a pragma whose value every new connection must report.
type pragmaCheck struct {
	name string
	want string
}

func writerChecks(busyMS int64) []pragmaCheck {
	return []pragmaCheck{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", strconv.FormatInt(busyMS, 10)},
		{"foreign_keys", "1"},
	}
}

func readerChecks(busyMS int64) []pragmaCheck {
	return []pragmaCheck{
		{"journal_mode", "wal"},
		{"busy_timeout", strconv.FormatInt(busyMS, 10)},
		{"foreign_keys", "1"},
	}
}

// memoryChecks are the writer's checks for an in-memory database, which has
// no WAL: SQLite keeps its journal in memory.
func memoryChecks(busyMS int64) []pragmaCheck {
	c := writerChecks(busyMS)
	c[0].want = "memory"
	return c
}

// openPool opens a pool of at most conns connections whose every connection
// is checked against checks, and opens one connection now so that a bad
// file or setting fails Open rather than the first query.
func openPool(ctx context.Context, dsn string, conns int, checks []pragmaCheck, busyTimeout time.Duration) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(checkingConnector{base, checks, busyTimeout})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkingConnector refuses any new connection on which one of the pragmas
// does not have the wanted value: a DSN parameter the driver does not apply
// would otherwise be silently ignored. It also retries a connection that
// fails with SQLITE_BUSY for up to busyTimeout: when several processes open
// a new file at once, all but one fail to switch it to WAL mode, and SQLite
// reports that immediately rather than through the busy handler.
type checkingConnector struct {
	driver.Connector
	checks      []pragmaCheck
	busyTimeout time.Duration
}

// Connect opens a connection and checks its pragmas.
func (c checkingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	deadline := time.Now().Add(c.busyTimeout)
	delay := time.Millisecond
	for {
		conn, err := c.connect(ctx)
		if err == nil || !isBusy(err) || time.Now().Add(delay).After(deadline) {
			return conn, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

func (c checkingConnector) connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range c.checks {
		got, err := queryPragma(ctx, conn, p.name)
		if err == nil && !strings.EqualFold(got, p.want) {
			err = fmt.Errorf("PRAGMA %s is %q, want %q", p.name, got, p.want)
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("check connection settings: %w", err)
		}
	}
	return conn, nil
}

// isBusy reports whether err is SQLITE_BUSY or one of its extended codes.
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

func queryPragma(ctx context.Context, conn driver.Conn, name string) (string, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return "", fmt.Errorf("driver connection %T cannot query", conn)
	}
	rows, err := q.QueryContext(ctx, "PRAGMA "+name, nil)
	if err != nil {
		return "", fmt.Errorf("PRAGMA %s: %w", name, err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return "", fmt.Errorf("PRAGMA %s returned no row", name)
		}
		return "", fmt.Errorf("PRAGMA %s: %w", name, err)
	}
	if len(dest) != 1 {
		return "", fmt.Errorf("PRAGMA %s returned %d columns", name, len(dest))
	}
	switch v := dest[0].(type) {
	case int64:
		return strconv.FormatInt(v, 10), nil
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	default:
		return "", fmt.Errorf("PRAGMA %s returned %T", name, v)
	}
}

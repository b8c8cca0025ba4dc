package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/ledger"
)

// LedgerStore keeps Warden's ledger in the database: entries, the Merkle
// tree's stored hashes and signed checkpoints. It implements ledger.Store
// and is safe for concurrent use by goroutines and processes.
type LedgerStore struct {
	db *DB
}

var _ ledger.Store = (*LedgerStore)(nil)

// NewLedgerStore returns the ledger kept in db.
func NewLedgerStore(db *DB) *LedgerStore {
	return &LedgerStore{db: db}
}

// querier is what both *sql.DB and *sql.Tx offer for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Append writes entries and the stored hashes they add in one IMMEDIATE
// transaction and returns once it has committed with synchronous=FULL,
// that is, once the WAL is fsynced. The transaction holds SQLite's write
// lock from BEGIN, so Append's checks and its writes see the same state
// whatever other processes do, which keeps the ledger's order total.
//
// Besides the checks ledger.Store requires (ErrConflict, ErrInvalid), Append
// recomputes the stored hashes from the entries and refuses, with an error
// wrapping ledger.ErrInvalid, a batch whose hashes do not match: the tree
// the ledger signs always matches the stored entries.
func (s *LedgerStore) Append(ctx context.Context, entries []ledger.Entry, hashes []ledger.StoredHash) error {
	if len(entries) == 0 {
		if len(hashes) != 0 {
			return fmt.Errorf("append ledger entries: %w: %d stored hashes without entries", ledger.ErrConflict, len(hashes))
		}
		return nil
	}
	err := s.db.update(ctx, func(tx wtx) error {
		return appendEntries(ctx, tx, entries, hashes)
	})
	if err != nil {
		return fmt.Errorf("append %d ledger entries at index %d: %w", len(entries), entries[0].Index, err)
	}
	return nil
}

// appendEntries checks and inserts a batch inside tx, which must hold the
// write lock.
func appendEntries(ctx context.Context, tx wtx, entries []ledger.Entry, hashes []ledger.StoredHash) error {
	size, err := treeSize(ctx, tx)
	if err != nil {
		return err
	}
	hashCount, err := count(ctx, tx, qHashCount)
	if err != nil {
		return err
	}
	if want := tlog.StoredHashCount(size); hashCount != want {
		return fmt.Errorf("database holds %d stored hashes for tree size %d, want %d", hashCount, size, want)
	}
	if entries[0].Index != size {
		return fmt.Errorf("%w: first entry has index %d, tree size is %d", ledger.ErrConflict, entries[0].Index, size)
	}
	newSize := size + int64(len(entries))
	if want := tlog.StoredHashCount(newSize) - hashCount; int64(len(hashes)) != want {
		return fmt.Errorf("%w: %d stored hashes given, %d expected", ledger.ErrConflict, len(hashes), want)
	}
	for i, h := range hashes {
		if h.Index != hashCount+int64(i) {
			return fmt.Errorf("%w: stored hash %d has index %d, want %d", ledger.ErrConflict, i, h.Index, hashCount+int64(i))
		}
	}

	// Recompute the stored hashes, reading earlier ones from the
	// transaction and the batch's own from pending.
	pending := make([]tlog.Hash, 0, len(hashes))
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var stored []int64
		for _, x := range indexes {
			if x < hashCount {
				stored = append(stored, x)
			}
		}
		old, err := readHashes(ctx, tx, stored)
		if err != nil {
			return nil, err
		}
		for i, x := range indexes {
			switch {
			case x < hashCount:
				out[i], old = old[0], old[1:]
			case x-hashCount < int64(len(pending)):
				out[i] = pending[x-hashCount]
			default:
				return nil, fmt.Errorf("stored hash %d is not yet computed", x)
			}
		}
		return out, nil
	})
	type link struct {
		seq  int64
		hash string
	}
	heads := map[string]link{} // the chains' heads, batch included
	for i := range entries {
		e := &entries[i]
		if e.Index != size+int64(i) {
			return fmt.Errorf("%w: entry %d has index %d, want %d", ledger.ErrConflict, i, e.Index, size+int64(i))
		}
		leaf, err := e.LeafHash() // verifies the entry
		if err != nil {
			return fmt.Errorf("entry at index %d: %w", e.Index, err)
		}
		h, ok := heads[e.SessionID]
		if !ok {
			h = link{0, ledger.Genesis}
			err := tx.QueryRowContext(ctx, qSessionHead,
				e.SessionID).Scan(&h.seq, &h.hash)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read head of session %q: %w", e.SessionID, err)
			}
		}
		if e.Seq != h.seq+1 || e.Prev != h.hash {
			return fmt.Errorf("%w: entry at index %d, session %q seq %d, does not follow the session's head (want seq %d, prev %s)",
				ledger.ErrConflict, e.Index, e.SessionID, e.Seq, h.seq+1, h.hash)
		}
		heads[e.SessionID] = link{e.Seq, e.Hash}
		hs, err := tlog.StoredHashesForRecordHash(e.Index, leaf, reader)
		if err != nil {
			return fmt.Errorf("compute stored hashes of entry %d: %w", e.Index, err)
		}
		pending = append(pending, hs...)
	}
	for i, h := range hashes {
		if pending[i] != h.Hash {
			return fmt.Errorf("%w: stored hash %d does not match the entries", ledger.ErrInvalid, h.Index)
		}
	}

	return insertEntries(ctx, tx, entries, hashes)
}

// insertEntries inserts a batch inside tx without checking it: for
// entries that ledger.Ledger built against this same transaction, which
// follow its heads and tree by construction.
func insertEntries(ctx context.Context, tx wtx, entries []ledger.Entry, hashes []ledger.StoredHash) error {
	for i := range entries {
		e := &entries[i]
		if _, err := tx.ExecContext(ctx, qInsEntry, e.Index, e.SessionID, e.Seq, e.TS, e.Type, string(e.Data), e.Prev, e.Hash); err != nil {
			return fmt.Errorf("insert entry %d: %w", e.Index, err)
		}
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, qInsHash, h.Index, h.Hash[:]); err != nil {
			return fmt.Errorf("insert stored hash %d: %w", h.Index, err)
		}
	}
	return nil
}

// ReadHashes returns the stored hashes at indexes, in order, with
// tlog.HashReader semantics: an index that is not stored is an error
// wrapping ErrNotFound and ledger.ErrNotFound.
func (s *LedgerStore) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	hs, err := readHashes(ctx, s.db.read, indexes)
	if err != nil {
		return nil, fmt.Errorf("read ledger stored hashes: %w", err)
	}
	return hs, nil
}

func readHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return []tlog.Hash{}, nil
	}
	// One statement for any number of indexes: they travel as a JSON array.
	list := make([]byte, 0, 1+len(indexes)*8)
	list = append(list, '[')
	for i, x := range indexes {
		if i > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, x, 10)
	}
	list = append(list, ']')
	rows, err := q.QueryContext(ctx, qReadHashes, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, err
		}
		h, err := toHash(b)
		if err != nil {
			return nil, fmt.Errorf("stored hash %d: %w", idx, err)
		}
		found[idx] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, notFound(ledger.ErrNotFound, "stored hash "+strconv.FormatInt(x, 10))
		}
		out[i] = h
	}
	return out, nil
}

// TreeSize returns the number of entries in the ledger.
func (s *LedgerStore) TreeSize(ctx context.Context) (int64, error) {
	n, err := treeSize(ctx, s.db.read)
	if err != nil {
		return 0, fmt.Errorf("read ledger tree size: %w", err)
	}
	return n, nil
}

// treeSize counts entries by the largest index, which the primary key finds
// without a scan; Append keeps indexes dense from 0.
func treeSize(ctx context.Context, q querier) (int64, error) {
	return count(ctx, q, qTreeSize)
}

func count(ctx context.Context, q querier, query string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, query).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

const entryColumns = "idx, session_id, seq, ts, type, data, prev, hash"

// The ledger's hot queries (see hotQueries).
const (
	qTreeSize    = "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries"
	qHashCount   = "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_hashes"
	qSessionHead = "SELECT seq, hash FROM ledger_entries WHERE session_id = ? ORDER BY seq DESC LIMIT 1"
	qInsEntry    = "INSERT INTO ledger_entries (idx, session_id, seq, ts, type, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	qInsHash     = "INSERT INTO ledger_hashes (idx, hash) VALUES (?, ?)"
	qReadHashes  = "SELECT h.idx, h.hash FROM ledger_hashes AS h WHERE h.idx IN (SELECT value FROM json_each(?))"
	qHeadEntry   = "SELECT " + entryColumns + " FROM ledger_entries WHERE session_id = ? ORDER BY seq DESC LIMIT 1"
)

func scanEntry(sc interface{ Scan(...any) error }) (ledger.Entry, error) {
	var e ledger.Entry
	err := sc.Scan(&e.Index, &e.SessionID, &e.Seq, &e.TS, &e.Type, (*[]byte)(&e.Data), &e.Prev, &e.Hash)
	return e, err
}

// Head returns the last entry of a session, or ok=false if the session has
// none.
func (s *LedgerStore) Head(ctx context.Context, sessionID string) (ledger.Entry, bool, error) {
	e, ok, err := head(ctx, s.db.read, sessionID)
	if err != nil {
		return ledger.Entry{}, false, fmt.Errorf("read ledger head of session %q: %w", sessionID, err)
	}
	return e, ok, nil
}

func head(ctx context.Context, q querier, sessionID string) (ledger.Entry, bool, error) {
	e, err := scanEntry(q.QueryRowContext(ctx, qHeadEntry, sessionID))
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Entry{}, false, nil
	}
	if err != nil {
		return ledger.Entry{}, false, err
	}
	return e, true, nil
}

// Entries returns a session's entries with seq > after in seq order, at
// most limit of them (0 or less for all). An unknown session has none.
func (s *LedgerStore) Entries(ctx context.Context, sessionID string, after int64, limit int) ([]ledger.Entry, error) {
	es, err := entries(ctx, s.db.read, sessionID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read ledger entries of session %q: %w", sessionID, err)
	}
	return es, nil
}

func entries(ctx context.Context, q querier, sessionID string, after int64, limit int) ([]ledger.Entry, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := q.QueryContext(ctx, "SELECT "+entryColumns+
		" FROM ledger_entries WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?", sessionID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ledger.Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// EntryAt returns the entry at a global index, or an error wrapping
// ErrNotFound and ledger.ErrNotFound.
func (s *LedgerStore) EntryAt(ctx context.Context, index int64) (ledger.Entry, error) {
	e, err := entryAt(ctx, s.db.read, index)
	if err != nil {
		return ledger.Entry{}, fmt.Errorf("read ledger entry at index %d: %w", index, err)
	}
	return e, nil
}

func entryAt(ctx context.Context, q querier, index int64) (ledger.Entry, error) {
	e, err := scanEntry(q.QueryRowContext(ctx, "SELECT "+entryColumns+
		" FROM ledger_entries WHERE idx = ?", index))
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Entry{}, notFound(ledger.ErrNotFound, "entry")
	}
	return e, err
}

// SaveCheckpoint durably records a signed checkpoint. It refuses, with an
// error wrapping ledger.ErrInvalid, a checkpoint whose size is not in
// 1..TreeSize or whose root is not the root of the stored tree of that size.
func (s *LedgerStore) SaveCheckpoint(ctx context.Context, c ledger.Checkpoint) error {
	err := s.db.update(ctx, func(tx wtx) error {
		size, err := treeSize(ctx, tx)
		if err != nil {
			return err
		}
		if c.Size < 1 || c.Size > size {
			return fmt.Errorf("%w: checkpoint size %d outside 1..%d", ledger.ErrInvalid, c.Size, size)
		}
		root, err := tlog.TreeHash(c.Size, tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			return readHashes(ctx, tx, indexes)
		}))
		if err != nil {
			return fmt.Errorf("compute root: %w", err)
		}
		if root != c.Root {
			return fmt.Errorf("%w: checkpoint root %v is not the root %v of the stored tree of size %d", ledger.ErrInvalid, c.Root, root, c.Size)
		}
		note := c.Note
		if note == nil {
			note = []byte{}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO ledger_checkpoints (origin, size, root, note, time) VALUES (?, ?, ?, ?, ?)",
			c.Origin, c.Size, c.Root[:], note, c.Time.UTC().Format(time.RFC3339Nano))
		return err
	})
	if err != nil {
		return fmt.Errorf("save ledger checkpoint of size %d: %w", c.Size, err)
	}
	return nil
}

// LatestCheckpoint returns the checkpoint with the largest size, the most
// recently saved among equals, or ok=false if none was saved.
func (s *LedgerStore) LatestCheckpoint(ctx context.Context) (ledger.Checkpoint, bool, error) {
	c, ok, err := latestCheckpoint(ctx, s.db.read)
	if err != nil {
		return ledger.Checkpoint{}, false, fmt.Errorf("read latest ledger checkpoint: %w", err)
	}
	return c, ok, nil
}

func latestCheckpoint(ctx context.Context, q querier) (ledger.Checkpoint, bool, error) {
	var (
		c    ledger.Checkpoint
		root []byte
		ts   string
	)
	err := q.QueryRowContext(ctx, "SELECT origin, size, root, note, time FROM ledger_checkpoints ORDER BY size DESC, id DESC LIMIT 1").
		Scan(&c.Origin, &c.Size, &root, &c.Note, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Checkpoint{}, false, nil
	}
	if err != nil {
		return ledger.Checkpoint{}, false, err
	}
	if c.Root, err = toHash(root); err != nil {
		return ledger.Checkpoint{}, false, fmt.Errorf("checkpoint root: %w", err)
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return ledger.Checkpoint{}, false, fmt.Errorf("checkpoint time: %w", err)
	}
	return c, true, nil
}

func toHash(b []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("%d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

package ledger

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Store is the storage a Ledger writes through. Implementations (memory,
// SQLite, PostgreSQL) must pass StoreConformance. The ledger never speaks SQL;
// a store never hashes or signs (it may verify).
type Store interface {
	// Append durably writes entries (already hashed, Index set, consecutive
	// from the current tree size) together with the tlog stored hashes they
	// add, atomically: all or nothing. It returns only once the write is
	// durable (fsync, synchronous=FULL, committed transaction).
	//
	// Append must write nothing and return an error wrapping ErrConflict if
	// the batch does not continue the stored state: entries[0].Index is not
	// TreeSize, indexes are not consecutive, the first hash's Index is not
	// tlog.StoredHashCount(TreeSize) or hash indexes are not consecutive, the
	// number of hashes is not tlog.StoredHashCount(new size) minus
	// tlog.StoredHashCount(TreeSize), or an entry's Seq/Prev does not follow
	// its session's head (Seq 1 and Genesis for a new session), counting
	// earlier entries of the same batch. It must write nothing and return an
	// error wrapping ErrInvalid if an entry fails Entry.Verify. An empty
	// batch is a no-op.
	Append(ctx context.Context, entries []Entry, hashes []StoredHash) error
	// ReadHashes returns the stored hashes at the given storage indexes
	// (tlog.HashReader semantics): one hash per index, in order, or an
	// error if any index is not stored.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// TreeSize is the number of entries.
	TreeSize(ctx context.Context) (int64, error)
	// Head returns the last entry of a session (seq and hash for chaining),
	// or ok=false.
	Head(ctx context.Context, sessionID string) (e Entry, ok bool, err error)
	// Entries returns a session's entries in seq order, from seq > after, at
	// most limit (0 or less = all). An unknown session has no entries.
	Entries(ctx context.Context, sessionID string, after int64, limit int) ([]Entry, error)
	// EntryAt returns the entry with the given global index, or an error
	// wrapping ErrNotFound.
	EntryAt(ctx context.Context, index int64) (Entry, error)
	// SaveCheckpoint durably records a signed checkpoint. It returns an
	// error wrapping ErrInvalid if c.Size is not in 1..TreeSize.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// LatestCheckpoint returns the saved checkpoint with the largest Size
	// (the most recently saved among equals), or ok=false.
	LatestCheckpoint(ctx context.Context) (Checkpoint, bool, error)
}

// StoredHash is one tlog stored hash and its storage index (see
// tlog.StoredHashIndex).
type StoredHash struct {
	Index int64
	Hash  tlog.Hash
}

// Checkpoint is a signed tree head.
type Checkpoint struct {
	// Origin is the log's name, the first line of the note body.
	Origin string
	// Size is the number of entries the tree covers.
	Size int64
	// Root is the RFC 6962 root hash of the first Size entries.
	Root tlog.Hash
	// Note is the signed note text: the three-line body, a blank line and
	// the signature lines.
	Note []byte
	// Time is when the checkpoint was signed (not covered by the signature).
	Time time.Time
}

// checkBatch validates a batch against the stored state described by size
// (tree size), hashCount (stored hashes) and head (a session's head entry).
// It is shared by MemStore and available to other stores through
// StoreConformance's expectations.
func checkBatch(size, hashCount int64, entries []Entry, hashes []StoredHash, head func(string) (Entry, bool)) error {
	if entries[0].Index != size {
		return fmt.Errorf("%w: first entry has index %d, tree size is %d", ErrConflict, entries[0].Index, size)
	}
	newSize := size + int64(len(entries))
	if want := tlog.StoredHashCount(newSize) - hashCount; int64(len(hashes)) != want {
		return fmt.Errorf("%w: %d stored hashes given, %d expected", ErrConflict, len(hashes), want)
	}
	for i, h := range hashes {
		if h.Index != hashCount+int64(i) {
			return fmt.Errorf("%w: stored hash %d has index %d, want %d", ErrConflict, i, h.Index, hashCount+int64(i))
		}
	}
	heads := map[string]Entry{}
	for i := range entries {
		e := &entries[i]
		if e.Index != size+int64(i) {
			return fmt.Errorf("%w: entry %d has index %d, want %d", ErrConflict, i, e.Index, size+int64(i))
		}
		if err := e.Verify(); err != nil {
			return err
		}
		h, ok := heads[e.SessionID]
		if !ok {
			h, ok = head(e.SessionID)
		}
		wantSeq, wantPrev := int64(1), Genesis
		if ok {
			wantSeq, wantPrev = h.Seq+1, h.Hash
		}
		if e.Seq != wantSeq || e.Prev != wantPrev {
			return fmt.Errorf("%w: session %q entry seq %d does not follow its head (want seq %d)", ErrConflict, clip(e.SessionID), e.Seq, wantSeq)
		}
		heads[e.SessionID] = *e
	}
	return nil
}

// MemStore is an in-memory Store, for tests and in-process users. It is
// safe for concurrent use. It checks every batch fully, including that the
// stored hashes are the ones tlog computes for the entries.
type MemStore struct {
	mu          sync.RWMutex
	entries     []Entry
	hashes      []tlog.Hash
	sessions    map[string][]int64 // session → global indexes in seq order
	checkpoints []Checkpoint
	latest      int // index in checkpoints of the LatestCheckpoint answer
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{sessions: map[string][]int64{}}
}

var _ Store = (*MemStore)(nil)

// Append implements Store.
func (m *MemStore) Append(ctx context.Context, entries []Entry, hashes []StoredHash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(entries) == 0 {
		if len(hashes) != 0 {
			return fmt.Errorf("%w: stored hashes without entries", ErrConflict)
		}
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	size := int64(len(m.entries))
	if err := checkBatch(size, int64(len(m.hashes)), entries, hashes, m.headLocked); err != nil {
		return err
	}
	// Recompute the stored hashes: a store that accepted wrong hashes would
	// sign a tree that does not match its entries.
	base := int64(len(m.hashes))
	pending := make([]tlog.Hash, 0, len(hashes))
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			switch {
			case x >= 0 && x < base:
				out[i] = m.hashes[x]
			case x >= base && x < base+int64(len(pending)):
				out[i] = pending[x-base]
			default:
				return nil, fmt.Errorf("%w: stored hash %d", ErrNotFound, x)
			}
		}
		return out, nil
	})
	for i := range entries {
		leaf, err := entries[i].canonicalLeaf()
		if err != nil {
			return err
		}
		hs, err := tlog.StoredHashes(entries[i].Index, leaf, reader)
		if err != nil {
			return err
		}
		pending = append(pending, hs...)
	}
	for i, h := range hashes {
		if pending[i] != h.Hash {
			return fmt.Errorf("%w: stored hash %d does not match the entries", ErrInvalid, h.Index)
		}
	}
	for _, e := range entries {
		e.Data = bytes.Clone(e.Data)
		m.entries = append(m.entries, e)
		m.sessions[e.SessionID] = append(m.sessions[e.SessionID], e.Index)
	}
	m.hashes = append(m.hashes, pending...)
	return nil
}

func (m *MemStore) headLocked(sessionID string) (Entry, bool) {
	idx := m.sessions[sessionID]
	if len(idx) == 0 {
		return Entry{}, false
	}
	return m.entries[idx[len(idx)-1]], true
}

// ReadHashes implements Store.
func (m *MemStore) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("%w: stored hash %d (have %d)", ErrNotFound, x, len(m.hashes))
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

// TreeSize implements Store.
func (m *MemStore) TreeSize(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int64(len(m.entries)), nil
}

// Head implements Store.
func (m *MemStore) Head(ctx context.Context, sessionID string) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.headLocked(sessionID)
	return cloneEntry(e), ok, nil
}

// Entries implements Store.
func (m *MemStore) Entries(ctx context.Context, sessionID string, after int64, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	idx := m.sessions[sessionID]
	// Seqs are 1..n in order, so seq > after starts at position after.
	start := 0
	if after > 0 {
		if after >= int64(len(idx)) {
			return []Entry{}, nil
		}
		start = int(after)
	}
	idx = idx[start:]
	if limit > 0 && limit < len(idx) {
		idx = idx[:limit]
	}
	out := make([]Entry, len(idx))
	for i, x := range idx {
		out[i] = cloneEntry(m.entries[x])
	}
	return out, nil
}

// EntryAt implements Store.
func (m *MemStore) EntryAt(ctx context.Context, index int64) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if index < 0 || index >= int64(len(m.entries)) {
		return Entry{}, fmt.Errorf("%w: entry index %d (tree size %d)", ErrNotFound, index, len(m.entries))
	}
	return cloneEntry(m.entries[index]), nil
}

// SaveCheckpoint implements Store.
func (m *MemStore) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Size < 1 || c.Size > int64(len(m.entries)) {
		return fmt.Errorf("%w: checkpoint size %d outside 1..%d", ErrInvalid, c.Size, len(m.entries))
	}
	c.Note = bytes.Clone(c.Note)
	m.checkpoints = append(m.checkpoints, c)
	if n := len(m.checkpoints); n == 1 || c.Size >= m.checkpoints[m.latest].Size {
		m.latest = n - 1
	}
	return nil
}

// LatestCheckpoint implements Store.
func (m *MemStore) LatestCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.checkpoints) == 0 {
		return Checkpoint{}, false, nil
	}
	c := m.checkpoints[m.latest]
	c.Note = bytes.Clone(c.Note)
	return c, true, nil
}

func cloneEntry(e Entry) Entry {
	e.Data = slices.Clone(e.Data)
	return e
}

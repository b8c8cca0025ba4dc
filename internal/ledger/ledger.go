package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/canon"
)

// Default option values.
const (
	// DefaultCheckpointEvery is the default Options.CheckpointEvery.
	DefaultCheckpointEvery = 5 * time.Second
	// DefaultMaxBatch is the default Options.MaxBatch.
	DefaultMaxBatch = 1024
	// maxConflictRetries bounds how often a batch is rebuilt after another
	// writer moved the store on (with a random backoff of up to 5 ms).
	maxConflictRetries = 100
)

// DefaultCheckpointTypes are the entry types that trigger a checkpoint when
// Options.CheckpointOnTypes is nil: the ends of sessions.
var DefaultCheckpointTypes = []string{"session:terminate", "session:end"}

// Options configures a Ledger. The zero value is usable.
type Options struct {
	// Origin is the first line of every checkpoint; default: the signer's
	// key name.
	Origin string
	// Redact configures the redaction applied to every entry's data.
	Redact RedactOptions
	// CheckpointEvery signs a checkpoint after an append when the last one
	// is at least this old (default DefaultCheckpointEvery; negative: never
	// by time).
	CheckpointEvery time.Duration
	// CheckpointEveryN signs a checkpoint after an append when at least N
	// entries were added since the last one (0: never by count).
	CheckpointEveryN int64
	// CheckpointOnTypes lists entry types after which a checkpoint is
	// signed before the append returns (nil: DefaultCheckpointTypes; an
	// empty non-nil slice: none).
	CheckpointOnTypes []string
	// MaxBatch caps the number of entries written by one Store.Append
	// (default DefaultMaxBatch). A single AppendBatch call larger than
	// MaxBatch is still written in one Store.Append.
	MaxBatch int
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// OnCheckpointError receives errors of automatic checkpoints, which
	// never fail the append that triggered them (the entries are already
	// durable); the next due append retries. Default: ignore.
	OnCheckpointError func(error)
}

// Record is one entry to append.
type Record struct {
	// SessionID names the session (and so the hash chain).
	SessionID string
	// Type is the event type, such as "action:evaluate".
	Type string
	// Data is the payload: any value encoding/json encodes, redacted and
	// canonicalized before it is hashed.
	Data any
}

// Ledger is the append-only, hash-chained, Merkle-tree ledger over a Store.
// All methods are safe for concurrent use. Appends are serialized through a
// single appender with group commit: calls that arrive while a write is in
// flight are batched into the next Store.Append, and each call returns once
// its batch is durable.
type Ledger struct {
	store    Store
	signer   *Signer
	opts     Options
	redactor *redactor
	cpTypes  map[string]bool

	mu         sync.Mutex // guards queue and committing
	queue      []*request
	committing bool

	cpMu     sync.Mutex // serializes checkpoint signing; guards lastCP*
	cpLoaded bool
	lastCP   Checkpoint
	lastCPAt time.Time
}

// request is one caller's AppendBatch, waiting to be committed.
type request struct {
	ctx     context.Context
	items   []prepared
	entries []Entry
	err     error
	wake    chan struct{} // closed when done or when promoted to leader
	lead    bool          // set before wake is closed: commit the next batch
	done    bool
}

// prepared is a validated record with canonical, redacted data.
type prepared struct {
	sessionID, typ string
	data           []byte
}

// New returns a Ledger writing to store. signer may be nil, in which case
// checkpoints, exports and automatic checkpointing are unavailable.
func New(store Store, signer *Signer, opts Options) *Ledger {
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Origin == "" && signer != nil {
		opts.Origin = signer.Name()
	}
	types := opts.CheckpointOnTypes
	if types == nil {
		types = DefaultCheckpointTypes
	}
	cpTypes := make(map[string]bool, len(types))
	for _, t := range types {
		cpTypes[t] = true
	}
	return &Ledger{store: store, signer: signer, opts: opts, redactor: newRedactor(opts.Redact), cpTypes: cpTypes}
}

// Store returns the ledger's store.
func (l *Ledger) Store() Store { return l.store }

// Signer returns the ledger's signer, or nil.
func (l *Ledger) Signer() *Signer { return l.signer }

// Append redacts data, chains a new entry to the session's head, adds it to
// the Merkle tree and returns it once it is durably stored.
func (l *Ledger) Append(ctx context.Context, sessionID, typ string, data any) (Entry, error) {
	es, err := l.AppendBatch(ctx, []Record{{SessionID: sessionID, Type: typ, Data: data}})
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// AppendBatch appends records in order, atomically: all are written in one
// Store.Append or none is. It returns the entries in the order of records.
//
// If ctx is done before the batch is handed to the store, nothing is written
// and ctx's error is returned. Once handed over, the call waits for the
// store's answer.
func (l *Ledger) AppendBatch(ctx context.Context, records []Record) ([]Entry, error) {
	if len(records) == 0 {
		return nil, nil
	}
	req := &request{ctx: ctx, items: make([]prepared, len(records)), wake: make(chan struct{})}
	for i, r := range records {
		p, err := l.prepare(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		req.items[i] = p
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	l.mu.Lock()
	l.queue = append(l.queue, req)
	if l.committing {
		l.mu.Unlock()
		<-req.wake
		if !req.lead {
			return req.entries, req.err
		}
		l.mu.Lock()
	} else {
		l.committing = true
	}
	// This call is the appender now: commit one batch (which includes its
	// own request, the oldest in the queue), then hand over.
	batch := l.takeBatchLocked()
	l.mu.Unlock()

	l.commit(batch)

	l.mu.Lock()
	if len(l.queue) > 0 {
		next := l.queue[0]
		next.lead = true
		close(next.wake)
	} else {
		l.committing = false
	}
	l.mu.Unlock()
	return req.entries, req.err
}

// takeBatchLocked removes the requests of the next batch from the queue:
// the oldest request and as many following ones as fit in MaxBatch.
func (l *Ledger) takeBatchLocked() []*request {
	n, count := 0, 0
	for n < len(l.queue) {
		k := len(l.queue[n].items)
		if n > 0 && count+k > l.opts.MaxBatch {
			break
		}
		count += k
		n++
	}
	batch := slices.Clone(l.queue[:n])
	l.queue = slices.Delete(l.queue, 0, n)
	return batch
}

// prepare validates a record and computes its canonical, redacted data.
func (l *Ledger) prepare(r Record) (prepared, error) {
	if err := checkName("sessionId", r.SessionID, MaxSessionIDLen); err != nil {
		return prepared{}, err
	}
	if err := checkName("type", r.Type, MaxTypeLen); err != nil {
		return prepared{}, err
	}
	raw, err := json.Marshal(r.Data)
	if err != nil {
		return prepared{}, fmt.Errorf("%w: entry data: %w", ErrInvalid, err)
	}
	canonical, err := canon.JCS(raw)
	if err != nil {
		return prepared{}, fmt.Errorf("%w: entry data: %w", ErrInvalid, err)
	}
	data, err := l.redactor.redactJSON(raw, canonical)
	if err != nil {
		return prepared{}, err
	}
	return prepared{sessionID: r.SessionID, typ: r.Type, data: data}, nil
}

// commit writes one batch and delivers the results to its requests. Only
// the current appender calls it.
func (l *Ledger) commit(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			l.finish(r, nil, err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The write is shared by every caller in the batch, so no single
	// caller's cancellation may abort it.
	ctx := context.WithoutCancel(live[0].ctx)

	var items []prepared
	for _, r := range live {
		items = append(items, r.items...)
	}
	var entries []Entry
	var err error
	if bs, ok := l.store.(BuildingStore); ok {
		// Built under the store's write lock, the batch cannot conflict.
		err = bs.AppendFunc(ctx, func(view Store) ([]Entry, []StoredHash, error) {
			var hashes []StoredHash
			entries, hashes, err = l.build(ctx, view, items)
			return entries, hashes, err
		})
	} else {
		for attempt := 0; ; attempt++ {
			var hashes []StoredHash
			entries, hashes, err = l.build(ctx, l.store, items)
			if err == nil {
				err = l.store.Append(ctx, entries, hashes)
			}
			if err == nil || !errors.Is(err, ErrConflict) || attempt == maxConflictRetries {
				break
			}
			// Another writer moved the store on (it made progress, so
			// the ledger as a whole does): back off a random, growing
			// while so that competing writers interleave.
			time.Sleep(time.Duration(rand.Int64N(int64(min(attempt+1, 50)) * int64(100*time.Microsecond))))
		}
	}
	if err == nil {
		l.afterAppend(ctx, entries)
	}
	off := 0
	for _, r := range live {
		if err != nil {
			l.finish(r, nil, err)
			continue
		}
		l.finish(r, entries[off:off+len(r.items):off+len(r.items)], nil)
		off += len(r.items)
	}
}

func (l *Ledger) finish(r *request, entries []Entry, err error) {
	r.entries, r.err, r.done = entries, err, true
	if !r.lead {
		close(r.wake)
	}
}

// build turns a batch into entries and the stored hashes they add, from
// the current state of view (the store, or a view of it inside a write
// transaction).
func (l *Ledger) build(ctx context.Context, view Store, items []prepared) ([]Entry, []StoredHash, error) {
	size, err := view.TreeSize(ctx)
	if err != nil {
		return nil, nil, err
	}
	ts, err := FormatTime(l.opts.Now())
	if err != nil {
		return nil, nil, err
	}
	entries := make([]Entry, 0, len(items))
	heads := map[string]Entry{}
	hr := &overlayReader{ctx: ctx, store: view, base: tlog.StoredHashCount(size)}
	var hashes []StoredHash
	var buf []byte
	for _, it := range items {
		head, ok := heads[it.sessionID]
		if !ok {
			head, ok, err = view.Head(ctx, it.sessionID)
			if err != nil {
				return nil, nil, err
			}
		}
		seq, prev := int64(1), Genesis
		if ok {
			seq, prev = head.Seq+1, head.Hash
		}
		e, err := newEntryCanonical(it.sessionID, it.typ, seq, prev, ts, it.data)
		if err != nil {
			return nil, nil, err
		}
		e.Index = size + int64(len(entries))
		buf = e.leaf(buf[:0])
		hs, err := tlog.StoredHashes(e.Index, buf, hr)
		if err != nil {
			return nil, nil, err
		}
		for _, h := range hs {
			hashes = append(hashes, StoredHash{Index: hr.base + int64(len(hr.pending)), Hash: h})
			hr.pending = append(hr.pending, h)
		}
		heads[it.sessionID] = e
		entries = append(entries, e)
	}
	return entries, hashes, nil
}

// overlayReader reads stored hashes from the store, and those not yet
// written (from index base on) from pending.
type overlayReader struct {
	ctx     context.Context
	store   Store
	base    int64
	pending []tlog.Hash
}

func (r *overlayReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var fetch []int64
	for _, x := range indexes {
		if x < r.base {
			fetch = append(fetch, x)
		}
	}
	var got []tlog.Hash
	if len(fetch) > 0 {
		var err error
		got, err = r.store.ReadHashes(r.ctx, fetch)
		if err != nil {
			return nil, err
		}
		if len(got) != len(fetch) {
			return nil, fmt.Errorf("ledger: store returned %d hashes for %d indexes", len(got), len(fetch))
		}
	}
	for i, x := range indexes {
		switch {
		case x < r.base:
			out[i], got = got[0], got[1:]
		case x-r.base < int64(len(r.pending)):
			out[i] = r.pending[x-r.base]
		default:
			return nil, fmt.Errorf("%w: stored hash %d", ErrNotFound, x)
		}
	}
	return out, nil
}

// storeReader adapts a Store to tlog.HashReader.
type storeReader struct {
	ctx   context.Context
	store Store
}

func (r storeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	hs, err := r.store.ReadHashes(r.ctx, indexes)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(indexes) {
		return nil, fmt.Errorf("ledger: store returned %d hashes for %d indexes", len(hs), len(indexes))
	}
	return hs, nil
}

// afterAppend signs a checkpoint when one is due. Errors go to
// OnCheckpointError.
func (l *Ledger) afterAppend(ctx context.Context, entries []Entry) {
	if l.signer == nil || len(entries) == 0 {
		return
	}
	size := entries[len(entries)-1].Index + 1
	due := false
	for _, e := range entries {
		if l.cpTypes[e.Type] {
			due = true
			break
		}
	}
	l.cpMu.Lock()
	if !l.cpLoaded {
		if err := l.loadCheckpointLocked(ctx); err != nil {
			l.cpMu.Unlock()
			l.checkpointError(err)
			return
		}
	}
	if !due {
		since := size - l.lastCP.Size
		due = (l.opts.CheckpointEveryN > 0 && since >= l.opts.CheckpointEveryN) ||
			(l.opts.CheckpointEvery > 0 && l.opts.Now().Sub(l.lastCPAt) >= l.opts.CheckpointEvery)
	}
	if due && l.lastCP.Size < size {
		if _, err := l.checkpointLocked(ctx); err != nil {
			l.cpMu.Unlock()
			l.checkpointError(err)
			return
		}
	}
	l.cpMu.Unlock()
}

func (l *Ledger) checkpointError(err error) {
	if l.opts.OnCheckpointError != nil {
		l.opts.OnCheckpointError(err)
	}
}

func (l *Ledger) loadCheckpointLocked(ctx context.Context) error {
	c, ok, err := l.store.LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	if ok {
		l.lastCP, l.lastCPAt = c, c.Time
	} else {
		// No checkpoint yet: the time rule counts from the first append.
		l.lastCPAt = l.opts.Now()
	}
	l.cpLoaded = true
	return nil
}

// Checkpoint signs the current tree head, saves it in the store and returns
// it. It fails if the ledger has no signer or no entries.
func (l *Ledger) Checkpoint(ctx context.Context) (Checkpoint, error) {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if !l.cpLoaded {
		if err := l.loadCheckpointLocked(ctx); err != nil {
			return Checkpoint{}, err
		}
	}
	return l.checkpointLocked(ctx)
}

func (l *Ledger) checkpointLocked(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, fmt.Errorf("%w: the ledger has no signing key", ErrInvalid)
	}
	size, err := l.store.TreeSize(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if size == 0 {
		return Checkpoint{}, fmt.Errorf("%w: cannot checkpoint an empty ledger", ErrNotFound)
	}
	root, err := tlog.TreeHash(size, storeReader{ctx, l.store})
	if err != nil {
		return Checkpoint{}, err
	}
	msg, err := signCheckpoint(l.signer, l.opts.Origin, size, root)
	if err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{Origin: l.opts.Origin, Size: size, Root: root, Note: msg, Time: l.opts.Now().UTC()}
	if err := l.store.SaveCheckpoint(ctx, c); err != nil {
		return Checkpoint{}, err
	}
	if c.Size >= l.lastCP.Size {
		l.lastCP = c
	}
	l.lastCPAt = c.Time
	return c, nil
}

// coveringCheckpoint returns the latest stored checkpoint if it covers the
// entry with the given index and still matches the store, or signs a new
// one.
func (l *Ledger) coveringCheckpoint(ctx context.Context, index int64) (Checkpoint, error) {
	c, ok, err := l.store.LatestCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if ok && c.Size > index {
		root, err := tlog.TreeHash(c.Size, storeReader{ctx, l.store})
		if err != nil {
			return Checkpoint{}, err
		}
		if root != c.Root {
			return Checkpoint{}, fmt.Errorf("%w: stored checkpoint of size %d does not match the stored tree", ErrInvalid, c.Size)
		}
		return c, nil
	}
	return l.Checkpoint(ctx)
}

// TreeHash returns the root hash of the tree of the first size entries.
func (l *Ledger) TreeHash(ctx context.Context, size int64) (tlog.Hash, error) {
	cur, err := l.store.TreeSize(ctx)
	if err != nil {
		return tlog.Hash{}, err
	}
	if size < 0 || size > cur {
		return tlog.Hash{}, fmt.Errorf("%w: tree size %d outside 0..%d", ErrInvalid, size, cur)
	}
	return tlog.TreeHash(size, storeReader{ctx, l.store})
}

// ProveInclusion returns the RFC 6962 inclusion proof of the entry at index
// in the tree of the first treeSize entries.
func (l *Ledger) ProveInclusion(ctx context.Context, index, treeSize int64) (tlog.RecordProof, error) {
	cur, err := l.store.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	if index < 0 || treeSize <= index || treeSize > cur {
		return nil, fmt.Errorf("%w: no entry %d in a tree of size %d (current size %d)", ErrInvalid, index, treeSize, cur)
	}
	return tlog.ProveRecord(treeSize, index, storeReader{ctx, l.store})
}

// ProveConsistency returns the RFC 6962 consistency proof that the tree of
// newSize entries extends the tree of oldSize entries.
func (l *Ledger) ProveConsistency(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	cur, err := l.store.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	if oldSize < 1 || oldSize > newSize || newSize > cur {
		return nil, fmt.Errorf("%w: consistency from size %d to %d (current size %d)", ErrInvalid, oldSize, newSize, cur)
	}
	return tlog.ProveTree(newSize, oldSize, storeReader{ctx, l.store})
}

// CheckInclusion reports whether proof shows that leaf is the entry at
// index in the tree of the given size and root hash. leaf is the entry's
// Leaf bytes.
func CheckInclusion(proof tlog.RecordProof, size int64, root tlog.Hash, index int64, leaf []byte) error {
	if index < 0 || size <= index || len(proof) > 64 {
		return fmt.Errorf("%w: inclusion proof of entry %d in a tree of size %d", ErrInvalid, index, size)
	}
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(leaf)); err != nil {
		return fmt.Errorf("%w: inclusion proof of entry %d in tree of size %d: %v", ErrInvalid, index, size, err)
	}
	return nil
}

// CheckConsistency reports whether proof shows that the tree (newSize,
// newRoot) extends the tree (oldSize, oldRoot).
func CheckConsistency(proof tlog.TreeProof, oldSize int64, oldRoot tlog.Hash, newSize int64, newRoot tlog.Hash) error {
	if oldSize < 1 || oldSize > newSize || len(proof) > 128 {
		return fmt.Errorf("%w: consistency proof from size %d to %d", ErrInvalid, oldSize, newSize)
	}
	if err := tlog.CheckTree(proof, newSize, newRoot, oldSize, oldRoot); err != nil {
		return fmt.Errorf("%w: consistency proof from size %d to %d: %v", ErrInvalid, oldSize, newSize, err)
	}
	return nil
}

package sqlite

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/ledger"
)

// errViewWrite is returned by the write methods of the view AppendFunc
// passes to build.
var errViewWrite = errors.New("the ledger view of AppendFunc is read-only: return the batch from build")

// AppendFunc appends a batch built under the write lock. It begins an
// IMMEDIATE transaction, calls build with a read-only view of the ledger as
// of that transaction, and appends the entries and stored hashes build
// returns in the same transaction, with the checks of Append, before
// committing durably. Nothing can move the ledger between build's reads
// and the write, in this process or another, so the batch never conflicts:
// concurrent writers wait for the lock instead of rebuilding. An error from
// build aborts the transaction and is returned as is.
//
// build must not use the LedgerStore itself: with an in-memory database
// the transaction holds the only connection.
func (s *LedgerStore) AppendFunc(ctx context.Context, build func(view ledger.Store) ([]ledger.Entry, []ledger.StoredHash, error)) error {
	var buildErr error
	var n int
	var first int64
	err := s.db.update(ctx, func(tx wtx) error {
		entries, hashes, err := build(ledgerView{tx})
		if err != nil {
			buildErr = err
			return err
		}
		if len(entries) == 0 {
			if len(hashes) != 0 {
				return fmt.Errorf("%w: %d stored hashes without entries", ledger.ErrConflict, len(hashes))
			}
			return nil
		}
		n, first = len(entries), entries[0].Index
		return appendEntries(ctx, tx, entries, hashes)
	})
	switch {
	case buildErr != nil:
		return buildErr
	case err != nil && n == 0:
		return fmt.Errorf("append ledger entries: %w", err)
	case err != nil:
		return fmt.Errorf("append %d ledger entries at index %d: %w", n, first, err)
	}
	return nil
}

// ledgerView is the ledger as seen by a write transaction.
type ledgerView struct {
	tx wtx
}

var _ ledger.Store = ledgerView{}

// Append refuses: the view is read-only.
func (v ledgerView) Append(context.Context, []ledger.Entry, []ledger.StoredHash) error {
	return errViewWrite
}

// ReadHashes reads stored hashes in the transaction.
func (v ledgerView) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return readHashes(ctx, v.tx, indexes)
}

// TreeSize reads the tree size in the transaction.
func (v ledgerView) TreeSize(ctx context.Context) (int64, error) {
	return treeSize(ctx, v.tx)
}

// Head reads a session's last entry in the transaction.
func (v ledgerView) Head(ctx context.Context, sessionID string) (ledger.Entry, bool, error) {
	return head(ctx, v.tx, sessionID)
}

// Entries reads a session's entries in the transaction.
func (v ledgerView) Entries(ctx context.Context, sessionID string, after int64, limit int) ([]ledger.Entry, error) {
	return entries(ctx, v.tx, sessionID, after, limit)
}

// EntryAt reads an entry in the transaction.
func (v ledgerView) EntryAt(ctx context.Context, index int64) (ledger.Entry, error) {
	return entryAt(ctx, v.tx, index)
}

// SaveCheckpoint refuses: the view is read-only.
func (v ledgerView) SaveCheckpoint(context.Context, ledger.Checkpoint) error {
	return errViewWrite
}

// LatestCheckpoint reads the latest checkpoint in the transaction.
func (v ledgerView) LatestCheckpoint(ctx context.Context) (ledger.Checkpoint, bool, error) {
	return latestCheckpoint(ctx, v.tx)
}

package ledger

import "context"

// BuildingStore is a Store that can build a batch under its write lock:
// AppendFunc calls build with a read-only view of the ledger as of a write
// transaction and appends what build returns in that same transaction.
// The Ledger uses it when the store offers it, so that writers in other
// processes never make a batch conflict.
type BuildingStore interface {
	Store
	// AppendFunc builds a batch from view inside a write transaction and
	// appends it in that same transaction.
	AppendFunc(ctx context.Context, build func(view Store) ([]Entry, []StoredHash, error)) error
}

// Build turns records into entries chained to view's session heads, and
// the Merkle tree hashes they add, with the Ledger's redaction and clock.
// It is for callers that write the result themselves inside their own
// transaction (view must be that transaction's view), so that a state
// change and the entries recording it commit together.
func (l *Ledger) Build(ctx context.Context, view Store, records []Record) ([]Entry, []StoredHash, error) {
	items := make([]prepared, 0, len(records))
	for _, r := range records {
		p, err := l.prepare(r)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, p)
	}
	return l.build(ctx, view, items)
}

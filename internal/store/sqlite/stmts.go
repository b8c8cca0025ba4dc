package sqlite

import (
	"context"
	"database/sql"
)

// hotQueries are the statements of the write path: an evaluation runs each
// of them, so they are prepared once, when the database opens, instead of
// being parsed by SQLite on every call. They cannot be prepared later: a
// write transaction holds the writer pool's only connection.
var hotQueries = []string{
	// gateway
	qSession, qPutSession, qCountSince, qApprovalFor, qPutAction, qAction, qChangedFile,
	qApproval, qVotes, qPutApproval, qPutVote, qAddVote,
	// ledger
	qTreeSize, qHashCount, qSessionHead, qInsEntry, qInsHash, qReadHashes, qHeadEntry,
}

// prepare prepares the hot queries on the writer connection. A query that
// fails to prepare is left to be prepared per call.
func (db *DB) prepare(ctx context.Context) {
	db.stmts = make(map[string]*sql.Stmt, len(hotQueries))
	for _, q := range hotQueries {
		if st, err := db.write.PrepareContext(ctx, q); err == nil {
			db.stmts[q] = st
		}
	}
}

// wtx is a write transaction that runs the hot queries through their
// prepared statements.
type wtx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (t wtx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st, ok := t.stmts[q]; ok {
		return t.Tx.StmtContext(ctx, st)
	}
	return nil
}

// QueryContext runs a query, prepared if it is a hot one.
func (t wtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs a query for one row, prepared if it is a hot one.
func (t wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// ExecContext runs a statement, prepared if it is a hot one.
func (t wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

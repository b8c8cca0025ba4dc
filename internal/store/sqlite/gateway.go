package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
)

// GatewayStore implements gateway.Store. Updates are group-committed:
// operations that arrive while a commit is in flight run together in the
// next transaction, each under its own savepoint, and one fsync makes them
// all durable. Each operation's ledger entries are appended in the same
// transaction, so a state change and its entries commit together.
type GatewayStore struct {
	db     *DB
	ledger *ledger.Ledger

	batch batcher[*gwOp]
}

// gwOp is one queued Update.
type gwOp struct {
	ctx context.Context
	fn  func(gateway.Tx) error
	err error
	tx  *gwTx
}

var _ gateway.Store = (*GatewayStore)(nil)

// NewGatewayStore returns the gateway's store over db. Ledger entries are
// built by l (its redaction and clock) against the transaction.
func NewGatewayStore(db *DB, l *ledger.Ledger) *GatewayStore {
	return &GatewayStore{db: db, ledger: l}
}

// The statements of the write path, in the order an evaluation runs them.
const (
	qSession     = `SELECT body FROM sessions WHERE id = ?`
	qPutSession  = `INSERT INTO sessions (id, owner, state, created_at, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, state = excluded.state, body = excluded.body`
	qCountSince  = `SELECT count(*) FROM (SELECT 1 FROM actions WHERE session_id = ? AND created_at >= ? LIMIT ?)`
	qApprovalFor = `SELECT body FROM approvals WHERE session_id = ? AND digest = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`
	qPutAction   = `INSERT INTO actions (session_id, idx, id, created_at, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, idx) DO UPDATE SET body = excluded.body`
	qAction      = `SELECT body FROM actions WHERE session_id = ? AND id = ?`
	qChangedFile = `INSERT INTO changed_files (session_id, path) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qApproval    = `SELECT body FROM approvals WHERE id = ?`
	qVotes       = `SELECT approver, comment, at FROM votes WHERE approval_id = ? ORDER BY at, rowid`
	qPutApproval = `INSERT INTO approvals (id, session_id, digest, state, created_at, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body`
	qPutVote     = `INSERT INTO votes (approval_id, approver, comment, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qAddVote     = `INSERT INTO votes (approval_id, approver, comment, at) VALUES (?, ?, ?, ?)`
)

// Update implements gateway.Store: fn runs in a group commit (batcher).
func (s *GatewayStore) Update(ctx context.Context, fn func(gateway.Tx) error) error {
	op := &gwOp{ctx: ctx, fn: fn}
	s.batch.do(op, s.commit)
	return op.err
}

// commit runs a batch in one transaction and reports to every operation.
// After a commit that ends a session it signs a checkpoint (SPEC §6); a
// failed signature does not undo the committed operations: the next
// checkpoint, or an export's own, covers their entries.
func (s *GatewayStore) commit(batch []*gwOp) {
	ended := false
	err := s.db.update(context.WithoutCancel(batch[0].ctx), func(tx wtx) error {
		var records []ledger.Record
		for i, op := range batch {
			if op.err = op.ctx.Err(); op.err != nil {
				continue
			}
			op.tx = &gwTx{ctx: op.ctx, q: tx}
			if len(batch) == 1 {
				// Alone in its transaction: a failed operation rolls the
				// whole transaction back, with no savepoint to pay for.
				if op.err = run(op.fn, op.tx); op.err != nil {
					return op.err
				}
				records = op.tx.records
				continue
			}
			sp := "op" + strconv.Itoa(i)
			if _, err := tx.ExecContext(op.ctx, "SAVEPOINT "+sp); err != nil {
				return err
			}
			op.err = run(op.fn, op.tx)
			if op.err != nil {
				if _, err := tx.ExecContext(op.ctx, "ROLLBACK TO "+sp); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(op.ctx, "RELEASE "+sp); err != nil {
				return err
			}
			if op.err == nil {
				records = append(records, op.tx.records...)
			}
		}
		if len(records) == 0 {
			return nil
		}
		for _, r := range records {
			ended = ended || r.Type == "session:terminate"
		}
		ctx := context.WithoutCancel(batch[0].ctx)
		entries, hashes, err := s.ledger.Build(ctx, ledgerView{tx}, records)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		return insertEntries(ctx, tx, entries, hashes)
	})
	for _, op := range batch {
		if err != nil && op.err == nil {
			op.err = err
		}
	}
	if err == nil && ended && s.ledger.Signer() != nil {
		s.ledger.Checkpoint(context.WithoutCancel(batch[0].ctx))
	}
}

// run calls fn, turning a panic into an error so that one bad operation
// cannot strand the batch or the queue's lead.
func run(fn func(gateway.Tx) error, tx *gwTx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gateway operation panicked: %v", r)
		}
	}()
	return fn(tx)
}

// View implements gateway.Store.
func (s *GatewayStore) View(ctx context.Context, fn func(gateway.Tx) error) error {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(&gwTx{ctx: ctx, q: tx, readOnly: true})
}

// gwTx is one transaction of the gateway.
type gwTx struct {
	ctx      context.Context
	q        txQuerier
	readOnly bool
	records  []ledger.Record
}

// txQuerier is a write transaction (wtx, with prepared statements) or a
// read transaction.
type txQuerier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

var errReadOnly = errors.New("write in a read-only gateway transaction")

// timeText formats t at fixed width, so that text order is time order.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func (t *gwTx) queryRow(query string, args ...any) *sql.Row {
	return t.q.QueryRowContext(t.ctx, query, args...)
}

func (t *gwTx) query(query string, args ...any) (*sql.Rows, error) {
	return t.q.QueryContext(t.ctx, query, args...)
}

func (t *gwTx) get(query string, out any, args ...any) error {
	var body string
	if err := t.queryRow(query, args...).Scan(&body); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return gateway.ErrNotFound
		}
		return err
	}
	return json.Unmarshal([]byte(body), out)
}

func (t *gwTx) exec(query string, args ...any) error {
	if t.readOnly {
		return errReadOnly
	}
	_, err := t.q.ExecContext(t.ctx, query, args...)
	return err
}

func (t *gwTx) Session(id string) (*gateway.Session, error) {
	var s gateway.Session
	if err := t.get(qSession, &s, id); err != nil {
		return nil, err
	}
	return &s, nil
}

func (t *gwTx) PutSession(s *gateway.Session) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return t.exec(qPutSession,
		s.ID, s.Owner, s.State, timeText(s.CreatedAt), string(body))
}

func (t *gwTx) Sessions(f gateway.SessionFilter) ([]*gateway.Session, error) {
	rows, err := t.query(`SELECT body FROM sessions
		WHERE (? = '' OR owner = ?) AND (? = '' OR state = ?) ORDER BY created_at, id`, f.Owner, f.Owner, f.State, f.State)
	if err != nil {
		return nil, err
	}
	return scanAll[gateway.Session](rows)
}

func scanAll[T any](rows *sql.Rows) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		v := new(T)
		if err := json.Unmarshal([]byte(body), v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t *gwTx) Action(sessionID, actionID string) (*gateway.Action, error) {
	var a gateway.Action
	if err := t.get(qAction, &a, sessionID, actionID); err != nil {
		return nil, err
	}
	return &a, nil
}

func (t *gwTx) PutAction(a *gateway.Action) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return t.exec(qPutAction,
		a.SessionID, a.Index, a.ID, timeText(a.CreatedAt), string(body))
}

func (t *gwTx) Actions(sessionID string) ([]*gateway.Action, error) {
	rows, err := t.query(`SELECT body FROM actions WHERE session_id = ? ORDER BY idx`, sessionID)
	if err != nil {
		return nil, err
	}
	return scanAll[gateway.Action](rows)
}

func (t *gwTx) CountActionsSince(sessionID string, since time.Time, limit int) (int, error) {
	var n int
	err := t.queryRow(qCountSince, sessionID, timeText(since), limit).Scan(&n)
	return n, err
}

func (t *gwTx) AddChangedFile(sessionID, path string) (bool, error) {
	if t.readOnly {
		return false, errReadOnly
	}
	res, err := t.q.ExecContext(t.ctx, qChangedFile, sessionID, path)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *gwTx) Approval(id string) (*gateway.Approval, error) {
	var a gateway.Approval
	if err := t.get(qApproval, &a, id); err != nil {
		return nil, err
	}
	return t.withVotes(&a)
}

// withVotes loads an approval's votes, which live in their own table.
func (t *gwTx) withVotes(a *gateway.Approval) (*gateway.Approval, error) {
	rows, err := t.query(qVotes, a.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	a.Votes = nil
	for rows.Next() {
		var v gateway.Vote
		var at string
		if err := rows.Scan(&v.Approver, &v.Comment, &at); err != nil {
			return nil, err
		}
		if v.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, err
		}
		a.Votes = append(a.Votes, v)
	}
	return a, rows.Err()
}

func (t *gwTx) ApprovalFor(sessionID, digest string) (*gateway.Approval, error) {
	var a gateway.Approval
	if err := t.get(qApprovalFor, &a, sessionID, digest); err != nil {
		return nil, err
	}
	return t.withVotes(&a)
}

// PutApproval stores the approval; its votes are added to the votes table
// (those already there are kept), so a vote is never lost or counted twice.
func (t *gwTx) PutApproval(a *gateway.Approval) error {
	c := *a
	c.Votes = nil
	body, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	if err := t.exec(qPutApproval,
		a.ID, a.SessionID, a.Digest, a.State, timeText(a.CreatedAt), string(body)); err != nil {
		return err
	}
	for _, v := range a.Votes {
		if err := t.exec(qPutVote,
			a.ID, v.Approver, v.Comment, v.At.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	return nil
}

func (t *gwTx) Approvals(f gateway.ApprovalFilter) ([]*gateway.Approval, error) {
	rows, err := t.query(`SELECT body FROM approvals
		WHERE (? = '' OR session_id = ?) AND (? = '' OR state = ?) ORDER BY created_at, id`, f.SessionID, f.SessionID, f.State, f.State)
	if err != nil {
		return nil, err
	}
	list, err := scanAll[gateway.Approval](rows)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if _, err := t.withVotes(a); err != nil {
			return nil, err
		}
	}
	return list, nil
}

func (t *gwTx) AddVote(approvalID string, v gateway.Vote) error {
	if t.readOnly {
		return errReadOnly
	}
	err := t.exec(qAddVote,
		approvalID, v.Approver, v.Comment, v.At.UTC().Format(time.RFC3339Nano))
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return gateway.ErrDuplicate
	}
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		return gateway.ErrNotFound
	}
	return err
}

func (t *gwTx) Append(sessionID, typ string, data any) error {
	if t.readOnly {
		return errReadOnly
	}
	t.records = append(t.records, ledger.Record{SessionID: sessionID, Type: typ, Data: data})
	return nil
}

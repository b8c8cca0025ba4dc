package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
)

// GatewayStore implements gateway.Store. Each Update is one IMMEDIATE
// transaction that also appends the ledger entries its operation records,
// so a state change and its ledger entries commit durably together.
type GatewayStore struct {
	db     *DB
	ledger *ledger.Ledger
}

var _ gateway.Store = (*GatewayStore)(nil)

// NewGatewayStore returns the gateway's store over db. Ledger entries are
// built by l (its redaction and clock) against the transaction.
func NewGatewayStore(db *DB, l *ledger.Ledger) *GatewayStore {
	return &GatewayStore{db: db, ledger: l}
}

// Update implements gateway.Store. After a commit that ends a session, it
// signs a checkpoint of the ledger (SPEC §6: a checkpoint at every session
// end). A failed signature does not undo the committed operation: the
// next checkpoint, or an export's own, covers its entries.
func (s *GatewayStore) Update(ctx context.Context, fn func(gateway.Tx) error) error {
	ended := false
	err := s.db.update(ctx, func(tx *sql.Tx) error {
		gtx := &gwTx{ctx: ctx, q: tx}
		if err := fn(gtx); err != nil {
			return err
		}
		if len(gtx.records) == 0 {
			return nil
		}
		entries, hashes, err := s.ledger.Build(ctx, ledgerView{tx}, gtx.records)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		for _, r := range gtx.records {
			ended = ended || r.Type == "session:terminate"
		}
		return appendEntries(ctx, tx, entries, hashes)
	})
	if err == nil && ended && s.ledger.Signer() != nil {
		s.ledger.Checkpoint(context.WithoutCancel(ctx))
	}
	return err
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
	q        *sql.Tx
	readOnly bool
	records  []ledger.Record
}

var errReadOnly = errors.New("write in a read-only gateway transaction")

// timeText formats t at fixed width, so that text order is time order.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func (t *gwTx) get(query string, out any, args ...any) error {
	var body string
	if err := t.q.QueryRowContext(t.ctx, query, args...).Scan(&body); err != nil {
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
	if err := t.get(`SELECT body FROM sessions WHERE id = ?`, &s, id); err != nil {
		return nil, err
	}
	return &s, nil
}

func (t *gwTx) PutSession(s *gateway.Session) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return t.exec(`INSERT INTO sessions (id, owner, state, created_at, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, state = excluded.state, body = excluded.body`,
		s.ID, s.Owner, s.State, timeText(s.CreatedAt), string(body))
}

func (t *gwTx) Sessions(f gateway.SessionFilter) ([]*gateway.Session, error) {
	rows, err := t.q.QueryContext(t.ctx, `SELECT body FROM sessions
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
	if err := t.get(`SELECT body FROM actions WHERE session_id = ? AND id = ?`, &a, sessionID, actionID); err != nil {
		return nil, err
	}
	return &a, nil
}

func (t *gwTx) PutAction(a *gateway.Action) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return t.exec(`INSERT INTO actions (session_id, idx, id, created_at, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (session_id, idx) DO UPDATE SET body = excluded.body`,
		a.SessionID, a.Index, a.ID, timeText(a.CreatedAt), string(body))
}

func (t *gwTx) Actions(sessionID string) ([]*gateway.Action, error) {
	rows, err := t.q.QueryContext(t.ctx, `SELECT body FROM actions WHERE session_id = ? ORDER BY idx`, sessionID)
	if err != nil {
		return nil, err
	}
	return scanAll[gateway.Action](rows)
}

func (t *gwTx) CountActionsSince(sessionID string, since time.Time) (int, error) {
	var n int
	err := t.q.QueryRowContext(t.ctx, `SELECT count(*) FROM actions WHERE session_id = ? AND created_at >= ?`, sessionID, timeText(since)).Scan(&n)
	return n, err
}

func (t *gwTx) AddChangedFile(sessionID, path string) (bool, error) {
	if t.readOnly {
		return false, errReadOnly
	}
	res, err := t.q.ExecContext(t.ctx, `INSERT INTO changed_files (session_id, path) VALUES (?, ?) ON CONFLICT DO NOTHING`, sessionID, path)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *gwTx) Approval(id string) (*gateway.Approval, error) {
	var a gateway.Approval
	if err := t.get(`SELECT body FROM approvals WHERE id = ?`, &a, id); err != nil {
		return nil, err
	}
	return t.withVotes(&a)
}

// withVotes loads an approval's votes, which live in their own table.
func (t *gwTx) withVotes(a *gateway.Approval) (*gateway.Approval, error) {
	rows, err := t.q.QueryContext(t.ctx, `SELECT approver, comment, at FROM votes WHERE approval_id = ? ORDER BY at, rowid`, a.ID)
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
	if err := t.get(`SELECT body FROM approvals WHERE session_id = ? AND digest = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`, &a, sessionID, digest); err != nil {
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
	if err := t.exec(`INSERT INTO approvals (id, session_id, digest, state, created_at, body) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body`,
		a.ID, a.SessionID, a.Digest, a.State, timeText(a.CreatedAt), string(body)); err != nil {
		return err
	}
	for _, v := range a.Votes {
		if err := t.exec(`INSERT INTO votes (approval_id, approver, comment, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, v.Approver, v.Comment, v.At.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	return nil
}

func (t *gwTx) Approvals(f gateway.ApprovalFilter) ([]*gateway.Approval, error) {
	rows, err := t.q.QueryContext(t.ctx, `SELECT body FROM approvals
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
	_, err := t.q.ExecContext(t.ctx, `INSERT INTO votes (approval_id, approver, comment, at) VALUES (?, ?, ?, ?)`,
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

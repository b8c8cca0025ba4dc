package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wardenhq/warden/internal/decision"
)

// DecisionStore implements decision.Store over the decisions,
// decision_events, decision_approvals and decision_templates tables.
//
// Appends are group-committed like the gateway's updates: appends that
// arrive while a commit is in flight run together in the next
// transaction, each under its own savepoint, and one fsync makes them all
// durable. An append is a compare-and-set on the decision's event count
// (UPDATE … WHERE event_count = first seq), so of two appends at the same
// seq, in this process or another, exactly one succeeds and the other
// gets decision.ErrConflict.
type DecisionStore struct {
	db    *DB
	stmts map[string]*sql.Stmt // the write path, prepared on the writer
	reads map[string]*sql.Stmt // the read path, prepared on the read pool

	batch batcher[*decOp]
}

var _ decision.Store = (*DecisionStore)(nil)

// decOp is one queued write.
type decOp struct {
	ctx context.Context
	fn  func(tx wtx) error
	err error
}

// The statements of the write path.
const (
	qDecInsert = `INSERT INTO decisions (id, event_count, state, requester, template, session_id, labels, created_at, expires_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qDecUpdate = `UPDATE decisions SET event_count = ?, state = ?, template = ?, body = ?
		WHERE id = ? AND event_count = ?`
	qDecExists   = `SELECT 1 FROM decisions WHERE id = ?`
	qDecEvent    = `INSERT INTO decision_events (decision_id, seq, type, ts, actor_type, actor_id, payload, prev, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qDecApproval = `INSERT INTO decision_approvals (decision_id, approver, body) VALUES (?, ?, ?)
		ON CONFLICT (decision_id, approver) DO UPDATE SET body = excluded.body`
	// Each operation of a batch runs under this savepoint, released before
	// the next one starts.
	qDecSavepoint = `SAVEPOINT decision_op`
	qDecRollback  = `ROLLBACK TO decision_op`
	qDecRelease   = `RELEASE decision_op`
)

// The statements of the read path, prepared on the read pool.
const (
	qDecHeader    = `SELECT body FROM decisions WHERE id = ?`
	qDecApprovals = `SELECT approver, body FROM decision_approvals WHERE decision_id = ?`
	qDecWithOne   = `SELECT d.body, a.body FROM decisions d
		LEFT JOIN decision_approvals a ON a.decision_id = d.id AND a.approver = ? WHERE d.id = ?`
	qDecEvents = `SELECT seq, type, ts, actor_type, actor_id, payload, prev, digest
		FROM decision_events WHERE decision_id = ? AND seq >= ? ORDER BY seq LIMIT ?`
)

// NewDecisionStore returns the decision store over db, preparing its
// statements.
func NewDecisionStore(db *DB) *DecisionStore {
	s := &DecisionStore{db: db, stmts: map[string]*sql.Stmt{}, reads: map[string]*sql.Stmt{}}
	// A statement that fails to prepare is prepared per call.
	for _, q := range []string{qDecInsert, qDecUpdate, qDecExists, qDecEvent, qDecApproval, qDecSavepoint, qDecRollback, qDecRelease} {
		if st, err := db.write.PrepareContext(context.Background(), q); err == nil {
			s.stmts[q] = st
		}
	}
	for _, q := range []string{qDecHeader, qDecApprovals, qDecWithOne, qDecEvents, qDecExists} {
		if st, err := db.read.PrepareContext(context.Background(), q); err == nil {
			s.reads[q] = st
		}
	}
	return s
}

// readStmt returns the prepared read statement of q in tx, or nil.
func (s *DecisionStore) readStmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	st, ok := s.reads[q]
	if !ok {
		return nil
	}
	if tx != nil {
		return tx.StmtContext(ctx, st)
	}
	return st
}

// query runs a read query, in tx if not nil, prepared if it could be.
func (s *DecisionStore) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.readStmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryContext(ctx, q, args...)
	}
	return s.db.read.QueryContext(ctx, q, args...)
}

// queryRowRead runs a read query for one row, like query.
func (s *DecisionStore) queryRowRead(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.readStmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryRowContext(ctx, q, args...)
	}
	return s.db.read.QueryRowContext(ctx, q, args...)
}

// exec runs a write statement in tx, prepared if it could be.
func (s *DecisionStore) exec(ctx context.Context, tx wtx, q string, args ...any) (sql.Result, error) {
	if st, ok := s.stmts[q]; ok {
		return tx.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, q, args...)
}

// update runs fn in a write transaction, batched with the writes of other
// callers; it returns once fn's writes are durable, or fn's error.
func (s *DecisionStore) update(ctx context.Context, fn func(wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &decOp{ctx: ctx, fn: fn}
	s.batch.do(op, s.commit)
	return op.err
}

// commit runs a batch in one transaction, each operation under its own
// savepoint, and reports to every operation.
func (s *DecisionStore) commit(batch []*decOp) {
	ctx := context.WithoutCancel(batch[0].ctx)
	err := s.db.update(ctx, func(tx wtx) error {
		for _, op := range batch {
			if op.err = op.ctx.Err(); op.err != nil {
				continue
			}
			if _, err := s.exec(ctx, tx, qDecSavepoint); err != nil {
				return err
			}
			op.err = runDecOp(op.fn, tx)
			if op.err != nil {
				if _, err := s.exec(ctx, tx, qDecRollback); err != nil {
					return err
				}
			}
			if _, err := s.exec(ctx, tx, qDecRelease); err != nil {
				return err
			}
		}
		return nil
	})
	for _, op := range batch {
		if err != nil && op.err == nil {
			op.err = err
		}
	}
}

// runDecOp calls fn, turning a panic into an error so that one bad
// operation cannot strand the batch or the queue's lead.
func runDecOp(fn func(wtx) error, tx wtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decision store operation panicked: %v", r)
		}
	}()
	return fn(tx)
}

// isConstraint reports whether err is a violated SQLite constraint.
func isConstraint(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// decTime formats a decision time: fixed width, so text order is time
// order, and the same text decision.CursorOf uses.
func decTime(t time.Time) string { return t.UTC().Format(decision.TimeFormat) }

// Append implements decision.Store.
func (s *DecisionStore) Append(ctx context.Context, state *decision.Decision, events []decision.Event) error {
	if err := decision.CheckAppend(state, events); err != nil {
		return err
	}
	// Encode outside the transaction, which holds the write lock.
	body, err := json.Marshal(state.Header())
	if err != nil {
		return err
	}
	labels, err := json.Marshal(state.Labels)
	if err != nil {
		return err
	}
	type approval struct{ id, body string }
	var approvals []approval
	for _, id := range decision.Touched(events) {
		a := state.Approvals[id]
		if a == nil {
			return fmt.Errorf("append to decision %q: state has no approval of %q", state.ID, id)
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		approvals = append(approvals, approval{id, string(b)})
	}
	var expires any
	if state.ExpiresAt != nil {
		expires = decTime(*state.ExpiresAt)
	}
	template := ""
	if state.Template != nil {
		template = state.Template.Name
	}
	id, first := state.ID, events[0].Seq
	return s.update(ctx, func(tx wtx) error {
		if first == 0 {
			_, err := s.exec(ctx, tx, qDecInsert, id, state.EventCount, string(state.State), state.Requester.ID, template,
				state.SessionID, string(labels), decTime(state.CreatedAt), expires, string(body))
			if isConstraint(err) {
				return decision.ErrExists
			} else if err != nil {
				return err
			}
		} else {
			// The other columns come from DECISION_CREATED, always the
			// first event; the template from POLICY_ATTACHED, which may
			// come later.
			res, err := s.exec(ctx, tx, qDecUpdate, state.EventCount, string(state.State), template, string(body), id, first)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				var one int
				err := s.queryRow(ctx, tx, qDecExists, id).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					return decision.ErrNotFound
				} else if err != nil {
					return err
				}
				return decision.ErrConflict
			}
		}
		for i := range events {
			e := &events[i]
			_, err := s.exec(ctx, tx, qDecEvent, id, e.Seq, string(e.Type), decTime(e.TS), e.Actor.Type, e.Actor.ID, string(e.Payload), e.Prev, e.Digest)
			if isConstraint(err) {
				return decision.ErrConflict
			} else if err != nil {
				return err
			}
		}
		for _, a := range approvals {
			if _, err := s.exec(ctx, tx, qDecApproval, id, a.id, a.body); err != nil {
				return err
			}
		}
		return nil
	})
}

// Replace implements decision.Store: the old rows are deleted and the new
// ones inserted under one savepoint of one transaction, so a failure
// anywhere leaves the old decision as it was.
func (s *DecisionStore) Replace(ctx context.Context, state *decision.Decision, events []decision.Event) error {
	if err := decision.CheckReplace(state, events); err != nil {
		return err
	}
	body, err := json.Marshal(state.Header())
	if err != nil {
		return err
	}
	labels, err := json.Marshal(state.Labels)
	if err != nil {
		return err
	}
	type approval struct{ id, body string }
	var approvals []approval
	for _, a := range state.ApprovalList() {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		approvals = append(approvals, approval{a.Actor.ID, string(b)})
	}
	var expires any
	if state.ExpiresAt != nil {
		expires = decTime(*state.ExpiresAt)
	}
	template := ""
	if state.Template != nil {
		template = state.Template.Name
	}
	id := state.ID
	return s.update(ctx, func(tx wtx) error {
		for _, q := range []string{
			`DELETE FROM decision_approvals WHERE decision_id = ?`,
			`DELETE FROM decision_events WHERE decision_id = ?`,
			`DELETE FROM decisions WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, qDecInsert, id, state.EventCount, string(state.State), state.Requester.ID, template,
			state.SessionID, string(labels), decTime(state.CreatedAt), expires, string(body)); err != nil {
			return err
		}
		for i := range events {
			e := &events[i]
			if _, err := s.exec(ctx, tx, qDecEvent, id, e.Seq, string(e.Type), decTime(e.TS), e.Actor.Type, e.Actor.ID, string(e.Payload), e.Prev, e.Digest); err != nil {
				return err
			}
		}
		for _, a := range approvals {
			if _, err := s.exec(ctx, tx, qDecApproval, id, a.id, a.body); err != nil {
				return err
			}
		}
		return nil
	})
}

// queryRow runs a query for one row in tx, prepared if it could be.
func (s *DecisionStore) queryRow(ctx context.Context, tx wtx, q string, args ...any) *sql.Row {
	if st, ok := s.stmts[q]; ok {
		return tx.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, q, args...)
}

// Load implements decision.Store. The state and the approvals of at most
// one approver, which is what every write path needs, are read in one
// statement; more approvals in one read transaction, so that they match
// the state.
func (s *DecisionStore) Load(ctx context.Context, id string, approvers []string) (*decision.Decision, error) {
	if approvers != nil && len(approvers) <= 1 {
		var body string
		var approval sql.NullString
		var err error
		if len(approvers) == 0 {
			err = s.queryRowRead(ctx, nil, qDecHeader, id).Scan(&body)
		} else {
			err = s.queryRowRead(ctx, nil, qDecWithOne, approvers[0], id).Scan(&body, &approval)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil, decision.ErrNotFound
		} else if err != nil {
			return nil, err
		}
		d, err := decodeHeader(id, body)
		if err != nil || !approval.Valid {
			return d, err
		}
		return d, addApproval(d, approvers[0], approval.String)
	}

	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	var body string
	if err := s.queryRowRead(ctx, tx, qDecHeader, id).Scan(&body); errors.Is(err, sql.ErrNoRows) {
		return nil, decision.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	d, err := decodeHeader(id, body)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if approvers == nil {
		rows, err = s.query(ctx, tx, qDecApprovals, id)
	} else {
		args := []any{id}
		for _, a := range approvers {
			args = append(args, a)
		}
		rows, err = tx.QueryContext(ctx, `SELECT approver, body FROM decision_approvals WHERE decision_id = ? AND approver IN (?`+
			strings.Repeat(", ?", len(approvers)-1)+`)`, args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var who, b string
		if err := rows.Scan(&who, &b); err != nil {
			return nil, err
		}
		if err := addApproval(d, who, b); err != nil {
			return nil, err
		}
	}
	return d, rows.Err()
}

func decodeHeader(id, body string) (*decision.Decision, error) {
	d := new(decision.Decision)
	if err := json.Unmarshal([]byte(body), d); err != nil {
		return nil, fmt.Errorf("decision %q: cached state: %w", id, err)
	}
	return d, nil
}

func addApproval(d *decision.Decision, who, body string) error {
	a := new(decision.Approval)
	if err := json.Unmarshal([]byte(body), a); err != nil {
		return fmt.Errorf("decision %q: approval of %q: %w", d.ID, who, err)
	}
	if d.Approvals == nil {
		d.Approvals = map[string]*decision.Approval{}
	}
	d.Approvals[who] = a
	return nil
}

// Events implements decision.Store.
func (s *DecisionStore) Events(ctx context.Context, id string, from int64, limit int) ([]decision.Event, error) {
	if limit <= 0 {
		limit = -1 // no limit, for SQLite
	}
	rows, err := s.query(ctx, nil, qDecEvents, id, max(from, 0), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []decision.Event{}
	for rows.Next() {
		e := decision.Event{DecisionID: id}
		var typ, ts, payload string
		if err := rows.Scan(&e.Seq, &typ, &ts, &e.Actor.Type, &e.Actor.ID, &payload, &e.Prev, &e.Digest); err != nil {
			return nil, err
		}
		e.Type, e.Payload = decision.EventType(typ), json.RawMessage(payload)
		if e.TS, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return nil, fmt.Errorf("decision %q event %d: %w", id, e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		var one int
		err := s.queryRowRead(ctx, nil, qDecExists, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, decision.ErrNotFound
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// List implements decision.Store.
func (s *DecisionStore) List(ctx context.Context, f decision.Filter) (*decision.Page, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		where = append(where, `state IN (?`+strings.Repeat(", ?", len(f.States)-1)+`)`)
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	for _, l := range f.Labels {
		where = append(where, `EXISTS (SELECT 1 FROM json_each(decisions.labels) WHERE value = ?)`)
		args = append(args, l)
	}
	if f.Requester != "" {
		where, args = append(where, `requester = ?`), append(args, f.Requester)
	}
	if f.Template != "" {
		where, args = append(where, `template = ?`), append(args, f.Template)
	}
	if f.SessionID != "" {
		where, args = append(where, `session_id = ?`), append(args, f.SessionID)
	}
	if !f.ExpiresBefore.IsZero() {
		where, args = append(where, `expires_at IS NOT NULL AND expires_at <= ?`), append(args, decTime(f.ExpiresBefore))
	}
	if f.Cursor != "" {
		at, id, ok := strings.Cut(f.Cursor, " ")
		if !ok {
			return nil, fmt.Errorf("bad cursor %q", f.Cursor)
		}
		where, args = append(where, `(created_at, id) < (?, ?)`), append(args, at, id)
	}
	q := `SELECT body FROM decisions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := decision.PageLimit(f.Limit)
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	list, err := scanAll[decision.Decision](rows)
	if err != nil {
		return nil, err
	}
	page := &decision.Page{Decisions: list}
	if page.Decisions == nil {
		page.Decisions = []*decision.Decision{}
	}
	if len(list) > limit {
		page.Decisions = list[:limit]
		page.Next = decision.CursorOf(list[limit-1])
	}
	return page, nil
}

// CreateTemplate implements decision.Store.
func (s *DecisionStore) CreateTemplate(ctx context.Context, t *decision.Template) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	labels, err := json.Marshal(t.Labels)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO decision_templates (name, digest, labels, created_at, body) VALUES (?, ?, ?, ?, ?)`,
			t.Name, t.Digest, string(labels), decTime(t.CreatedAt), string(body))
		if isConstraint(err) {
			return decision.ErrExists
		}
		return err
	})
}

// Template implements decision.Store.
func (s *DecisionStore) Template(ctx context.Context, name string) (*decision.Template, error) {
	var body string
	err := s.db.read.QueryRowContext(ctx, `SELECT body FROM decision_templates WHERE name = ?`, name).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, decision.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	t := new(decision.Template)
	if err := json.Unmarshal([]byte(body), t); err != nil {
		return nil, fmt.Errorf("template %q: %w", name, err)
	}
	return t, nil
}

// Templates implements decision.Store.
func (s *DecisionStore) Templates(ctx context.Context, f decision.TemplateFilter) (*decision.TemplatePage, error) {
	q := `SELECT body FROM decision_templates WHERE name > ?`
	args := []any{f.Cursor}
	for _, l := range f.Labels {
		q += ` AND EXISTS (SELECT 1 FROM json_each(decision_templates.labels) WHERE value = ?)`
		args = append(args, l)
	}
	limit := decision.PageLimit(f.Limit)
	q += ` ORDER BY name LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	list, err := scanAll[decision.Template](rows)
	if err != nil {
		return nil, err
	}
	page := &decision.TemplatePage{Templates: list}
	if page.Templates == nil {
		page.Templates = []*decision.Template{}
	}
	if len(list) > limit {
		page.Templates = list[:limit]
		page.Next = list[limit-1].Name
	}
	return page, nil
}

package gateway

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemStore is a Store in memory, for tests and for in-process use that need
// no persistence. Transactions are serialised; a failed Update leaves
// nothing behind.
type MemStore struct {
	mu        sync.Mutex
	sessions  map[string]*Session
	actions   map[string][]*Action // by session, in index order
	approvals map[string]*Approval
	changed   map[string]map[string]bool
	ledger    []LedgerRecord
}

var errReadOnly = errors.New("write in a read-only transaction")

// LedgerRecord is a ledger entry as MemStore keeps it.
type LedgerRecord struct {
	SessionID string
	Type      string
	Data      any
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{
		sessions:  map[string]*Session{},
		actions:   map[string][]*Action{},
		approvals: map[string]*Approval{},
		changed:   map[string]map[string]bool{},
	}
}

// Update implements Store.
func (m *MemStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{m: m, sessions: map[string]*Session{}, actions: map[string]*Action{}, approvals: map[string]*Approval{}, changed: map[string]bool{}}
	if err := fn(tx); err != nil {
		return err
	}
	tx.commit()
	return nil
}

// View implements Store.
func (m *MemStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(&memTx{m: m, readOnly: true})
}

// Ledger returns the ledger entries recorded so far.
func (m *MemStore) Ledger() []LedgerRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ledger)
}

// memTx buffers writes and applies them on commit.
type memTx struct {
	m         *MemStore
	readOnly  bool
	sessions  map[string]*Session
	actions   map[string]*Action // key sessionID/actionID
	newOrder  []*Action
	approvals map[string]*Approval
	changed   map[string]bool // key sessionID\x00path
	ledger    []LedgerRecord
}

func (tx *memTx) commit() {
	m := tx.m
	for id, s := range tx.sessions {
		m.sessions[id] = s
	}
	for _, a := range tx.newOrder {
		list := m.actions[a.SessionID]
		if a.Index < len(list) {
			list[a.Index] = a
		} else {
			list = append(list, a)
		}
		m.actions[a.SessionID] = list
	}
	maps.Copy(m.approvals, tx.approvals)
	for key := range tx.changed {
		sid, path := splitKey(key)
		if m.changed[sid] == nil {
			m.changed[sid] = map[string]bool{}
		}
		m.changed[sid][path] = true
	}
	m.ledger = append(m.ledger, tx.ledger...)
}

func splitKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == 0 {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

func (tx *memTx) Session(id string) (*Session, error) {
	if s, ok := tx.sessions[id]; ok {
		return cloneSession(s), nil
	}
	if s, ok := tx.m.sessions[id]; ok {
		return cloneSession(s), nil
	}
	return nil, ErrNotFound
}

func (tx *memTx) PutSession(s *Session) error {
	if tx.readOnly {
		return errReadOnly
	}
	tx.sessions[s.ID] = cloneSession(s)
	return nil
}

func (tx *memTx) Sessions(f SessionFilter) ([]*Session, error) {
	all := maps.Clone(tx.m.sessions)
	maps.Copy(all, tx.sessions)
	var out []*Session
	for _, s := range all {
		if (f.Owner == "" || s.Owner == f.Owner) && (f.State == "" || s.State == f.State) {
			out = append(out, cloneSession(s))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || (out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].ID < out[j].ID)
	})
	return out, nil
}

func (tx *memTx) Action(sessionID, actionID string) (*Action, error) {
	if a, ok := tx.actions[sessionID+"\x00"+actionID]; ok {
		return cloneAction(a), nil
	}
	for _, a := range tx.m.actions[sessionID] {
		if a.ID == actionID {
			return cloneAction(a), nil
		}
	}
	return nil, ErrNotFound
}

func (tx *memTx) PutAction(a *Action) error {
	if tx.readOnly {
		return errReadOnly
	}
	c := cloneAction(a)
	key := a.SessionID + "\x00" + a.ID
	if _, seen := tx.actions[key]; !seen {
		tx.newOrder = append(tx.newOrder, c)
	} else {
		for i, x := range tx.newOrder {
			if x.SessionID == a.SessionID && x.ID == a.ID {
				tx.newOrder[i] = c
			}
		}
	}
	tx.actions[key] = c
	return nil
}

func (tx *memTx) Actions(sessionID string) ([]*Action, error) {
	out := make([]*Action, 0, len(tx.m.actions[sessionID]))
	for _, a := range tx.m.actions[sessionID] {
		out = append(out, cloneAction(a))
	}
	for _, a := range tx.newOrder {
		if a.SessionID != sessionID {
			continue
		}
		if a.Index < len(out) {
			out[a.Index] = cloneAction(a)
		} else {
			out = append(out, cloneAction(a))
		}
	}
	return out, nil
}

// CountActionsSince counts newest first and stops at the first older
// action: actions are added in time order, so the cost follows the
// window, not the session's length.
func (tx *memTx) CountActionsSince(sessionID string, t time.Time, limit int) (int, error) {
	n := 0
	for _, a := range tx.newOrder {
		if a.SessionID == sessionID && !a.CreatedAt.Before(t) && a.Index >= len(tx.m.actions[sessionID]) {
			n++
		}
	}
	base := tx.m.actions[sessionID]
	for i := len(base) - 1; i >= 0 && n < limit && !base[i].CreatedAt.Before(t); i-- {
		n++
	}
	return min(n, limit), nil
}

func (tx *memTx) AddChangedFile(sessionID, path string) (bool, error) {
	if tx.readOnly {
		return false, errReadOnly
	}
	key := sessionID + "\x00" + path
	if tx.changed[key] || tx.m.changed[sessionID][path] {
		return false, nil
	}
	tx.changed[key] = true
	return true, nil
}

func (tx *memTx) Approval(id string) (*Approval, error) {
	if a, ok := tx.approvals[id]; ok {
		return cloneApproval(a), nil
	}
	if a, ok := tx.m.approvals[id]; ok {
		return cloneApproval(a), nil
	}
	return nil, ErrNotFound
}

func (tx *memTx) ApprovalFor(sessionID, digest string) (*Approval, error) {
	list, _ := tx.Approvals(ApprovalFilter{SessionID: sessionID})
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Digest == digest {
			return list[i], nil
		}
	}
	return nil, ErrNotFound
}

func (tx *memTx) PutApproval(a *Approval) error {
	if tx.readOnly {
		return errReadOnly
	}
	tx.approvals[a.ID] = cloneApproval(a)
	return nil
}

func (tx *memTx) Approvals(f ApprovalFilter) ([]*Approval, error) {
	all := maps.Clone(tx.m.approvals)
	maps.Copy(all, tx.approvals)
	var out []*Approval
	for _, a := range all {
		if (f.SessionID == "" || a.SessionID == f.SessionID) && (f.State == "" || a.State == f.State) {
			out = append(out, cloneApproval(a))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || (out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].ID < out[j].ID)
	})
	return out, nil
}

func (tx *memTx) AddVote(approvalID string, v Vote) error {
	if tx.readOnly {
		return errReadOnly
	}
	a, err := tx.Approval(approvalID)
	if err != nil {
		return err
	}
	for _, old := range a.Votes {
		if old.Approver == v.Approver {
			return ErrDuplicate
		}
	}
	a.Votes = append(a.Votes, v)
	tx.approvals[a.ID] = a
	return nil
}

func (tx *memTx) Append(sessionID, typ string, data any) error {
	if tx.readOnly {
		return errReadOnly
	}
	tx.ledger = append(tx.ledger, LedgerRecord{SessionID: sessionID, Type: typ, Data: data})
	return nil
}

func cloneSession(s *Session) *Session {
	c := *s
	c.Counters.CheckedIn = slices.Clone(s.Counters.CheckedIn)
	return &c
}

func cloneAction(a *Action) *Action {
	c := *a
	if a.Result != nil {
		r := *a.Result
		c.Result = &r
	}
	return &c
}

func cloneApproval(a *Approval) *Approval {
	c := *a
	c.Votes = slices.Clone(a.Votes)
	return &c
}

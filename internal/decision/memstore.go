package decision

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MemStore is a Store in memory, for tests and for in-process use without
// persistence. It keeps decisions and templates as JSON, as a database
// would, so what comes back never aliases what went in.
type MemStore struct {
	mu        sync.RWMutex
	decisions map[string]*memDecision
	templates map[string][]byte
}

type memDecision struct {
	header    []byte            // the cached state without approvals
	approvals map[string][]byte // by identity
	events    []Event
	h         *Decision // header, decoded, for filters
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{decisions: map[string]*memDecision{}, templates: map[string][]byte{}}
}

// CheckAppend checks the shape of an Append: events continue one another
// and match state, which must be the decision after them. Stores call it
// before they look at what is stored.
func CheckAppend(state *Decision, events []Event) error {
	if len(events) == 0 {
		return fmt.Errorf("append to decision %q: no events", state.ID)
	}
	for i := range events {
		e := &events[i]
		if e.DecisionID != state.ID {
			return fmt.Errorf("append to decision %q: event %d belongs to %q", state.ID, e.Seq, e.DecisionID)
		}
		if i > 0 && (e.Seq != events[i-1].Seq+1 || e.Prev != events[i-1].Digest) {
			return fmt.Errorf("append to decision %q: event %d does not follow event %d", state.ID, e.Seq, events[i-1].Seq)
		}
	}
	last := &events[len(events)-1]
	if state.EventCount != last.Seq+1 || state.Head != last.Digest {
		return fmt.Errorf("append to decision %q: state is not the state after event %d", state.ID, last.Seq)
	}
	return nil
}

// Append implements Store.
func (m *MemStore) Append(ctx context.Context, state *Decision, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckAppend(state, events); err != nil {
		return err
	}
	header, err := json.Marshal(state.Header())
	if err != nil {
		return err
	}
	approvals := map[string][]byte{}
	for _, id := range Touched(events) {
		a := state.Approvals[id]
		if a == nil {
			return fmt.Errorf("append to decision %q: state has no approval of %q", state.ID, id)
		}
		if approvals[id], err = json.Marshal(a); err != nil {
			return err
		}
	}
	h := new(Decision)
	if err := json.Unmarshal(header, h); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.decisions[state.ID]
	first := events[0].Seq
	switch {
	case first == 0 && d != nil:
		return ErrExists
	case first != 0 && d == nil:
		return ErrNotFound
	case d != nil && int64(len(d.events)) != first:
		return ErrConflict
	}
	if d == nil {
		d = &memDecision{approvals: map[string][]byte{}}
		m.decisions[state.ID] = d
	}
	d.header, d.h = header, h
	for id, b := range approvals {
		d.approvals[id] = b
	}
	for _, e := range events {
		e.Payload = bytes.Clone(e.Payload)
		d.events = append(d.events, e)
	}
	return nil
}

// CheckReplace checks the shape of a Replace: a whole history from seq 0
// that CheckAppend accepts, and in state the approvals of exactly the
// identities its events touch. Stores call it before they change anything.
func CheckReplace(state *Decision, events []Event) error {
	if err := CheckAppend(state, events); err != nil {
		return err
	}
	if events[0].Seq != 0 || events[0].Prev != "" {
		return fmt.Errorf("replace decision %q: the history must start at seq 0", state.ID)
	}
	touched := map[string]bool{}
	for _, id := range Touched(events) {
		if state.Approvals[id] == nil {
			return fmt.Errorf("replace decision %q: state has no approval of %q", state.ID, id)
		}
		touched[id] = true
	}
	for id := range state.Approvals {
		if !touched[id] {
			return fmt.Errorf("replace decision %q: state holds an approval of %q that no event gives", state.ID, id)
		}
	}
	return nil
}

// Replace implements Store.
func (m *MemStore) Replace(ctx context.Context, state *Decision, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckReplace(state, events); err != nil {
		return err
	}
	header, err := json.Marshal(state.Header())
	if err != nil {
		return err
	}
	d := &memDecision{header: header, approvals: map[string][]byte{}, h: new(Decision)}
	if err := json.Unmarshal(header, d.h); err != nil {
		return err
	}
	for id, a := range state.Approvals {
		if d.approvals[id], err = json.Marshal(a); err != nil {
			return err
		}
	}
	for _, e := range events {
		e.Payload = bytes.Clone(e.Payload)
		d.events = append(d.events, e)
	}
	m.mu.Lock()
	m.decisions[state.ID] = d
	m.mu.Unlock()
	return nil
}

// Load implements Store.
func (m *MemStore) Load(ctx context.Context, id string, approvers []string) (*Decision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.decisions[id]
	if d == nil {
		return nil, ErrNotFound
	}
	out := new(Decision)
	if err := json.Unmarshal(d.header, out); err != nil {
		return nil, err
	}
	add := func(k string, b []byte) error {
		a := new(Approval)
		if err := json.Unmarshal(b, a); err != nil {
			return err
		}
		if out.Approvals == nil {
			out.Approvals = map[string]*Approval{}
		}
		out.Approvals[k] = a
		return nil
	}
	if approvers == nil {
		for k, b := range d.approvals {
			if err := add(k, b); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range approvers {
		if b, ok := d.approvals[k]; ok {
			if err := add(k, b); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Events implements Store.
func (m *MemStore) Events(ctx context.Context, id string, from int64, limit int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.decisions[id]
	if d == nil {
		return nil, ErrNotFound
	}
	from = max(from, 0)
	if from >= int64(len(d.events)) {
		return []Event{}, nil
	}
	list := d.events[from:]
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	out := make([]Event, len(list))
	for i, e := range list {
		e.Payload = bytes.Clone(e.Payload)
		out[i] = e
	}
	return out, nil
}

// List implements Store.
func (m *MemStore) List(ctx context.Context, f Filter) (*Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	type hit struct {
		cursor string
		header []byte
	}
	var hits []hit
	for _, d := range m.decisions {
		if c := CursorOf(d.h); Matches(d.h, &f) && (f.Cursor == "" || c < f.Cursor) {
			hits = append(hits, hit{c, d.header})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int { return strings.Compare(b.cursor, a.cursor) })
	page := &Page{Decisions: []*Decision{}}
	limit := PageLimit(f.Limit)
	for i, d := range hits {
		if i == limit {
			page.Next = hits[limit-1].cursor
			break
		}
		h := new(Decision)
		if err := json.Unmarshal(d.header, h); err != nil {
			return nil, err
		}
		page.Decisions = append(page.Decisions, h)
	}
	return page, nil
}

// Matches reports whether decision d passes filter f's selections (not
// its cursor or limit). Stores that cannot express a filter in their
// query language may apply it with Matches.
func Matches(d *Decision, f *Filter) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, d.State) {
		return false
	}
	for _, l := range f.Labels {
		if !slices.Contains(d.Labels, l) {
			return false
		}
	}
	if f.Requester != "" && d.Requester.ID != f.Requester {
		return false
	}
	if f.Template != "" && (d.Template == nil || d.Template.Name != f.Template) {
		return false
	}
	if f.SessionID != "" && d.SessionID != f.SessionID {
		return false
	}
	if !f.ExpiresBefore.IsZero() && (d.ExpiresAt == nil || d.ExpiresAt.After(f.ExpiresBefore)) {
		return false
	}
	return true
}

// CreateTemplate implements Store.
func (m *MemStore) CreateTemplate(ctx context.Context, t *Template) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.templates[t.Name]; ok {
		return ErrExists
	}
	m.templates[t.Name] = b
	return nil
}

// Template implements Store.
func (m *MemStore) Template(ctx context.Context, name string) (*Template, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	b, ok := m.templates[name]
	m.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	t := new(Template)
	return t, json.Unmarshal(b, t)
}

// Templates implements Store.
func (m *MemStore) Templates(ctx context.Context, f TemplateFilter) (*TemplatePage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	var all []*Template
	for name, b := range m.templates {
		if f.Cursor != "" && name <= f.Cursor {
			continue
		}
		t := new(Template)
		if err := json.Unmarshal(b, t); err != nil {
			m.mu.RUnlock()
			return nil, err
		}
		if hasAll(t.Labels, f.Labels) {
			all = append(all, t)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(all, func(a, b *Template) int { return cmp.Compare(a.Name, b.Name) })
	page := &TemplatePage{Templates: []*Template{}}
	limit := PageLimit(f.Limit)
	if len(all) > limit {
		all = all[:limit]
		page.Next = all[limit-1].Name
	}
	page.Templates = append(page.Templates, all...)
	return page, nil
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

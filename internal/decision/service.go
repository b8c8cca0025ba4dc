package decision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/warden"
)

// Config configures a Service.
type Config struct {
	Store Store
	// Executor runs approved decisions; Execute fails with NO_EXECUTOR
	// when it is nil.
	Executor Executor
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID returns a new decision id; a random UUID when nil.
	NewID func() string
}

// Service is the decision control plane: it validates requests, records
// approvals, revocations, rejections and expiry as events, claims and
// records executions, and derives lifecycles and inspections. It is safe
// for concurrent use, also by several processes (or Services) sharing one
// Store: each operation reads the cached state, decides, and appends with
// the seq it read, retrying when another writer got in first.
type Service struct {
	store Store
	exec  Executor
	now   func() time.Time
	newID func() string

	locks keyedMutex // one writer per decision in this process

	mu       sync.Mutex
	inflight map[string]int // decisions this Service is executing, with the number of callers
}

// New returns a Service over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, exec: cfg.Executor, now: cfg.Now, newID: cfg.NewID, inflight: map[string]int{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = NewUUID
	}
	s.locks.m = map[string]*keyLock{}
	return s
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// maxAttempts bounds the retries of an operation that keeps losing the
// race to other writers of the same decision.
const maxAttempts = 64

// A draft is an event to be written.
type draft struct {
	typ     EventType
	actor   Actor
	payload any
}

// extend turns drafts into the next events of d, at time at, and applies
// them to d.
func extend(d *Decision, drafts []draft, at time.Time) ([]Event, error) {
	events := make([]Event, 0, len(drafts))
	for _, dr := range drafts {
		p, err := marshalPayload(dr.payload)
		if err != nil {
			return nil, err
		}
		e := Event{DecisionID: d.ID, Seq: d.EventCount, Type: dr.typ, TS: at, Actor: dr.actor, Payload: p, Prev: d.Head}
		if e.Digest, err = e.ComputeDigest(); err != nil {
			return nil, err
		}
		if err := d.Apply(&e); err != nil {
			return nil, fmt.Errorf("decision %s: the service wrote an event its own replay refuses: %w", d.ID, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// update loads decision id (with the approvals of approvers, see
// Store.Load), lets decide choose the events to append at time now, and
// appends them, retrying from the load when another writer appended
// first. It returns the decision after the events.
func (s *Service) update(ctx context.Context, id string, approvers []string, decide func(d *Decision, now time.Time) ([]draft, error)) (*Decision, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	unlock := s.locks.lock(id)
	defer unlock()
	for attempt := 1; ; attempt++ {
		d, err := s.load(ctx, id, approvers)
		if err != nil {
			return nil, err
		}
		// Event times never go backwards, even across processes whose
		// clocks differ slightly.
		now := Stamp(s.now())
		if now.Before(d.UpdatedAt) {
			now = d.UpdatedAt
		}
		drafts, err := decide(d, now)
		if err != nil || len(drafts) == 0 {
			return d, err
		}
		events, err := extend(d, drafts, now)
		if err != nil {
			return nil, err
		}
		err = s.store.Append(ctx, d, events)
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, s.storeErr(err, id)
		}
		return d, nil
	}
}

func (s *Service) load(ctx context.Context, id string, approvers []string) (*Decision, error) {
	d, err := s.store.Load(ctx, id, approvers)
	if err != nil {
		return nil, s.storeErr(err, id)
	}
	return d, nil
}

func (s *Service) storeErr(err error, id string) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return warden.Errorf(CodeDecisionNotFound, "decision %q not found", id)
	case errors.Is(err, ErrExists):
		return warden.Errorf(CodeDecisionExists, "decision %q already exists", id)
	case errors.Is(err, ErrConflict):
		return &warden.Error{Code: warden.CodeConflict, Message: fmt.Sprintf("decision %q is being changed by other writers; try again", id), Err: err}
	}
	return err
}

func checkID(id string) error {
	var fe fieldErrors
	checkName(&fe, "decision_id", id)
	return fe.err(warden.CodeInvalidInput)
}

// Create validates a request, resolving its template, and records the new
// decision: DECISION_CREATED and POLICY_ATTACHED in one write, so a
// decision is born pending approval.
func (s *Service) Create(ctx context.Context, r *Request) (*Decision, error) {
	var t *Template
	if r.Template != "" {
		var err error
		if t, err = s.Template(ctx, r.Template); err != nil {
			return nil, err
		}
	}
	now := Stamp(s.now())
	created, pol, err := r.resolve(t, now)
	if err != nil {
		return nil, err
	}
	id := r.ID
	if id == "" {
		id = s.newID()
	}
	d := &Decision{ID: id, State: StateDraft}
	events, err := extend(d, []draft{{DecisionCreated, r.Actor, created}, {PolicyAttached, r.Actor, pol}}, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.Append(ctx, d, events); err != nil {
		return nil, s.storeErr(err, id)
	}
	return d, nil
}

// ApprovalStatus is where a decision's approvals stand after an approval
// or a revocation.
type ApprovalStatus struct {
	DecisionID string `json:"decision_id"`
	State      State  `json:"state"`
	// Current is the number of approvals valid now.
	Current int `json:"current_approvals"`
	// Required is the policy's min_approvals.
	Required int  `json:"required_approvals"`
	Approved bool `json:"is_approved"`
}

func statusOf(d *Decision, now time.Time) *ApprovalStatus {
	return &ApprovalStatus{
		DecisionID: d.ID, State: d.StateAt(now), Current: d.ActiveApprovals(now),
		Required: d.Required(), Approved: d.IsApproved(now),
	}
}

// ApproveOptions qualify an approval.
type ApproveOptions struct {
	Comment string `json:"comment,omitempty"`
	// ExpiresAt is when the approval stops counting; it must be in the
	// future.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Approve records who's approval of decision id. N of M counts distinct
// identities: an identity that holds a valid approval gets
// ALREADY_APPROVED, the requester gets SELF_APPROVAL unless the policy
// allows it, and an identity outside the policy's approvers gets
// NOT_AN_APPROVER. An identity whose approval has expired or was revoked
// may approve again. Approving reads only the decision's cached state and
// the approver's own approval, so it costs the same however many
// approvals the decision holds.
func (s *Service) Approve(ctx context.Context, id string, who Actor, opts ApproveOptions) (*ApprovalStatus, error) {
	var fe fieldErrors
	who.check(&fe, "actor")
	checkText(&fe, "comment", opts.Comment)
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	var at time.Time
	d, err := s.update(ctx, id, []string{who.ID}, func(d *Decision, now time.Time) ([]draft, error) {
		at = now
		if err := votable(d, now, "approve"); err != nil {
			return nil, err
		}
		if who.ID == d.Requester.ID && !d.Policy.AllowSelfApproval {
			return nil, warden.Errorf(warden.CodeSelfApproval, "%s requested decision %s and may not approve it", who.ID, d.ID)
		}
		if !d.Policy.MayApprove(who.ID, d.Requester.ID) {
			return nil, &warden.Error{Code: warden.CodeNotAnApprover,
				Message: fmt.Sprintf("%s is not among the approvers of decision %s", who.ID, d.ID),
				Details: map[string]any{"approvers": d.Policy.Approvers}}
		}
		if a := d.Approvals[who.ID]; a != nil && a.ValidAt(now) {
			return nil, warden.Errorf(warden.CodeAlreadyApproved, "%s has already approved decision %s", who.ID, d.ID)
		}
		p := GrantedPayload{Comment: opts.Comment}
		if opts.ExpiresAt != nil {
			e := Stamp(*opts.ExpiresAt)
			if !e.After(now) {
				return nil, &warden.Error{Code: warden.CodeInvalidInput,
					Message: fmt.Sprintf("expires_at: %s is not in the future", e.Format(time.RFC3339)),
					Details: map[string]any{"errors": []any{map[string]any{"field": "expires_at", "message": "is not in the future"}}}}
			}
			p.ExpiresAt = &e
		}
		return []draft{{ApprovalGranted, who, p}}, nil
	})
	if err != nil {
		return nil, err
	}
	return statusOf(d, at), nil
}

// votable checks that decision d accepts approvals, revocations and
// rejections at time now.
func votable(d *Decision, now time.Time, verb string) error {
	switch st := d.StateAt(now); st {
	case StatePending, StateApproved:
		return nil
	case StateExpired:
		return warden.Errorf(warden.CodeExpired, "decision %s expired at %s", d.ID, d.ExpiresAt.Format(time.RFC3339))
	case StateDraft:
		return warden.Errorf(warden.CodeInvalidState, "cannot %s decision %s: it has no policy", verb, d.ID)
	default:
		return &warden.Error{Code: warden.CodeInvalidState,
			Message: fmt.Sprintf("cannot %s decision %s: it is %s", verb, d.ID, st),
			Details: map[string]any{"state": string(st)}}
	}
}

func checkText(fe *fieldErrors, field, s string) {
	if len(s) > MaxTextLen {
		fe.add(field, "is %d bytes, more than %d", len(s), MaxTextLen)
	} else if !utf8.ValidString(s) {
		fe.add(field, "is not valid UTF-8")
	}
}

// Revoke withdraws who's own approval of decision id before it executes.
// Only the approver may revoke an approval; an identity without one gets
// NOT_APPROVED.
func (s *Service) Revoke(ctx context.Context, id string, who Actor, reason string) (*ApprovalStatus, error) {
	var fe fieldErrors
	who.check(&fe, "actor")
	checkText(&fe, "reason", reason)
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	var at time.Time
	d, err := s.update(ctx, id, []string{who.ID}, func(d *Decision, now time.Time) ([]draft, error) {
		at = now
		if err := votable(d, now, "revoke an approval of"); err != nil {
			return nil, err
		}
		a := d.Approvals[who.ID]
		switch {
		case a == nil:
			return nil, warden.Errorf(CodeNotApproved, "%s has not approved decision %s", who.ID, d.ID)
		case a.Revoked():
			return nil, warden.Errorf(CodeNotApproved, "%s's approval of decision %s is already revoked", who.ID, d.ID)
		}
		return []draft{{ApprovalRevoked, who, ReasonPayload{Reason: reason}}}, nil
	})
	if err != nil {
		return nil, err
	}
	return statusOf(d, at), nil
}

// Reject refuses decision id for good, with a reason. The requester may
// reject (withdraw) its own decision; otherwise who must be allowed to
// approve it.
func (s *Service) Reject(ctx context.Context, id string, who Actor, reason string) (*Decision, error) {
	var fe fieldErrors
	who.check(&fe, "actor")
	if reason == "" {
		fe.add("reason", "is required")
	}
	checkText(&fe, "reason", reason)
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	return s.update(ctx, id, []string{}, func(d *Decision, now time.Time) ([]draft, error) {
		if d.State != StateDraft {
			if err := votable(d, now, "reject"); err != nil {
				return nil, err
			}
		} else if d.StateAt(now) == StateExpired {
			return nil, votable(d, now, "reject")
		}
		if !d.mayReject(who) {
			return nil, warden.Errorf(warden.CodeNotAnApprover, "%s may not reject decision %s: it is neither its requester nor one of its approvers", who.ID, d.ID)
		}
		return []draft{{DecisionRejected, who, ReasonPayload{Reason: reason}}}, nil
	})
}

// Expire records DECISION_EXPIRED for decision id if its expiry has
// passed and it has not executed; INVALID_STATE otherwise.
func (s *Service) Expire(ctx context.Context, id string) (*Decision, error) {
	return s.update(ctx, id, []string{}, func(d *Decision, now time.Time) ([]draft, error) {
		if d.State == StateExpired {
			return nil, nil
		}
		if d.StateAt(now) != StateExpired {
			return nil, warden.Errorf(warden.CodeInvalidState, "decision %s is %s and has not expired", d.ID, d.StateAt(now))
		}
		return []draft{{DecisionExpired, SystemActor, ExpiredPayload{ExpiresAt: *d.ExpiresAt}}}, nil
	})
}

// ExpireDue records DECISION_EXPIRED for every decision whose expiry has
// passed before it executed, and returns their ids.
func (s *Service) ExpireDue(ctx context.Context) ([]string, error) {
	var ids []string
	f := Filter{States: []State{StateDraft, StatePending}, ExpiresBefore: Stamp(s.now()), Limit: MaxLimit}
	for {
		page, err := s.store.List(ctx, f)
		if err != nil {
			return ids, err
		}
		for _, d := range page.Decisions {
			if _, err := s.Expire(ctx, d.ID); err != nil {
				if warden.ErrorCode(err) == warden.CodeInvalidState {
					continue // it moved on meanwhile
				}
				return ids, err
			}
			ids = append(ids, d.ID)
		}
		if page.Next == "" {
			return ids, nil
		}
		f.Cursor = page.Next
	}
}

// Get returns decision id's state with all its approvals.
func (s *Service) Get(ctx context.Context, id string) (*Decision, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return s.load(ctx, id, nil)
}

// Status returns where decision id's approvals stand now.
func (s *Service) Status(ctx context.Context, id string) (*ApprovalStatus, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	d, err := s.load(ctx, id, []string{})
	if err != nil {
		return nil, err
	}
	return statusOf(d, s.now()), nil
}

// Events returns decision id's whole history.
func (s *Service) Events(ctx context.Context, id string) ([]Event, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	events, err := s.store.Events(ctx, id, 0, 0)
	if err != nil {
		return nil, s.storeErr(err, id)
	}
	return events, nil
}

// Verify replays decision id's history, checking every digest and
// transition, and checks that the cached state equals the replay. It
// returns the replayed decision, or INTEGRITY_MISMATCH or REPLAY_INVALID.
func (s *Service) Verify(ctx context.Context, id string) (*Decision, error) {
	_, replayed, err := s.verified(ctx, id)
	return replayed, err
}

// verified returns decision id's events and its replay, checked against
// the cached state.
func (s *Service) verified(ctx context.Context, id string) ([]Event, *Decision, error) {
	cached, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	events, err := s.store.Events(ctx, id, 0, int(cached.EventCount))
	if err != nil {
		return nil, nil, s.storeErr(err, id)
	}
	replayed, err := Replay(id, events)
	if err != nil {
		return events, nil, err
	}
	if err := SameState(cached, replayed); err != nil {
		return events, replayed, err
	}
	return events, replayed, nil
}

// SameState returns nil if the cached state equals the replayed one, and
// an INTEGRITY_MISMATCH error otherwise.
func SameState(cached, replayed *Decision) error {
	a, err := json.Marshal(cached)
	if err != nil {
		return err
	}
	b, err := json.Marshal(replayed)
	if err != nil {
		return err
	}
	if string(a) != string(b) {
		return &warden.Error{Code: CodeIntegrityMismatch,
			Message: fmt.Sprintf("decision %s: the cached state differs from the replay of its %d events", cached.ID, replayed.EventCount)}
	}
	return nil
}

// Import stores a decision's history written elsewhere, such as one
// carried by a bundle, under id: the events' own decision ids are replaced
// by id (event digests do not cover it, so a history may be imported under
// a new id). The history must verify and replay under the same rules as
// Warden's own (INTEGRITY_MISMATCH, REPLAY_INVALID); an existing id gets
// DECISION_EXISTS. The events and the replayed state are stored in one
// atomic append.
func (s *Service) Import(ctx context.Context, id string, events []Event) (*Decision, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, warden.Errorf(warden.CodeInvalidInput, "events: a decision's history starts with its DECISION_CREATED event")
	}
	own := make([]Event, len(events))
	for i, e := range events {
		e.DecisionID = id
		own[i] = e
	}
	d, err := Replay(id, own)
	if err != nil {
		return nil, err
	}
	if err := s.store.Append(ctx, d, own); err != nil {
		return nil, s.storeErr(err, id)
	}
	return d, nil
}

// List returns the decisions f selects, newest first.
func (s *Service) List(ctx context.Context, f Filter) (*Page, error) {
	var fe fieldErrors
	for _, st := range f.States {
		if !st.Valid() || st == StateApproved {
			fe.add("states", "%q is not a recorded state", st)
		}
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		fe.add("limit", "must be from 1 to %d, got %d", MaxLimit, f.Limit)
	}
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	return s.store.List(ctx, f)
}

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	switch s {
	case StateDraft, StatePending, StateApproved, StateExecuting, StateCompleted, StateFailed, StateRejected, StateExpired:
		return true
	}
	return false
}

// CreateTemplate validates and stores a new template. A name is never
// reused: TEMPLATE_ALREADY_EXISTS if it is taken.
func (s *Service) CreateTemplate(ctx context.Context, spec *TemplateSpec, actor Actor) (*Template, error) {
	t, err := NewTemplate(spec, actor, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateTemplate(ctx, t); errors.Is(err, ErrExists) {
		return nil, warden.Errorf(CodeTemplateExists, "template %q already exists; templates are immutable, choose a new name", t.Name)
	} else if err != nil {
		return nil, err
	}
	return t, nil
}

// Template returns the template named name.
func (s *Service) Template(ctx context.Context, name string) (*Template, error) {
	var fe fieldErrors
	checkTemplateName(&fe, "template_name", name)
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	t, err := s.store.Template(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, warden.Errorf(CodeTemplateNotFound, "template %q not found", name)
	}
	return t, err
}

// Templates returns the templates f selects, by name.
func (s *Service) Templates(ctx context.Context, f TemplateFilter) (*TemplatePage, error) {
	if f.Limit < 0 || f.Limit > MaxLimit {
		return nil, warden.Errorf(warden.CodeInvalidInput, "limit: must be from 1 to %d, got %d", MaxLimit, f.Limit)
	}
	return s.store.Templates(ctx, f)
}

// keyedMutex holds one mutex per key, created on demand and dropped when
// no one holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu sync.Mutex
	n  int // holders and waiters
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.n++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.n--; l.n == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

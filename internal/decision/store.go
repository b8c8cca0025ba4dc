package decision

import (
	"context"
	"time"
)

// A Store keeps decisions as their hash-chained events plus a cached
// state, and templates. Appending is optimistic: the caller says where
// the new events go (the seq of the first), and the store refuses them
// with ErrConflict if another writer got there first. That compare-and-
// append is also how an execution is claimed at most once: of two callers
// that read the same approved state, only one appends EXECUTION_REQUESTED.
//
// Implementations are safe for concurrent use, also by several processes
// sharing the store, and pass StoreConformance.
type Store interface {
	// Append adds events to decision state.ID and stores state, the
	// decision after them, as its cached state, atomically and durably.
	// events[0].Seq must be the number of events already stored:
	// ErrExists if it is 0 and the decision exists, ErrNotFound if it is
	// not 0 and the decision does not exist, ErrConflict otherwise. Of
	// state.Approvals only the approvals of the actors of the
	// APPROVAL_GRANTED and APPROVAL_REVOKED events among events are
	// written; the others are kept as they are.
	Append(ctx context.Context, state *Decision, events []Event) error
	// Replace makes events, from seq 0, decision state.ID's whole history
	// and state, the decision after them with all its approvals, its
	// cached state, atomically and durably: the decision's previous
	// events, approvals and state, if it had any, are removed in the same
	// transaction, so that a reader sees either the old decision or the
	// new one, and a failed Replace leaves the old one as it was. It
	// creates the decision if it does not exist. Importing a bundle in
	// overwrite mode uses it.
	Replace(ctx context.Context, state *Decision, events []Event) error
	// Load returns decision id's cached state, or ErrNotFound. With
	// approvers nil, Approvals holds every approval; otherwise only those
	// of the identities listed (none for an empty list), which is all the
	// approve path needs.
	Load(ctx context.Context, id string, approvers []string) (*Decision, error)
	// Events returns up to limit events of decision id (all for limit 0)
	// with seq from from, in order; ErrNotFound for an unknown decision.
	Events(ctx context.Context, id string, from int64, limit int) ([]Event, error)
	// List returns the decisions that f selects, newest first, without
	// their approvals.
	List(ctx context.Context, f Filter) (*Page, error)

	// CreateTemplate stores a new template; ErrExists if its name is
	// taken.
	CreateTemplate(ctx context.Context, t *Template) error
	// Template returns the template named name, or ErrNotFound.
	Template(ctx context.Context, name string) (*Template, error)
	// Templates returns the templates that f selects, by name.
	Templates(ctx context.Context, f TemplateFilter) (*TemplatePage, error)
}

// Page sizes of List and Templates.
const (
	// DefaultLimit is the page size when a filter's Limit is 0.
	DefaultLimit = 100
	// MaxLimit is the largest page size.
	MaxLimit = 1000
)

// Filter selects decisions. Empty fields select all.
type Filter struct {
	// States selects decisions whose recorded state is one of these.
	// StatePending includes decisions that StateAt reports approved.
	States []State
	// Labels selects decisions that carry every one of these labels,
	// compared exactly.
	Labels []string
	// Requester selects decisions requested by this identity.
	Requester string
	// Template selects decisions made from this template.
	Template string
	// SessionID selects decisions bound to this session.
	SessionID string
	// ExpiresBefore selects decisions with an expiry at or before it.
	ExpiresBefore time.Time
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Cursor continues a previous page: its Page.Next.
	Cursor string
}

// Page is one page of decisions.
type Page struct {
	Decisions []*Decision `json:"decisions"`
	// Next is the cursor of the following page; "" on the last one.
	Next string `json:"next,omitempty"`
}

// TemplateFilter selects templates. Empty fields select all.
type TemplateFilter struct {
	// Labels selects templates that carry every one of these labels,
	// compared exactly: "prod" matches neither "PROD" nor "production".
	Labels []string
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Cursor continues a previous page: its TemplatePage.Next.
	Cursor string
}

// TemplatePage is one page of templates.
type TemplatePage struct {
	Templates []*Template `json:"templates"`
	Next      string      `json:"next,omitempty"`
}

// PageLimit returns the page size a limit asks for: DefaultLimit for 0
// or less, at most MaxLimit.
func PageLimit(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return min(limit, MaxLimit)
}

// CursorOf returns the cursor that continues a list of decisions after d.
// Decisions are listed by creation time, newest first, then by id.
func CursorOf(d *Decision) string { return d.CreatedAt.UTC().Format(TimeFormat) + " " + d.ID }

// Touched returns the identities whose approvals events change: the
// approvals that Store.Append writes.
func Touched(events []Event) []string {
	var ids []string
	for i := range events {
		if t := events[i].Type; t == ApprovalGranted || t == ApprovalRevoked {
			ids = append(ids, events[i].Actor.ID)
		}
	}
	return ids
}

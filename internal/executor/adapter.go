package executor

import (
	"context"
	"encoding/json"
	"slices"
	"sort"

	"github.com/wardenhq/warden/internal/warden"
)

// Input is an action's input, as decoded from JSON.
type Input = map[string]any

// An Adapter executes one kind of action. Execute must snapshot whatever it
// is about to change and return, in Outcome.Undo, what Rollback needs to put
// it back; Rollback must be idempotent, since a rollback interrupted by a
// crash is run again.
type Adapter interface {
	// Kind is the action kind the adapter executes, such as "file:write".
	Kind() string
	// Validate checks the input's shape; an error names the field and the fix.
	Validate(in Input) error
	// DryRun says what Execute would do without changing anything.
	DryRun(ctx context.Context, env *Env, in Input) (*Plan, error)
	// Execute performs the action. On failure it may still return an
	// Outcome carrying output (a command's stderr) and the undo record of
	// anything it changed before failing.
	Execute(ctx context.Context, env *Env, in Input) (*Outcome, error)
	// Rollback undoes an execution from the undo record it returned.
	Rollback(ctx context.Context, env *Env, undo json.RawMessage) error
}

// A Plan is what a dry run reports.
type Plan struct {
	WouldDo  string   `json:"wouldDo"`
	Changes  []string `json:"changes,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// An Outcome is what an execution produced.
type Outcome struct {
	Output any `json:"output,omitempty"`
	// FilesChanged lists the root-relative paths the action wrote, created,
	// moved or removed.
	FilesChanged []string `json:"filesChanged,omitempty"`
	// OutputBytes counts the bytes the action produced or wrote.
	OutputBytes int64             `json:"outputBytes,omitempty"`
	Artifacts   []warden.Artifact `json:"artifacts,omitempty"`
	// Undo is the adapter's own record of how to undo the action; nil when
	// there is nothing to undo.
	Undo json.RawMessage `json:"undo,omitempty"`
	// Irreversible marks an effect outside Warden's reach (a command run, a
	// request sent): a rollback reports it instead of undoing it.
	Irreversible bool `json:"irreversible,omitempty"`
}

// A Registry maps action kinds to adapters.
type Registry struct {
	adapters map[string]Adapter
}

// NewRegistry returns a registry holding the given adapters.
func NewRegistry(adapters ...Adapter) (*Registry, error) {
	r := &Registry{adapters: map[string]Adapter{}}
	for _, a := range adapters {
		if err := r.Register(a); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Default returns a registry with every built-in adapter.
func Default() *Registry {
	r, err := NewRegistry(Builtin()...)
	if err != nil {
		panic(err) // the built-in kinds are distinct; a duplicate is a bug
	}
	return r
}

// Register adds an adapter; a kind registered twice is a conflict.
func (r *Registry) Register(a Adapter) error {
	k := a.Kind()
	if k == "" {
		return warden.Errorf(warden.CodeInvalidInput, "adapter kind is empty: Kind() must name an action kind such as \"file:write\"")
	}
	if _, dup := r.adapters[k]; dup {
		return warden.Errorf(warden.CodeConflict, "an adapter for %q is already registered", k)
	}
	r.adapters[k] = a
	return nil
}

// Lookup returns the adapter for a kind.
func (r *Registry) Lookup(kind string) (Adapter, bool) {
	a, ok := r.adapters[kind]
	return a, ok
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	ks := make([]string, 0, len(r.adapters))
	for k := range r.adapters {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Builtin returns a fresh instance of every built-in adapter.
func Builtin() []Adapter {
	return slices.Concat(fileAdapters(), commandAdapters(), gitAdapters(), networkAdapters(), archiveAdapters())
}

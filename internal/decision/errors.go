package decision

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wardenhq/warden/internal/warden"
)

// The error codes of decisions that SPEC §5 names. They are defined with
// warden's shared set, where every edge maps them once; these are aliases.
const (
	// CodeDecisionNotFound is returned for an unknown decision id.
	CodeDecisionNotFound = warden.CodeDecisionNotFound
	// CodeDecisionExists is returned when a decision id is already taken.
	CodeDecisionExists = warden.CodeDecisionExists
	// CodeTemplateNotFound is returned for an unknown template name.
	CodeTemplateNotFound = warden.CodeTemplateNotFound
	// CodeTemplateExists is returned when a template name is already taken:
	// templates are immutable, so a name is never reused.
	CodeTemplateExists = warden.CodeTemplateExists
	// CodeNotApproved is returned by a revocation from an identity that
	// holds no approval to revoke.
	CodeNotApproved = warden.CodeNotApproved
	// CodePolicyViolation is returned by Execute when the decision's policy
	// refuses the execution: the mode, the approvals valid now, the
	// adapter's capabilities or the plan's length. Its details list every
	// problem at once.
	CodePolicyViolation = warden.CodePolicyViolation
	// CodeRouterError is returned by Execute when the executor failed; the
	// failure is recorded as EXECUTION_FAILED with this error code.
	CodeRouterError = warden.CodeRouterError
	// CodeIntegrityMismatch is returned when an event's digest or its link
	// to the previous event does not verify.
	CodeIntegrityMismatch = warden.CodeIntegrityMismatch
	// CodeReplayInvalid is returned when events do not replay: an unknown
	// type, a bad payload, or a transition the state machine forbids.
	CodeReplayInvalid = warden.CodeReplayInvalid
)

// ErrorInterrupted is the error code of the EXECUTION_FAILED event that
// Recover writes for an execution that never finished.
const ErrorInterrupted = "INTERRUPTED"

// Sentinel errors of a Store. The Service turns them into warden errors.
var (
	// ErrNotFound is returned by a Store for an unknown decision or
	// template.
	ErrNotFound = errors.New("decision: not found")
	// ErrExists is returned by a Store for a decision or template whose id
	// or name is already taken.
	ErrExists = errors.New("decision: already exists")
	// ErrConflict is returned by Store.Append when the decision has moved
	// on since the caller read it: the first new event's seq is not the
	// next one. The caller reloads and decides again.
	ErrConflict = errors.New("decision: concurrent update")
)

// fieldError is one invalid field of an input.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// fieldErrors collects the invalid fields of an input, so that a caller
// learns every problem at once.
type fieldErrors []fieldError

func (fe *fieldErrors) add(field, format string, args ...any) {
	*fe = append(*fe, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when no field is invalid, else a warden error with the
// given code whose message names every field and whose details list them.
func (fe fieldErrors) err(code warden.Code) error {
	if len(fe) == 0 {
		return nil
	}
	msgs := make([]string, len(fe))
	list := make([]any, len(fe))
	for i, f := range fe {
		msgs[i] = f.Field + ": " + f.Message
		list[i] = map[string]any{"field": f.Field, "message": f.Message}
	}
	return &warden.Error{
		Code:    code,
		Message: strings.Join(msgs, "; "),
		Details: map[string]any{"errors": list},
	}
}

// replayErr is a REPLAY_INVALID error about event seq.
func replayErr(seq int64, typ EventType, format string, args ...any) error {
	return &warden.Error{
		Code:    CodeReplayInvalid,
		Message: fmt.Sprintf("event %d (%s): %s", seq, typ, fmt.Sprintf(format, args...)),
		Details: map[string]any{"seq": seq, "type": string(typ)},
	}
}

// integrityErr is an INTEGRITY_MISMATCH error about event seq.
func integrityErr(seq int64, format string, args ...any) error {
	return &warden.Error{
		Code:    CodeIntegrityMismatch,
		Message: fmt.Sprintf("event %d: %s", seq, fmt.Sprintf(format, args...)),
		Details: map[string]any{"seq": seq},
	}
}

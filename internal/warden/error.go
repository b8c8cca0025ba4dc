package warden

import (
	"errors"
	"fmt"
)

// Code is a stable error code. Codes are part of the public contract: clients
// branch on them, so they never change meaning.
type Code string

// The error codes. Each edge maps them once: HTTP status, MCP tool error, CLI
// exit code.
const (
	CodeInvalidInput  Code = "INVALID_INPUT"  // malformed or ill-typed input from a caller
	CodeInvalidPolicy Code = "INVALID_POLICY" // a policy that does not validate
	CodeNotFound      Code = "NOT_FOUND"      // an unknown id or file
	CodeConflict      Code = "CONFLICT"       // the request conflicts with current state
	CodeInvalidState  Code = "INVALID_STATE"  // the object is not in a state that allows this
	CodeUnauthorized  Code = "UNAUTHORIZED"   // missing or wrong credentials
	CodeForbidden     Code = "FORBIDDEN"      // credentials lack the role
	CodeTooLarge      Code = "TOO_LARGE"      // an input over its size limit
	CodeInternal      Code = "INTERNAL"       // a bug or an environment failure

	CodeAlreadyApproved Code = "ALREADY_APPROVED" // this approver already voted
	CodeSelfApproval    Code = "SELF_APPROVAL"    // the requester tried to approve its own request
	CodeNotAnApprover   Code = "NOT_AN_APPROVER"  // the identity is not among the gate's approvers
	CodeExpired         Code = "EXPIRED"          // the approval or its request has expired

	CodeDenied        Code = "DENIED"         // refused at execution: what the action touches no longer passes the policy
	CodeNotReversible Code = "NOT_REVERSIBLE" // the action's effect cannot be undone
	CodeNoExecutor    Code = "NO_EXECUTOR"    // no executor is registered for the action's kind

	// The codes of decisions and templates (SPEC §5).
	CodeDecisionNotFound  Code = "DECISION_NOT_FOUND"      // an unknown decision id
	CodeDecisionExists    Code = "DECISION_EXISTS"         // a decision id that is already taken
	CodeTemplateNotFound  Code = "TEMPLATE_NOT_FOUND"      // an unknown template name
	CodeTemplateExists    Code = "TEMPLATE_ALREADY_EXISTS" // a template name that is already taken: templates are immutable
	CodeNotApproved       Code = "NOT_APPROVED"            // a revocation by an identity that holds no approval to revoke
	CodePolicyViolation   Code = "POLICY_VIOLATION"        // the decision's policy refuses the execution (mode, approvals, capabilities, steps)
	CodeRouterError       Code = "ROUTER_ERROR"            // the executor ("router") failed; the failure is recorded
	CodeIntegrityMismatch Code = "INTEGRITY_MISMATCH"      // a digest or a hash-chain link does not verify
	CodeReplayInvalid     Code = "REPLAY_INVALID"          // events that do not replay under the state machine

	// The codes of bundles and audit packages (SPEC §6).
	CodeConflictModeInvalid  Code = "CONFLICT_MODE_INVALID"  // an import conflict mode that is not one of the three
	CodeBundleInvalid        Code = "BUNDLE_INVALID_SCHEMA"  // a document that is not a decision bundle
	CodeNoRouterLink         Code = "NO_ROUTER_LINK"         // an audit package of a decision that has not executed successfully
	CodeRouterDigestMismatch Code = "ROUTER_DIGEST_MISMATCH" // a router bundle or digest that is not the one recorded for the run
)

// Error is Warden's one domain error.
type Error struct {
	Code    Code           `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	// Err is the underlying cause, if any; it is not shown to callers.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for other errors so that internals never leak to callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

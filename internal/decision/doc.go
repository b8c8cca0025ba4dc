// Package decision is Warden's approval control plane: decisions that an
// organisation takes before an agent's plan or call may run, with N-of-M
// approvals by distinct identities, immutable templates, an at-most-once
// execution through a pluggable Executor, and a lifecycle and inspection
// that explain where each decision stands.
//
// # Events
//
// A decision is its history: hash-chained [Event]s of the types in
// [EventTypes], numbered from 0. Each event's digest is
// "sha256:" + hex(SHA-256) of the RFC 8785 form of its type, payload,
// actor, timestamp, seq and the previous event's digest, so an edit, a
// removal, a reordering or an insertion anywhere breaks every digest from
// there on ([VerifyChain]). The state, a [Decision], is derived by
// [Replay], which also enforces the state machine: events that Warden
// would never have written, such as an approval by the requester or an
// execution without enough valid approvals, do not replay.
//
// The state does not depend on the clock: whether approvals have expired,
// whether the decision itself has, and hence whether it is approved, are
// answered for a given time by [Decision.StateAt] and the [Tally]. A
// [Store] therefore caches the state beside the events, updated in the
// same atomic append, and the cache always equals a fresh replay
// ([Service.Verify] checks it). Approving reads only the cached state and
// the approver's own approval, so its cost does not grow with the number
// of approvals a decision holds.
//
// # Service
//
// A [Service] validates every request when the decision is created (the
// goal, the actor, the mode, the plan, the template and its overrides,
// min_approvals, allowed_modes, require_adapter_capabilities, max_steps,
// labels, approvers, expiry), naming each invalid field. It then records
// approvals, revocations, rejections and expiry, re-checks the policy at
// execution time against the approvals valid then, claims the execution
// at most once, runs the [Executor] and records its run. Every write is an
// optimistic append: a Service reads the state, decides, and appends at
// the seq it read; a concurrent writer, in this process or another, makes
// the append fail with [ErrConflict] and the Service decides again on the
// new state. That is also what makes the execution claim atomic. A
// crash between the claim and the outcome leaves a decision executing
// until [Service.Recover] marks it failed. [Service.Import] stores a
// history written elsewhere once it verifies and replays.
//
// # Templates
//
// A [Template] is a named, immutable policy whose digest covers its
// content only ([TemplateContent]). A request made from a template may
// override its fields only to tighten them unless the template allows
// loosening, and the decision embeds a snapshot of the template.
//
// # Errors
//
// Errors are *warden.Error values with stable codes: the shared ones
// (INVALID_INPUT, INVALID_STATE, ALREADY_APPROVED, SELF_APPROVAL,
// NOT_AN_APPROVER, EXPIRED, NO_EXECUTOR, CONFLICT) and this package's
// (DECISION_NOT_FOUND, TEMPLATE_NOT_FOUND, TEMPLATE_ALREADY_EXISTS, …).
// Field errors carry details {"errors": [{"field", "message"}]}.
package decision

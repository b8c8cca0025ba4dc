// Package controlmcp is Warden's control MCP server (`warden mcp`): the
// decision control plane of package decision offered as MCP tools, under
// the names and with the input fields of nexus-control's eleven tools —
// nexus-control.request, .approve, .execute, .status, .inspect,
// .template.create, .template.get, .template.list, .export_bundle,
// .import_bundle and .export_audit_package — plus Warden's .revoke,
// .reject and .list.
//
// # Inputs
//
// Each tool declares a JSON Schema (draft 2020-12) for its input: an
// object that refuses fields it does not list, with its required fields
// and a type for every field. The schema a client sees is the one
// enforced: arguments are validated against it before anything runs, and
// a refusal is INVALID_INPUT naming each field at fault ("actor.type",
// "plan[0].tool"), in the message and as details.errors [{field,
// message}], the form the decision service uses for what only it can
// judge (a blank goal, a mode the policy does not allow, an override that
// loosens a template).
//
// Warden's additions to nexus-control's inputs are optional: approvers
// and expires_at on a request, approvers and allow_loosening on a
// template, the bundle as JSON text on import.
//
// # Results
//
// Every result is SPEC §5's envelope, {ok: true, data} or {ok: false,
// error: {code, message, details}}, as the structured content and as the
// same JSON in a text content, with isError set on errors. Codes are the
// stable codes of the decision service (DECISION_NOT_FOUND,
// INVALID_STATE, ALREADY_APPROVED, SELF_APPROVAL, NOT_AN_APPROVER,
// POLICY_VIOLATION, ROUTER_ERROR, TEMPLATE_NOT_FOUND,
// TEMPLATE_ALREADY_EXISTS, INTEGRITY_MISMATCH, DECISION_EXISTS,
// REPLAY_INVALID, NO_ROUTER_LINK, …). An error that is not a Warden
// error is logged and answered as INTERNAL "internal error". Data keys
// are nexus-control's where it has them.
//
// # Identity
//
// A call acts as the actor its input names ({type, id}), or as the
// server's default identity ([Options.DefaultActor]) when it names none;
// without a default the actor is required, and the schemas say so.
// Approvals count distinct ids, and a decision's requester never approves
// it: requests made here from a template that would allow self-approval
// tighten that away.
//
// # Execution and exchange
//
// execute runs whatever executor the Service was given, at most once. The
// exchange tools export and import nexus-control bundles and export audit
// packages, signed and carrying ledger proofs as [Options.Audit] allows;
// a router bundle or digest a caller gives must be the one Warden
// recorded for the run.
package controlmcp

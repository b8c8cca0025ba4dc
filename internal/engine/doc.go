// Package engine decides: it compiles a policy once and evaluates actions
// against it in the order SPEC §3 fixes — session state, forbidden rules,
// capability, scope, limits, session constraints, gates and escalation, then
// allow — returning a verdict with reasons, the deciding rule and, on
// request, a trace of every step.
//
// The engine is stateless. Session counters arrive in a State snapshot that
// the session layer fills, so the same code serves `warden explain` (no
// session) and live sessions.
//
// Every input is treated as hostile. Arguments are found by role (paths,
// commands, URLs, hosts, repositories, environment names) wherever the
// action carries them; a declared scope whose argument is missing or
// mistyped denies; paths are resolved as the kernel would resolve them;
// commands are parsed with a real shell parser and every command that
// would run is checked.
package engine

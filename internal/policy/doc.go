// Package policy is Warden's policy language: the document types, a strict
// loader that reports every problem as file:line:col with a fix, and the
// semantic checks (globs, CEL, gate conditions, ranges) that make a policy
// mean exactly what its author wrote.
//
// The format is det-acp's policy YAML plus Warden's extensions (SPEC §2).
// Unknown keys, wrong types and duplicate keys are errors, never silently
// dropped, because a typo in a security policy must not widen it.
package policy

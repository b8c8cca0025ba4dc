// Package gateway is Warden's stateful core: sessions that evaluate actions
// with their counters, gates that become approvals bound to the exact
// action, N-of-M votes by distinct identities, results, termination and
// reports. The HTTP API, the MCP proxy and the CLI are thin layers over it.
//
// Every operation runs in one write transaction of the Store, which also
// appends the operation's ledger entries, so a state change and its record
// are durable together or not at all. docs/design/sessions.md describes the
// design.
package gateway

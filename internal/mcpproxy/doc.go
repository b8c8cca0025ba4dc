// Package mcpproxy is Warden's governing MCP proxy. It mirrors the tools,
// resources and prompts of any number of MCP servers (backends reached over
// stdio, Streamable HTTP or legacy SSE, and Warden's own built-in tools) and
// serves them to an agent over stdio, Streamable HTTP or legacy SSE. Every
// tools/call is evaluated in one gateway session first: a denied call
// returns a tool error naming the reasons and never reaches the backend; a
// gated call is held, with progress notifications, until an approver
// decides or the gate's wait runs out; an allowed call is forwarded and its
// result recorded.
//
// Start connects the backends and creates the session; Proxy.Run serves one
// agent connection (stdio), Proxy.Handler serves agents over HTTP; Close
// terminates the session and closes the backends. LoadConfig reads the
// proxy's YAML configuration file, which is a superset of det-acp's.
package mcpproxy

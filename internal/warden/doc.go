// Package warden holds the vocabulary every other package shares: the action an
// agent asks for, the verdict Warden returns, and the one error type whose stable
// codes each edge (CLI, HTTP, MCP) maps exactly once.
//
// It imports nothing from infrastructure, so every package may depend on it.
package warden

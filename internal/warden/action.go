package warden

// An Action is one thing an agent wants to do: a tool (an action kind such as
// "file:read" or a raw MCP tool name) and the tool's input.
type Action struct {
	Tool  string         `json:"tool"`
	Input map[string]any `json:"input"`
}

// Decision is the outcome of evaluating an action.
type Decision string

// The three decisions. In shadow mode a verdict that would have blocked is
// returned as Allow with Verdict.Shadowed set to what it would have been.
const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
	Gate  Decision = "gate"
)

// Valid reports whether d is one of the three decisions.
func (d Decision) Valid() bool { return d == Allow || d == Deny || d == Gate }

// An Artifact is evidence a result carries: a checksum, a diff, a log, an
// exit code.
type Artifact struct {
	Type        string `json:"type"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
	Path        string `json:"path,omitempty"`
}

package engine

// Risk returns the risk level of a tool: the first gate's risk_level for it,
// else a default by kind — high for deletes and commands, medium for writes
// and outbound requests, low for reads.
func (e *Engine) Risk(tool string) string {
	kind := e.spec(tool).kind
	for _, g := range e.gatesFor(tool, kind) {
		if g.def.RiskLevel != "" {
			return g.def.RiskLevel
		}
	}
	switch kind {
	case "file:delete", "command:run":
		return "high"
	case "file:write", "git:apply", "http:request":
		return "medium"
	case "file:read", "git:diff":
		return "low"
	}
	return "medium"
}

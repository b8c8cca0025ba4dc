package engine

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/warden"
)

// changingKinds are the action kinds that change the files their path
// arguments name, and which of those arguments they change ("" for all).
var changingKinds = map[string]string{
	"file:write":       "",
	"file:delete":      "",
	"file:move":        "",
	"directory:create": "",
	"file:copy":        "destination",
}

// ChangedPaths returns, sorted, the files an action of a file-changing
// kind changes, as its path arguments name them: relative to the project root
// when inside it (as executors report them), absolute otherwise. It is
// how the file budget counts a change made by a tool that reports none of
// its own, such as an MCP server behind the proxy. Other kinds change
// nothing this way and return nil.
func (e *Engine) ChangedPaths(a warden.Action) []string {
	spec := e.spec(a.Tool)
	only, ok := changingKinds[spec.kind]
	if !ok {
		return nil
	}
	var out []string
	for _, p := range e.extract(spec, a.Input).paths {
		if only != "" && p.key != only {
			continue
		}
		phys := p.path.Physical
		if rel, err := filepath.Rel(e.res.Root, phys); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			phys = filepath.ToSlash(rel)
		}
		out = append(out, phys)
	}
	slices.Sort(out)
	return out
}

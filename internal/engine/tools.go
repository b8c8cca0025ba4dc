package engine

import (
	"maps"
	"slices"

	"github.com/wardenhq/warden/internal/policy"
)

// Kinds are the built-in action kinds.
var Kinds = []string{
	"file:read", "file:write", "file:delete", "file:move", "file:copy",
	"directory:list", "directory:create", "command:run", "http:request",
	"git:diff", "git:apply", "git:status", "git:commit", "env:read",
	"network:dns", "archive:extract",
}

// changesFiles lists the kinds that can change files, which
// limits.max_files_changed stops once the budget is spent. Unknown tools
// count as changing files: what they do is not known.
var changesFiles = map[string]bool{
	"file:write": true, "file:delete": true, "file:move": true, "file:copy": true,
	"directory:create": true, "command:run": true, "git:apply": true,
	"git:commit": true, "archive:extract": true,
}

func isReadOnlyKind(kind string) bool {
	return slices.Contains(Kinds, kind) && !changesFiles[kind]
}

// Argument names that carry each role in any action, whatever its tool.
var (
	pathKeys    = []string{"path", "paths", "file", "files", "file_path", "filepath", "filename", "target", "source", "destination", "dest", "src", "archive", "directory", "dir", "notebook_path"}
	cwdKeys     = []string{"cwd", "working_directory", "workdir"}
	repoKeys    = []string{"repo", "repository"}
	commandKeys = []string{"command", "cmd", "binary"}
	urlKeys     = []string{"url", "endpoint", "uri"}
	hostKeys    = []string{"hostname", "host"}
)

// DefaultTools maps the tools of the reference filesystem MCP server, and
// Warden's governed run_command, to action kinds and argument roles. A
// policy's tools: section adds to and overrides these entries.
var DefaultTools = map[string]policy.ToolMapping{
	"read_file":                 {Action: "file:read", Paths: []string{"path"}},
	"read_text_file":            {Action: "file:read", Paths: []string{"path"}},
	"read_media_file":           {Action: "file:read", Paths: []string{"path"}},
	"read_multiple_files":       {Action: "file:read", Paths: []string{"paths"}},
	"write_file":                {Action: "file:write", Paths: []string{"path"}},
	"edit_file":                 {Action: "file:write", Paths: []string{"path"}},
	"create_directory":          {Action: "directory:create", Paths: []string{"path"}},
	"list_directory":            {Action: "directory:list", Paths: []string{"path"}},
	"list_directory_with_sizes": {Action: "directory:list", Paths: []string{"path"}},
	"directory_tree":            {Action: "directory:list", Paths: []string{"path"}},
	"move_file":                 {Action: "file:move", Paths: []string{"source", "destination"}},
	"search_files":              {Action: "directory:list", Paths: []string{"path"}},
	"get_file_info":             {Action: "file:read", Paths: []string{"path"}},
	"list_allowed_directories":  {Action: "directory:list", Paths: []string{}},
	"run_command":               {Action: "command:run", Commands: []string{"command"}, Paths: []string{"cwd"}},
}

// toolSpec is how one tool's input is read.
type toolSpec struct {
	kind string
	// extra argument names per role, beyond the generic ones.
	paths, commands, urls, hosts []string
	// noPaths: the mapping says the tool takes no path argument, so a path
	// scope does not demand one.
	noPaths bool
}

func buildTools(p *policy.Policy) map[string]toolSpec {
	all := maps.Clone(DefaultTools)
	maps.Copy(all, p.Tools)
	out := make(map[string]toolSpec, len(all))
	for name, m := range all {
		out[name] = toolSpec{
			kind: m.Action, paths: m.Paths, commands: m.Commands, urls: m.URLs, hosts: m.Hosts,
			noPaths: m.Paths != nil && len(m.Paths) == 0,
		}
	}
	return out
}

func (e *Engine) spec(tool string) toolSpec {
	if s, ok := e.tools[tool]; ok {
		return s
	}
	return toolSpec{kind: tool}
}

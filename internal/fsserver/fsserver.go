// Package fsserver is Warden's built-in filesystem and command MCP server,
// the backend of `warden proxy --policy P`. It offers every tool of the
// reference filesystem server (@modelcontextprotocol/server-filesystem)
// under the same name, with the same input schema and the same answers,
// plus run_command, so that an agent configured for the reference server
// works unchanged without Node.
//
// Each tool call runs inside an executor.Env, after the proxy has
// evaluated it against the policy, and does all its file access through
// the executor adapters (file:read, file:write, file:move,
// directory:list, directory:create, command:run), which confine it to the
// project root and check every path again where it really leads. A
// change is made by the adapter of the tool's action kind, so that the
// gateway can roll it back with that adapter.
package fsserver

import (
	"context"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/warden"
)

// runFunc runs a parsed call.
type runFunc func(ctx context.Context, c *call) (*executor.Outcome, error)

// A builtin is one tool: its action kind (as engine.DefaultTools maps
// it), its definition and how its arguments are parsed. also lists the
// other kinds of the adapters it uses for its own work on the paths it
// was given (edit_file reads the file it edits), whose re-checks are
// evaluated under the tool's name too.
type builtin struct {
	name, kind string
	def        func() *mcp.Tool
	parse      func(args map[string]any) (runFunc, error)
	also       []string
}

// builtins lists the tools in the reference server's order, then
// run_command.
var builtins = []builtin{
	{"read_file", "file:read", readFileTool, readText, nil},
	{"read_text_file", "file:read", readTextFileTool, readText, nil},
	{"read_media_file", "file:read", readMediaFileTool, readMedia, nil},
	{"read_multiple_files", "file:read", readMultipleFilesTool, readMultiple, nil},
	{"write_file", "file:write", writeFileTool, writeFile, nil},
	{"edit_file", "file:write", editFileTool, editFile, []string{"file:read"}},
	{"create_directory", "directory:create", createDirectoryTool, createDirectory, nil},
	{"list_directory", "directory:list", listDirectoryTool, listDirectory, nil},
	{"list_directory_with_sizes", "directory:list", listDirectoryWithSizesTool, listDirectoryWithSizes, nil},
	{"directory_tree", "directory:list", directoryTreeTool, directoryTree, nil},
	{"move_file", "file:move", moveFileTool, moveFile, nil},
	{"search_files", "directory:list", searchFilesTool, searchFiles, nil},
	{"get_file_info", "file:read", getFileInfoTool, getFileInfo, nil},
	{"list_allowed_directories", "directory:list", listAllowedDirectoriesTool, listAllowedDirectories, nil},
	{"run_command", "command:run", runCommandTool, runCommand, nil},
}

// Tools returns the built-in tools: every tool of the reference
// filesystem server with the same name, description intent, input schema
// and result shape, plus run_command. Each call returns fresh values.
func Tools() []*mcp.Tool {
	out := make([]*mcp.Tool, len(builtins))
	for i, b := range builtins {
		out[i] = b.def()
	}
	return out
}

// Runner returns how to run one call of a built-in tool: a
// gateway.RunFunc whose Outcome.Output is the *mcp.CallToolResult to send
// back (formatted as the reference server would), with the Outcome's
// FilesChanged, Artifacts (evidence), OutputBytes, Undo and Irreversible
// filled in from the executor adapter that did the work. Unknown tools
// and bad arguments give a warden.Error with CodeInvalidInput naming the
// field.
//
// A tool that fails (a missing file, a refused path) returns the error,
// worded as the reference server words it where that makes sense, and no
// output: the proxy turns the error into an isError result. run_command
// is the exception: a command that ran and failed returns both an Outcome
// whose Output is already the isError result to send (stdout, stderr and
// "Exit code: N") and the adapter's error, which the gateway records.
//
// The RunFunc's re-checks of derived actions (the path a link really
// leads to, each file read_multiple_files reads, each program a command
// starts) are evaluated under the tool's own name, as the proxy evaluated
// the call, so that a policy that names the reference server's tools
// governs them as it governs the call.
func Runner(name string, args map[string]any) (gateway.RunFunc, error) {
	i := slices.IndexFunc(builtins, func(b builtin) bool { return b.name == name })
	if i < 0 {
		names := make([]string, len(builtins))
		for j, b := range builtins {
			names[j] = b.name
		}
		return nil, warden.Errorf(warden.CodeInvalidInput, "unknown tool %q; the built-in tools are %s", name, strings.Join(names, ", "))
	}
	b := builtins[i]
	if args == nil {
		args = map[string]any{}
	}
	run, err := b.parse(args)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, env *executor.Env) (*executor.Outcome, error) {
		if env == nil {
			return nil, warden.Errorf(warden.CodeInternal, "%s: no execution environment", name)
		}
		return run(ctx, &call{env: governed(env, b.name, append([]string{b.kind}, b.also...)), tool: b.name, kind: b.kind})
	}, nil
}

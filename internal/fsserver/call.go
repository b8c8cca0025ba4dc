package fsserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// adapters is the registry every call looks its adapters up in.
var adapters = sync.OnceValue(executor.Default)

// A call is one run of a built-in tool in an execution environment.
type call struct {
	// env is the execution environment whose re-checks evaluate derived
	// actions under the tool's own name (see governed).
	env *executor.Env
	// tool is the MCP tool name; kind the action kind it maps to.
	tool, kind string
}

// governed returns a copy of env whose Check evaluates an action derived
// from this call's own work (an action of one of kinds) under the MCP
// tool's name, as the proxy evaluated the call itself. A policy written
// for the reference server names tools (write_file, move_file …) rather
// than kinds; under the tool's name the engine applies the capabilities
// and gates of both the tool and its kind, so a derived action passes
// exactly when the call would have passed with the path it really
// touches. Checks of other kinds (a file a command's redirection opens)
// are evaluated as they come.
func governed(env *executor.Env, tool string, kinds []string) *executor.Env {
	e := *env
	check := env.Check
	e.Check = func(ctx context.Context, t string, in executor.Input) error {
		if check == nil {
			return nil
		}
		if slices.Contains(kinds, t) {
			t = tool
		}
		return check(ctx, t, in)
	}
	return &e
}

// exec validates and executes in with the adapter for kind.
func (c *call) exec(ctx context.Context, kind string, in executor.Input) (*executor.Outcome, error) {
	a, ok := adapters().Lookup(kind)
	if !ok {
		return nil, warden.Errorf(warden.CodeNoExecutor, "no executor for %s", kind)
	}
	if err := a.Validate(in); err != nil {
		return nil, err
	}
	return a.Execute(ctx, c.env, in)
}

// decodeOutput reads an adapter's output into v through its JSON form,
// the adapters' contract with their callers.
func decodeOutput(out *executor.Outcome, v any) error {
	if out == nil {
		return warden.Errorf(warden.CodeInternal, "the adapter returned no outcome")
	}
	b, err := json.Marshal(out.Output)
	if err != nil {
		return &warden.Error{Code: warden.CodeInternal, Message: "adapter output: " + err.Error(), Err: err}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &warden.Error{Code: warden.CodeInternal, Message: "adapter output: " + err.Error(), Err: err}
	}
	return nil
}

// roots names the allowed directories as the reference's errors do: the
// project root, and the same with links resolved when that differs.
func (c *call) roots() string {
	if c.env.Physical != "" && c.env.Physical != c.env.Dir {
		return c.env.Dir + ", " + c.env.Physical
	}
	return c.env.Dir
}

// abs is the absolute path of a root-relative one, as errors name it.
func (c *call) abs(rel string) string { return c.env.Abs(rel) }

// requested is an agent's path made absolute as the reference would
// report it: "~" expanded, a relative path taken from the project root.
func (c *call) requested(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.env.Dir, p)
}

var windowsPath = regexp.MustCompile(`^[A-Za-z]:([\\/]|$)`)

// resolve turns an agent's path into one relative to the project root.
// A path outside the root, or one that a symbolic link on its way leads
// outside, is refused with the reference's "Access denied" wording; the
// adapters refuse such paths too, through os.Root, whatever this finds.
func (c *call) resolve(p string) (string, error) {
	if windowsPath.MatchString(p) {
		return "", warden.Errorf(warden.CodeInvalidInput, "Access denied - Windows-style path received on a POSIX host: %s", p)
	}
	rel, err := c.env.Rel(p)
	if err != nil {
		if warden.ErrorCode(err) == warden.CodeDenied {
			return "", refError(err, fmt.Sprintf("Access denied - path outside allowed directories: %s not in %s", c.requested(p), c.roots()))
		}
		return "", err
	}
	if _, outside := c.follow(rel); outside != "" {
		return "", warden.Errorf(warden.CodeDenied, "Access denied - symlink target outside allowed directories: %s not in %s", outside, c.roots())
	}
	return rel, nil
}

// follow resolves the symbolic links on the way to rel, reading each link
// inside the root. It returns the root-relative path rel really names,
// or, when a link leads outside the root, the absolute path it leads to.
// A missing component ends the resolution: the rest is taken as written.
func (c *call) follow(rel string) (real, outside string) {
	parts := strings.Split(rel, "/")
	cur := "."
	for hops, i := 0, 0; i < len(parts); i++ {
		next := path.Join(cur, parts[i])
		fi, err := c.env.Root.Lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return path.Join(append([]string{next}, parts[i+1:]...)...), ""
		}
		target, err := c.env.Root.Readlink(next)
		if err != nil {
			cur = next
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(c.env.Dir, filepath.FromSlash(path.Dir(next)), target)
		}
		target = filepath.Clean(target)
		inside, err := c.env.Rel(target)
		if err != nil {
			return "", filepath.Join(append([]string{target}, parts[i+1:]...)...)
		}
		parts = append(strings.Split(inside, "/"), parts[i+1:]...)
		cur, i = ".", -1
	}
	return cur, ""
}

// refError keeps err's code and details but says what the reference
// server says in that case.
func refError(err error, msg string) error {
	var we *warden.Error
	if errors.As(err, &we) {
		return &warden.Error{Code: we.Code, Message: msg, Details: we.Details, Err: err}
	}
	return &warden.Error{Code: warden.CodeInternal, Message: msg, Err: err}
}

// readError words a failed read of rel as Node's fs.readFile would.
func (c *call) readError(rel string, err error) error {
	switch warden.ErrorCode(err) {
	case warden.CodeNotFound:
		return refError(err, fmt.Sprintf("ENOENT: no such file or directory, open '%s'", c.abs(rel)))
	case warden.CodeInvalidState:
		if fi, serr := c.env.Root.Stat(rel); serr == nil && fi.IsDir() {
			return refError(err, "EISDIR: illegal operation on a directory, read")
		}
	}
	return err
}

// textResult is the answer of every text tool of the reference: one text
// block, and the same text as structured content.
func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: text}},
		StructuredContent: map[string]any{"content": text},
	}
}

// errorMessage is an error's message as a tool result shows it inline.
func errorMessage(err error) string {
	var we *warden.Error
	if errors.As(err, &we) {
		return we.Error()
	}
	return err.Error()
}

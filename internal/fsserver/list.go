package fsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// maxWalkEntries bounds the entries directory_tree and search_files visit
// in one call; past it they answer with what they found and say so.
const maxWalkEntries = 100_000

// listEntry is one entry of directory:list's output.
type listEntry struct {
	Name string `json:"name"`
	Path string `json:"path"` // relative to the project root
	Type string `json:"type"` // file, directory, symlink or other
	Size int64  `json:"size"`
}

type listOutput struct {
	Entries   []listEntry `json:"entries"`
	Truncated bool        `json:"truncated"`
}

// A lister lists directories one level at a time through the
// directory:list adapter, which opens each directory checked where it
// really is and leaves out the entries the policy would not let the agent
// list.
type lister struct {
	c         *call
	visited   int
	truncated bool // an adapter or the walk cut a listing short
}

// list lists the directory p (as the agent wrote it, or root-relative);
// rel is the same relative to the root, for errors.
func (l *lister) list(ctx context.Context, p, rel string) ([]listEntry, error) {
	out, err := l.c.exec(ctx, "directory:list", executor.Input{"path": p})
	if err != nil {
		switch warden.ErrorCode(err) {
		case warden.CodeNotFound:
			return nil, refError(err, fmt.Sprintf("ENOENT: no such file or directory, scandir '%s'", l.c.abs(rel)))
		case warden.CodeInvalidState:
			if fi, serr := l.c.env.Root.Stat(rel); serr == nil && !fi.IsDir() {
				return nil, refError(err, fmt.Sprintf("ENOTDIR: not a directory, scandir '%s'", l.c.abs(rel)))
			}
		}
		return nil, err
	}
	var res listOutput
	if err := decodeOutput(out, &res); err != nil {
		return nil, err
	}
	l.truncated = l.truncated || res.Truncated
	return res.Entries, nil
}

// note says, in a second text block, that a listing is incomplete.
func (l *lister) note(res *mcp.CallToolResult) *mcp.CallToolResult {
	if l.truncated {
		res.Content = append(res.Content, &mcp.TextContent{Text: "(listing incomplete: there are more entries than Warden lists in one call)"})
	}
	return res
}

// listed wraps a listing's text as the outcome: listings change nothing,
// and the bytes they answer with are their output.
func listed(res *mcp.CallToolResult, text string) *executor.Outcome {
	return &executor.Outcome{Output: res, OutputBytes: int64(len(text))}
}

func pathArg(in map[string]any, keys ...string) (string, error) {
	if err := executor.Known(in, append([]string{"path"}, keys...)...); err != nil {
		return "", err
	}
	return executor.String(in, "path", true)
}

// listDirectory is list_directory: "[DIR] name" or "[FILE] name" per
// entry (a link is a file, as its directory entry says), in name order.
func listDirectory(in map[string]any) (runFunc, error) {
	p, err := pathArg(in)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		l := &lister{c: c}
		entries, err := l.list(ctx, p, rel)
		if err != nil {
			return nil, err
		}
		lines := make([]string, len(entries))
		for i, e := range entries {
			lines[i] = typeTag(e) + " " + e.Name
		}
		text := strings.Join(lines, "\n")
		return listed(l.note(textResult(text)), text), nil
	}, nil
}

func typeTag(e listEntry) string {
	if e.Type == "directory" {
		return "[DIR]"
	}
	return "[FILE]"
}

// listDirectoryWithSizes is list_directory_with_sizes: entries with the
// size of what they lead to (a link is followed inside the root; one that
// cannot be followed counts 0, as the reference counts a failed stat),
// sorted by name as JavaScript's localeCompare sorts, or by size, largest
// first; then totals.
func listDirectoryWithSizes(in map[string]any) (runFunc, error) {
	p, err := pathArg(in, "sortBy")
	if err != nil {
		return nil, err
	}
	sortBy, err := executor.Enum(in, "sortBy", "name", "name", "size")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		l := &lister{c: c}
		entries, err := l.list(ctx, p, rel)
		if err != nil {
			return nil, err
		}
		sizes := make(map[string]int64, len(entries))
		files, dirs, total := 0, 0, int64(0)
		for _, e := range entries {
			if fi, err := c.env.Root.Stat(e.Path); err == nil {
				sizes[e.Path] = fi.Size()
			}
			if e.Type == "directory" {
				dirs++
			} else {
				files++
				total += sizes[e.Path]
			}
		}
		if sortBy == "size" {
			sort.SliceStable(entries, func(i, j int) bool { return sizes[entries[i].Path] > sizes[entries[j].Path] })
		} else {
			col := collate.New(language.Und)
			sort.SliceStable(entries, func(i, j int) bool { return col.CompareString(entries[i].Name, entries[j].Name) < 0 })
		}
		lines := make([]string, 0, len(entries)+3)
		for _, e := range entries {
			size := ""
			if e.Type != "directory" {
				size = padStart(formatSize(sizes[e.Path]), 10)
			}
			lines = append(lines, fmt.Sprintf("%s %s %s", typeTag(e), padEnd(e.Name, 30), size))
		}
		lines = append(lines, "", fmt.Sprintf("Total: %d files, %d directories", files, dirs), "Combined size: "+formatSize(total))
		text := strings.Join(lines, "\n")
		return listed(l.note(textResult(text)), text), nil
	}, nil
}

// globMatch matches a path relative to the walked directory against a
// pattern as minimatch does with dot files included: doublestar's syntax,
// except that a trailing "/**" needs at least one more path segment.
func globMatch(pattern, rel string) bool {
	ok, _ := doublestar.Match(pattern, rel)
	if !ok {
		return false
	}
	if prefix, cut := strings.CutSuffix(pattern, "/**"); cut && !strings.Contains(prefix, "**") {
		if exact, _ := doublestar.Match(prefix, rel); exact {
			return false
		}
	}
	return true
}

func globList(in map[string]any, key string) ([]string, error) {
	pats, err := executor.Strings(in, key)
	if err != nil {
		return nil, err
	}
	for i, p := range pats {
		if !doublestar.ValidatePattern(p) {
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.%s[%d]: %q is not a valid glob; check for an unclosed [ or {", key, i, p)
		}
	}
	return pats, nil
}

// A treeEntry is one node of directory_tree's answer; a directory always
// has Children, a file never.
type treeEntry struct {
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Children *[]treeEntry `json:"children,omitempty"`
}

// directoryTree is directory_tree: the tree below a directory as JSON,
// indented by two spaces. An entry whose path relative to the tree's root
// matches an exclude pattern is left out with everything below it: a
// pattern with "*" is matched as written, one without also anywhere in the
// tree ("**/p") and as a directory ("**/p/**"). Links are files and are
// not followed.
func directoryTree(in map[string]any) (runFunc, error) {
	p, err := pathArg(in, "excludePatterns")
	if err != nil {
		return nil, err
	}
	excludes, err := globList(in, "excludePatterns")
	if err != nil {
		return nil, err
	}
	excluded := func(rel string) bool {
		for _, pat := range excludes {
			if strings.Contains(pat, "*") {
				if globMatch(pat, rel) {
					return true
				}
			} else if globMatch(pat, rel) || globMatch("**/"+pat, rel) || globMatch("**/"+pat+"/**", rel) {
				return true
			}
		}
		return false
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		l := &lister{c: c}
		var build func(dir, dirRel, sub string) ([]treeEntry, error)
		build = func(dir, dirRel, sub string) ([]treeEntry, error) {
			entries, err := l.list(ctx, dir, dirRel)
			if err != nil {
				return nil, err
			}
			out := []treeEntry{}
			for _, e := range entries {
				at := path.Join(sub, e.Name)
				if excluded(at) {
					continue
				}
				if l.visited++; l.visited > maxWalkEntries {
					l.truncated = true
					break
				}
				te := treeEntry{Name: e.Name, Type: "file"}
				if e.Type == "directory" {
					te.Type = "directory"
					children, err := build(e.Path, e.Path, at)
					if err != nil {
						return nil, err
					}
					te.Children = &children
				}
				out = append(out, te)
			}
			return out, nil
		}
		tree, err := build(p, rel, "")
		if err != nil {
			return nil, err
		}
		text, err := jsonIndent(tree)
		if err != nil {
			return nil, err
		}
		return listed(l.note(textResult(text)), text), nil
	}, nil
}

// jsonIndent is JSON.stringify(v, null, 2): no HTML escaping, no final
// newline.
func jsonIndent(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", &warden.Error{Code: warden.CodeInternal, Message: "encoding the tree: " + err.Error(), Err: err}
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// searchFiles is search_files: every entry below a directory whose path
// relative to it matches the glob pattern, as absolute paths, depth first
// in name order; "No matches found" when none does. An entry matching an
// exclude pattern is skipped with everything below it. A link that
// cannot be followed inside the root is skipped, as the reference skips a
// path it cannot validate.
func searchFiles(in map[string]any) (runFunc, error) {
	p, err := pathArg(in, "pattern", "excludePatterns")
	if err != nil {
		return nil, err
	}
	pattern, err := executor.String(in, "pattern", true)
	if err != nil {
		return nil, err
	}
	if !doublestar.ValidatePattern(pattern) {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.pattern: %q is not a valid glob; check for an unclosed [ or {", pattern)
	}
	excludes, err := globList(in, "excludePatterns")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		l := &lister{c: c}
		var found []string
		var walk func(dir, dirRel, sub string) error
		walk = func(dir, dirRel, sub string) error {
			entries, err := l.list(ctx, dir, dirRel)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if l.visited++; l.visited > maxWalkEntries {
					l.truncated = true
					return nil
				}
				if e.Type == "symlink" {
					if _, err := c.env.Root.Stat(e.Path); err != nil {
						continue
					}
				}
				at := path.Join(sub, e.Name)
				if slices.ContainsFunc(excludes, func(x string) bool { return globMatch(x, at) }) {
					continue
				}
				if globMatch(pattern, at) {
					found = append(found, c.abs(e.Path))
				}
				if e.Type == "directory" {
					// As in the reference, a directory that cannot be
					// searched is passed over.
					_ = walk(e.Path, e.Path, at)
				}
			}
			return nil
		}
		if err := walk(p, rel, ""); err != nil {
			return nil, err
		}
		text := "No matches found"
		if len(found) > 0 {
			text = strings.Join(found, "\n")
		}
		return listed(l.note(textResult(text)), text), nil
	}, nil
}

// listAllowedDirectories is list_allowed_directories: the project root,
// and the same with links resolved when that differs.
func listAllowedDirectories(in map[string]any) (runFunc, error) {
	if err := executor.Known(in); err != nil {
		return nil, err
	}
	return func(_ context.Context, c *call) (*executor.Outcome, error) {
		dirs := []string{c.env.Dir}
		if c.env.Physical != "" && c.env.Physical != c.env.Dir {
			dirs = append(dirs, c.env.Physical)
		}
		text := "Allowed directories:\n" + strings.Join(dirs, "\n")
		return listed(textResult(text), text), nil
	}, nil
}

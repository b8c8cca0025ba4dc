package fsserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// writeError words a failed write of rel as Node's fs.writeFile would.
func (c *call) writeError(rel string, err error) error {
	switch warden.ErrorCode(err) {
	case warden.CodeNotFound:
		return refError(err, fmt.Sprintf("ENOENT: no such file or directory, open '%s'", c.abs(rel)))
	case warden.CodeConflict, warden.CodeInvalidState:
		if fi, serr := c.env.Root.Stat(rel); serr == nil && fi.IsDir() {
			return refError(err, fmt.Sprintf("EISDIR: illegal operation on a directory, open '%s'", c.abs(rel)))
		}
	}
	return err
}

// writeFile is write_file: the file:write adapter replaces the file (the
// one a link leads to) atomically, after saving what it held, so that
// rolling back the action through file:write restores it. Missing parent
// directories are not created, as the reference does not create them.
func writeFile(in map[string]any) (runFunc, error) {
	if err := executor.Known(in, "path", "content"); err != nil {
		return nil, err
	}
	p, err := executor.String(in, "path", true)
	if err != nil {
		return nil, err
	}
	if in["content"] == nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.content: required (\"\" writes an empty file)")
	}
	content, err := executor.String(in, "content", false)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		out, err := c.exec(ctx, "file:write", executor.Input{"path": p, "content": content})
		if err != nil {
			return out, c.writeError(rel, err)
		}
		out.Output = textResult("Successfully wrote to " + p)
		return out, nil
	}, nil
}

// An edit is one of edit_file's replacements.
type edit struct{ oldText, newText string }

type editArgs struct {
	path   string
	edits  []edit
	dryRun bool
}

func parseEdit(in map[string]any) (a editArgs, err error) {
	if err = executor.Known(in, "path", "edits", "dryRun"); err != nil {
		return a, err
	}
	if a.path, err = executor.String(in, "path", true); err != nil {
		return a, err
	}
	if a.dryRun, err = executor.Bool(in, "dryRun", false); err != nil {
		return a, err
	}
	raw, ok := in["edits"]
	if !ok || raw == nil {
		return a, warden.Errorf(warden.CodeInvalidInput, "input.edits: required: a list of {oldText, newText}")
	}
	list, ok := raw.([]any)
	if !ok {
		if ms, isMaps := raw.([]map[string]any); isMaps {
			for _, m := range ms {
				list = append(list, m)
			}
		} else {
			return a, warden.Errorf(warden.CodeInvalidInput, "input.edits: must be a list of {oldText, newText}")
		}
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return a, warden.Errorf(warden.CodeInvalidInput, "input.edits[%d]: must be an object {oldText, newText}", i)
		}
		key := fmt.Sprintf("edits[%d].", i)
		for k := range m {
			if k != "oldText" && k != "newText" {
				return a, warden.Errorf(warden.CodeInvalidInput, "input.%s%s: unknown field; an edit takes oldText, newText", key, k)
			}
		}
		var ed edit
		for _, f := range []struct {
			name string
			dst  *string
		}{{"oldText", &ed.oldText}, {"newText", &ed.newText}} {
			v, ok := m[f.name]
			if !ok || v == nil {
				return a, warden.Errorf(warden.CodeInvalidInput, "input.%s%s: required", key, f.name)
			}
			s, ok := v.(string)
			if !ok {
				return a, warden.Errorf(warden.CodeInvalidInput, "input.%s%s: must be a string", key, f.name)
			}
			*f.dst = s
		}
		a.edits = append(a.edits, ed)
	}
	return a, nil
}

// applyEdits applies the edits in order to content (already LF-only), as
// the reference does: an edit's text is first looked for exactly, and its
// first occurrence replaced; failing that, its lines are looked for with
// surrounding white space ignored, and the new lines take the matched
// first line's indentation, later lines keeping their indentation
// relative to the old text's. An edit found neither way is an error that
// quotes it.
func applyEdits(content string, edits []edit) (string, error) {
	for i, e := range edits {
		oldText, newText := normalizeNewlines(e.oldText), normalizeNewlines(e.newText)
		if strings.Contains(content, oldText) {
			content = strings.Replace(content, oldText, newText, 1)
			continue
		}
		oldLines := strings.Split(oldText, "\n")
		lines := strings.Split(content, "\n")
		found := false
		for at := 0; at+len(oldLines) <= len(lines); at++ {
			if !linesMatch(lines[at:at+len(oldLines)], oldLines) {
				continue
			}
			indent := leadingSpace(lines[at])
			var repl []string
			for j, l := range strings.Split(newText, "\n") {
				if j == 0 {
					repl = append(repl, indent+jsTrimStart(l))
					continue
				}
				oldIndent := ""
				if j < len(oldLines) {
					oldIndent = leadingSpace(oldLines[j])
				}
				newIndent := leadingSpace(l)
				if oldIndent != "" && newIndent != "" {
					repl = append(repl, indent+strings.Repeat(" ", max(0, jsLen(newIndent)-jsLen(oldIndent)))+jsTrimStart(l))
				} else {
					repl = append(repl, l)
				}
			}
			lines = append(lines[:at], append(repl, lines[at+len(oldLines):]...)...)
			content = strings.Join(lines, "\n")
			found = true
			break
		}
		if !found {
			return "", &warden.Error{Code: warden.CodeConflict,
				Message: "Could not find exact match for edit:\n" + e.oldText,
				Details: map[string]any{"edit": i}}
		}
	}
	return content, nil
}

func linesMatch(have, want []string) bool {
	for i := range want {
		if jsTrim(have[i]) != jsTrim(want[i]) {
			return false
		}
	}
	return true
}

// editFile is edit_file: the new content is computed from the file's
// current content, read through the file:read adapter, and written with
// the file:write adapter (so its undo record is file:write's); the answer
// is a unified diff. A dry run only reads and answers. Like the
// reference, the file is read as UTF-8 and written back with LF line
// endings.
func editFile(in map[string]any) (runFunc, error) {
	a, err := parseEdit(in)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(a.path)
		if err != nil {
			return nil, err
		}
		r := &reader{c: c, path: a.path, rel: rel}
		b, err := r.all(ctx)
		if err != nil {
			return nil, err
		}
		before := normalizeNewlines(decodeText(b))
		after, err := applyEdits(before, a.edits)
		if err != nil {
			return nil, err
		}
		real, _ := c.follow(rel)
		res := textResult(fencedDiff(unifiedDiff(c.abs(real), before, after)))
		if a.dryRun {
			return r.outcome(res), nil
		}
		out, err := c.exec(ctx, "file:write", executor.Input{"path": a.path, "content": after})
		if err != nil {
			return out, c.writeError(rel, err)
		}
		out.Output = res
		return out, nil
	}, nil
}

// createDirectory is create_directory: the directory:create adapter makes
// the directory and any missing parents, and its undo record removes
// those it made. An existing directory is a success.
func createDirectory(in map[string]any) (runFunc, error) {
	if err := executor.Known(in, "path"); err != nil {
		return nil, err
	}
	p, err := executor.String(in, "path", true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		out, err := c.exec(ctx, "directory:create", executor.Input{"path": p, "recursive": true})
		if err != nil {
			if warden.ErrorCode(err) == warden.CodeConflict {
				if fi, lerr := c.env.Root.Lstat(rel); lerr == nil && !fi.IsDir() {
					return out, refError(err, fmt.Sprintf("EEXIST: file already exists, mkdir '%s'", c.abs(rel)))
				}
				return out, refError(err, fmt.Sprintf("ENOTDIR: not a directory, mkdir '%s'", c.abs(rel)))
			}
			return out, err
		}
		out.Output = textResult("Successfully created directory " + p)
		return out, nil
	}, nil
}

// moveFile is move_file: the file:move adapter renames a file, link or
// directory, never over an existing destination, and its undo record
// moves it back.
func moveFile(in map[string]any) (runFunc, error) {
	if err := executor.Known(in, "source", "destination"); err != nil {
		return nil, err
	}
	src, err := executor.String(in, "source", true)
	if err != nil {
		return nil, err
	}
	dst, err := executor.String(in, "destination", true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		srcRel, err := c.resolve(src)
		if err != nil {
			return nil, err
		}
		dstRel, err := c.resolve(dst)
		if err != nil {
			return nil, err
		}
		if _, err := c.env.Root.Lstat(dstRel); err == nil {
			return nil, warden.Errorf(warden.CodeConflict, "Destination already exists: %s", c.abs(dstRel))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, warden.Errorf(warden.CodeInvalidState, "%s: %v", dstRel, err)
		}
		out, err := c.exec(ctx, "file:move", executor.Input{"source": src, "destination": dst})
		if err != nil {
			if warden.ErrorCode(err) == warden.CodeNotFound {
				return out, refError(err, fmt.Sprintf("ENOENT: no such file or directory, rename '%s' -> '%s'", c.abs(srcRel), c.abs(dstRel)))
			}
			return out, err
		}
		out.Output = textResult(fmt.Sprintf("Successfully moved %s to %s", src, dst))
		return out, nil
	}, nil
}

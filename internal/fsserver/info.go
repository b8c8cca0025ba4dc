package fsserver

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// getFileInfo is get_file_info: what stat(2) says of the file or
// directory the path leads to, one "key: value" line each, times as
// JavaScript prints dates. A file or directory is opened under the root
// and checked where it really is, as file:read checks a read; anything
// else (a pipe, a device) is not opened, which could block, and is checked
// by its path.
func getFileInfo(in map[string]any) (runFunc, error) {
	p, err := pathArg(in)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		fi, err := c.env.Root.Stat(rel)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, warden.Errorf(warden.CodeNotFound, "ENOENT: no such file or directory, stat '%s'", c.abs(rel))
			}
			return nil, warden.Errorf(warden.CodeInvalidState, "%s: %v", rel, err)
		}
		in := executor.Input{"path": p}
		var f *os.File
		if fi.Mode().IsRegular() || fi.IsDir() {
			f, _, err = c.env.OpenChecked(ctx, c.kind, in, "path", rel, os.O_RDONLY, 0)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			if fi, err = f.Stat(); err != nil {
				return nil, warden.Errorf(warden.CodeInvalidState, "%s: %v", rel, err)
			}
		} else if err := c.env.Recheck(ctx, c.kind, in, "path", c.abs(rel)); err != nil {
			return nil, err
		}
		lines := []string{
			fmt.Sprintf("size: %d", fi.Size()),
			"created: " + jsDate(birthTime(f, fi)),
			"modified: " + jsDate(fi.ModTime()),
			"accessed: " + jsDate(accessTime(fi)),
			fmt.Sprintf("isDirectory: %t", fi.IsDir()),
			fmt.Sprintf("isFile: %t", fi.Mode().IsRegular()),
			// The last three octal digits of st_mode.
			fmt.Sprintf("permissions: %03o", fi.Mode().Perm()),
		}
		text := strings.Join(lines, "\n")
		return listed(textResult(text), text), nil
	}, nil
}

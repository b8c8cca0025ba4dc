package httpapi

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardenhq/warden/internal/policy"
)

// looksLikePath reports whether det-acp's "policy" field, which holds
// either a file path or inline YAML, holds a path: one line that is not a
// YAML flow mapping.
func looksLikePath(p string) bool {
	t := strings.TrimSpace(p)
	return !strings.ContainsAny(t, "\n\r") && !strings.HasPrefix(t, "{")
}

// readPolicyFile reads a server-side policy named by a client. Only files
// inside the configured policy directory are read: a path with "..", an
// absolute path elsewhere, or a symlink leading out is refused, and the
// file is opened through os.Root so that nothing can escape between the
// check and the read. It returns the YAML and the name to report.
func (s *server) readPolicyFile(p string) ([]byte, string, error) {
	if s.policyDir == "" {
		return nil, "", invalid("policy %q looks like a server-side file path, and this server reads no policy files: send the policy's YAML text inline in \"policy\" (or start the server with a policy directory and name a file inside it)", p)
	}
	if p == "" || strings.ContainsRune(p, 0) {
		return nil, "", invalid("the policy path is empty or contains a NUL byte; name a file inside the policy directory")
	}
	for _, elem := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if elem == ".." {
			return nil, "", invalid("policy path %q contains \"..\"; name a file inside the policy directory without \"..\"", p)
		}
	}
	rel := filepath.Clean(p)
	if filepath.IsAbs(rel) {
		r, err := filepath.Rel(s.policyDir, rel)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
			return nil, "", invalid("policy path %q is outside the server's policy directory; give a path relative to that directory", p)
		}
		rel = r
	}
	root, err := os.OpenRoot(s.policyDir)
	if err != nil {
		return nil, "", err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", invalid("policy file %q not found in the server's policy directory; check the name, or send the YAML inline", p)
	} else if err != nil {
		return nil, "", invalid("policy path %q leads outside the server's policy directory or cannot be read; name a regular file inside it", p)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, "", invalid("policy path %q is not a regular file; name a policy file inside the server's policy directory", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, policy.MaxSize+1))
	if err != nil {
		return nil, "", invalid("policy file %q cannot be read: %v", p, err)
	}
	return data, rel, nil
}

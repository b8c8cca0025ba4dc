package engine

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"errors"
	"io/fs"
	"os"

	"github.com/bmatcuk/doublestar/v4"
	"golang.org/x/text/unicode/norm"

	"github.com/wardenhq/warden/internal/pathscope"
	"github.com/wardenhq/warden/internal/shellcmd"
	"github.com/wardenhq/warden/internal/urlscope"
)

// maxGlobMatches bounds how many files a glob word in a command may expand
// to before the command is refused as too broad to check.
const maxGlobMatches = 1000

var errTooMany = errors.New("too many matches")

// hit records the forbidden rule with the lowest index that matched: the
// first rule in the policy decides, whatever order the checks ran in.
type hit struct {
	rule   int
	reason string
}

func (h *hit) consider(rule int, format string, args ...any) {
	if rule >= 0 && (h.rule < 0 || rule < h.rule) {
		h.rule, h.reason = rule, fmt.Sprintf(format, args...)
	}
}

// forbidden checks every path, command, URL and string the action carries.
func (ev *evaluation) forbidden() (int, string) {
	f := &ev.e.forbid
	h := hit{rule: -1}
	a := ev.args
	checkPath := func(raw string, p pathscope.Path) {
		if rule, pat := ev.matchPath(p); rule >= 0 {
			if dir, ok := ev.e.protectedDir(rule); ok {
				h.consider(rule, "Path %q is Warden's own state (%s), which no action may touch", raw, dir)
			} else {
				h.consider(rule, "Path %q matches forbidden pattern %q", raw, pat)
			}
		}
	}
	for _, p := range a.paths {
		checkPath(p.raw, p.path)
	}
	for _, p := range a.repos {
		checkPath(p.raw, p.path)
	}
	if a.cwd != nil {
		checkPath(a.cwd.raw, a.cwd.path)
	}
	for _, c := range a.commands {
		ev.forbiddenCommand(c, &h)
	}
	for _, u := range a.urls {
		for _, r := range f.urls {
			if r.glob.Match(u.url, u.raw) {
				h.consider(r.rule, "URL %q matches forbidden pattern %q", u.raw, ev.e.policy.Forbidden[r.rule].Source())
			}
		}
	}
	for _, r := range f.regexes {
		if key, ok := regexHit(r, ev.req.Action.Input); ok {
			h.consider(r.rule, "Input %s matches forbidden pattern /%s/", key, r.re.String())
		}
	}
	return h.rule, h.reason
}

// matchPath returns the first forbidden rule matching any spelling of p, or
// a directory containing it:
// its lexical and physical forms, their Unicode compatibility forms (a
// fullwidth "．ｅｎｖ" is ".env" to some tools), "\" read as a separator,
// and trailing dots and spaces trimmed (ignored by some file systems).
func (ev *evaluation) matchPath(p pathscope.Path) (int, string) {
	f := &ev.e.forbid
	if f.paths.Len() == 0 {
		return -1, ""
	}
	best := -1
	try := func(s string) {
		if id := f.paths.Match(s); id >= 0 && (best < 0 || id < best) {
			best = id
		}
	}
	forms := [2]string{p.Lexical, p.Physical}
	for i, s := range forms {
		if i == 1 && s == forms[0] {
			break
		}
		try(s)
		if !isASCII(s) {
			if n := norm.NFKC.String(s); n != s {
				try(filepath.Clean(n))
			}
		}
		if strings.ContainsRune(s, '\\') {
			try(filepath.Clean(strings.ReplaceAll(s, `\`, "/")))
		}
		if t := trimTrailing(s); t != s {
			try(t)
		}
	}
	if best < 0 {
		return -1, ""
	}
	rule := f.pathRule[best]
	if dir, ok := ev.e.protectedDir(rule); ok {
		return rule, dir
	}
	return rule, ev.e.policy.Forbidden[rule].Source()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// trimTrailing removes trailing dots and spaces from every segment.
func trimTrailing(p string) string {
	if !strings.Contains(p, ".") && !strings.Contains(p, " ") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if t := strings.TrimRight(s, ". "); t != "" && s != "." && s != ".." {
			segs[i] = t
		}
	}
	return strings.Join(segs, "/")
}

// forbiddenCommand matches command patterns against the parsed line, and
// path and URL rules against every word that could name a file or a URL.
func (ev *evaluation) forbiddenCommand(c commandArg, h *hit) {
	f := &ev.e.forbid
	if len(f.cmds) > 0 {
		tried := make(map[int]bool)
		try := func(id int) {
			if tried[id] {
				return
			}
			tried[id] = true
			r := f.cmds[id]
			if ok, at := r.pat.Match(c.line); ok {
				h.consider(r.rule, "Command %q matches forbidden pattern %q", commandText(c, at), ev.e.policy.Forbidden[r.rule].Source())
			}
		}
		for _, id := range f.cmdAny {
			try(id)
		}
		for _, cmd := range c.line.Commands {
			// A name known only at run time could be any command.
			if cmd.Name.Dynamic || cmd.Name.Glob {
				for id := range f.cmds {
					try(id)
				}
				break
			}
			for _, id := range f.cmdByName[strings.ToLower(path.Base(cmd.Name.Value))] {
				try(id)
			}
		}
	}
	if f.paths.Len() == 0 && len(f.urls) == 0 {
		return
	}
	bases := ev.commandBases(c.line)
	check := func(w shellcmd.Word) {
		if w.Dynamic || w.Value == "" {
			return // refused by the scope check unless shell syntax is allowed
		}
		for _, v := range wordCandidates(w.Value) {
			if strings.Contains(v, "://") {
				if u, err := urlscope.Parse(v); err == nil {
					for _, r := range f.urls {
						if r.glob.Match(u, v) {
							h.consider(r.rule, "Command %q uses forbidden URL %q (pattern %q)", c.raw, v, ev.e.policy.Forbidden[r.rule].Source())
						}
					}
				}
				continue
			}
			if f.paths.Len() == 0 {
				continue
			}
			for _, base := range bases {
				for _, name := range ev.expand(w, v, base) {
					p, err := ev.e.res.Resolve(name, base)
					if err != nil {
						continue
					}
					if rule, pat := ev.matchPath(p); rule >= 0 {
						if dir, ok := ev.e.protectedDir(rule); ok {
							h.consider(rule, "Command %q touches %q, Warden's own state (%s)", c.raw, name, dir)
						} else {
							h.consider(rule, "Command %q touches forbidden path %q (pattern %q)", c.raw, name, pat)
						}
					}
				}
			}
		}
	}
	for _, cmd := range c.line.Commands {
		if strings.Contains(cmd.Name.Value, "/") {
			check(cmd.Name)
		}
		for _, w := range cmd.Args {
			check(w)
		}
		for _, r := range cmd.Redirects {
			if r.Reads || r.Writes {
				check(r.Target)
			}
		}
		for _, as := range cmd.Assigns {
			check(as.Value)
		}
	}
}

// commandText names the command that matched, for the reason.
func commandText(c commandArg, at int) string {
	if at >= 0 && at < len(c.line.Commands) && len(c.line.Commands) > 1 {
		cmd := c.line.Commands[at]
		parts := []string{cmd.Name.Value}
		for _, w := range cmd.Args {
			parts = append(parts, w.Value)
		}
		return strings.Join(parts, " ")
	}
	return c.raw
}

// wordCandidates returns the strings in a word that could be paths: the
// word, and the value of an --option=value or NAME=value form. Bare options
// ("-rf", "--run") name no file.
func wordCandidates(w string) []string {
	if strings.HasPrefix(w, "-") {
		if _, v, ok := strings.Cut(w, "="); ok && v != "" {
			return []string{v}
		}
		return nil
	}
	if k, v, ok := strings.Cut(w, "="); ok && k != "" && v != "" && !strings.Contains(k, "/") {
		return []string{w, v}
	}
	return []string{w}
}

// commandBases returns the directories a command line's relative paths may
// be relative to: its cwd, and every directory it changes into with cd or
// pushd. Checking each is a superset of what the shell will do.
func (ev *evaluation) commandBases(l *shellcmd.Line) []string {
	base := ev.e.res.Root
	if ev.args.cwd != nil {
		base = ev.args.cwd.path.Lexical
	}
	bases := []string{base}
	for _, cmd := range l.Commands {
		if n := path.Base(cmd.Name.Value); (n == "cd" || n == "pushd") && len(cmd.Args) > 0 && len(bases) < 8 {
			arg := cmd.Args[len(cmd.Args)-1]
			if arg.Dynamic {
				continue
			}
			if p, err := ev.e.res.Resolve(arg.Value, base); err == nil {
				bases = append(bases, p.Physical)
			}
		}
	}
	return bases
}

// expand returns what a word stands for on disk: itself, plus, for an
// unquoted glob, every existing file it matches now, as the shell would
// expand it. A glob too broad to expand makes the action refused.
func (ev *evaluation) expand(w shellcmd.Word, v, base string) []string {
	if !w.Glob || strings.Contains(v, "**") {
		return []string{v}
	}
	dir := base
	pattern := v
	if strings.HasPrefix(v, "/") {
		dir, pattern = "/", strings.TrimPrefix(v, "/")
	} else if strings.HasPrefix(v, "~/") {
		dir, pattern = ev.e.res.Home, v[2:]
	}
	out := []string{v}
	n := 0
	err := doublestar.GlobWalk(os.DirFS(dir), pattern, func(p string, _ fs.DirEntry) error {
		n++
		if n > maxGlobMatches {
			return errTooMany
		}
		out = append(out, filepath.Join(dir, p))
		return nil
	}, doublestar.WithFailOnIOErrors())
	if errors.Is(err, errTooMany) && ev.broad == "" {
		ev.broad = fmt.Sprintf("Command word %q matches more than %d files; name the files instead", v, maxGlobMatches)
	}
	return out
}

func regexHit(r regexRule, input map[string]any) (string, bool) {
	if r.field != "" {
		v, ok := input[r.field]
		if !ok {
			return "", false
		}
		return walkStrings(r.field, v, 0, r.re.MatchString)
	}
	for k, v := range input {
		if key, ok := walkStrings(k, v, 0, r.re.MatchString); ok {
			return key, true
		}
	}
	return "", false
}

// walkStrings applies match to every string in v, to a bounded depth.
func walkStrings(key string, v any, depth int, match func(string) bool) (string, bool) {
	if depth > 32 {
		return key, true // too deep to inspect: fail closed
	}
	switch t := v.(type) {
	case string:
		return key, match(t)
	case []any:
		for i, x := range t {
			if k, ok := walkStrings(fmt.Sprintf("%s[%d]", key, i), x, depth+1, match); ok {
				return k, true
			}
		}
	case map[string]any:
		for k, x := range t {
			if kk, ok := walkStrings(key+"."+k, x, depth+1, match); ok {
				return kk, true
			}
		}
	}
	return "", false
}

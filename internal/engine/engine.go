package engine

import (
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/wardenhq/warden/internal/cond"
	"github.com/wardenhq/warden/internal/pathscope"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/shellcmd"
	"github.com/wardenhq/warden/internal/urlscope"
)

// Options configure an Engine.
type Options struct {
	// Root is the project root that relative paths and globs are resolved
	// against; the current directory when empty.
	Root string
	// Home is the directory "~" stands for; the user's home when empty.
	Home string
	// LookPath finds a program on PATH, for binaries listed by absolute
	// path; exec.LookPath when nil.
	LookPath func(string) (string, error)
	// Protected are files and directories no action may touch, whatever
	// the policy allows: Warden's own state (its database, signing key,
	// tokens and backups). A path at or inside one is denied as a
	// forbidden path is, by the rule "protected".
	Protected []string
}

// Engine is a compiled policy. It is safe for concurrent use.
type Engine struct {
	policy   *policy.Policy
	res      *pathscope.Resolver
	lookPath func(string) (string, error)
	tools    map[string]toolSpec
	caps     map[string][]*capability
	gates    map[string][]*gate
	forbid   forbidden
	// protected are Options.Protected, cleaned; their path rules follow
	// the policy's forbidden rules.
	protected []string
	// hasWhen: some condition may read the session's runtime, so
	// evaluations need the time.
	hasWhen bool
}

type capability struct {
	index    int
	rule     string // "capabilities[i]"
	tool     string
	when     *cond.Program
	scope    *policy.Scope
	paths    []*pathscope.Glob
	repos    []*pathscope.Glob
	cwd      []*pathscope.Glob
	binNames []string
	binPaths []string
	domains  *urlscope.Allowlist
	hosts    *urlscope.Allowlist
}

type gate struct {
	index   int
	rule    string // "gates[i]"
	def     *policy.Gate
	when    *cond.Program
	methods []string
}

// New compiles p for the project root in opts.
func New(p *policy.Policy, opts Options) (*Engine, error) {
	res, err := pathscope.NewResolver(opts.Root, opts.Home)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		policy:   p,
		res:      res,
		lookPath: opts.LookPath,
		tools:    buildTools(p),
		caps:     map[string][]*capability{},
		gates:    map[string][]*gate{},
	}
	if e.lookPath == nil {
		e.lookPath = exec.LookPath
	}
	for _, dir := range opts.Protected {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("protected path %s: %w", dir, err)
		}
		if phys, err := filepath.EvalSymlinks(abs); err == nil {
			abs = phys
		}
		e.protected = append(e.protected, filepath.Clean(abs))
	}
	for i := range p.Capabilities {
		c, err := e.compileCapability(i, &p.Capabilities[i])
		if err != nil {
			return nil, fmt.Errorf("capabilities[%d]: %w", i, err)
		}
		e.caps[c.tool] = append(e.caps[c.tool], c)
		e.hasWhen = e.hasWhen || c.when != nil
	}
	for i := range p.Gates {
		g := &gate{index: i, rule: fmt.Sprintf("gates[%d]", i), def: &p.Gates[i]}
		if g.def.When != "" {
			if g.when, err = cond.Compile(g.def.When); err != nil {
				return nil, fmt.Errorf("gates[%d].when: %w", i, err)
			}
		}
		if c := g.def.Condition; c != "" && c != policy.OutsideScope {
			g.methods, _ = policy.ConditionMethods(c)
		}
		e.gates[g.def.Action] = append(e.gates[g.def.Action], g)
		e.hasWhen = e.hasWhen || g.when != nil
	}
	if err := e.compileForbidden(); err != nil {
		return nil, err
	}
	return e, nil
}

// Policy returns the policy the engine was compiled from.
func (e *Engine) Policy() *policy.Policy { return e.policy }

// Root returns the physical project root.
func (e *Engine) Root() string { return e.res.Root }

func (e *Engine) compileCapability(i int, c *policy.Capability) (*capability, error) {
	out := &capability{index: i, rule: fmt.Sprintf("capabilities[%d]", i), tool: c.Tool, scope: &c.Scope}
	var err error
	if c.When != "" {
		if out.when, err = cond.Compile(c.When); err != nil {
			return nil, fmt.Errorf("when: %w", err)
		}
	}
	globs := func(list []string, field string) ([]*pathscope.Glob, error) {
		if list == nil {
			return nil, nil
		}
		gs := make([]*pathscope.Glob, 0, len(list))
		for j, g := range list {
			cg, err := e.res.Compile(g, e.res.Fold)
			if err != nil {
				return nil, fmt.Errorf("scope.%s[%d]: %w", field, j, err)
			}
			gs = append(gs, cg)
		}
		return gs, nil
	}
	if out.paths, err = globs(c.Scope.Paths, "paths"); err != nil {
		return nil, err
	}
	if out.repos, err = globs(c.Scope.Repos, "repos"); err != nil {
		return nil, err
	}
	if out.cwd, err = globs(c.Scope.Cwd, "cwd"); err != nil {
		return nil, err
	}
	for _, b := range c.Scope.Binaries {
		if strings.HasPrefix(b, "/") {
			phys, err := e.res.Resolve(b, "")
			if err != nil {
				return nil, fmt.Errorf("scope.binaries: %w", err)
			}
			out.binPaths = append(out.binPaths, phys.Physical)
		} else {
			out.binNames = append(out.binNames, b)
		}
	}
	if c.Scope.Domains != nil {
		if out.domains, err = urlscope.NewAllowlist(c.Scope.Domains); err != nil {
			return nil, fmt.Errorf("scope.domains: %w", err)
		}
	}
	if c.Scope.Hosts != nil {
		if out.hosts, err = urlscope.NewAllowlist(c.Scope.Hosts); err != nil {
			return nil, fmt.Errorf("scope.hosts: %w", err)
		}
	}
	return out, nil
}

// forbidden holds the compiled forbidden rules, indexed so that checking
// stays cheap as the list grows.
type forbidden struct {
	// paths: forbidden globs over resolved paths; pathRule maps an index
	// id to its rule.
	paths    *pathscope.Index
	pathRule []int
	// commands: patterns over parsed command lines, by command name.
	cmds      []cmdRule
	cmdByName map[string][]int
	cmdAny    []int
	urls      []urlRule
	regexes   []regexRule
}

type cmdRule struct {
	rule int
	pat  *shellcmd.Pattern
}

type urlRule struct {
	rule int
	glob *urlscope.Glob
}

type regexRule struct {
	rule  int
	re    *regexp.Regexp
	field string
}

func (e *Engine) compileForbidden() error {
	// Forbidden globs ignore case everywhere: a rule that a change of case
	// could dodge on some file system would be no rule.
	f := &e.forbid
	f.paths = pathscope.NewIndex(true)
	f.cmdByName = map[string][]int{}
	addPath := func(i int, g string) error {
		cg, err := e.res.CompileTree(g, true)
		if err != nil {
			return fmt.Errorf("forbidden[%d]: %w", i, err)
		}
		f.paths.Add(cg)
		f.pathRule = append(f.pathRule, i)
		return nil
	}
	addCmd := func(i int, p string) error {
		pat, err := shellcmd.CompilePattern(p)
		if err != nil {
			return fmt.Errorf("forbidden[%d]: %w", i, err)
		}
		id := len(f.cmds)
		f.cmds = append(f.cmds, cmdRule{rule: i, pat: pat})
		names := pat.Names()
		if names == nil {
			f.cmdAny = append(f.cmdAny, id)
		}
		// Patterns match command names ignoring case (some file systems
		// run RM as rm), so the index folds case too.
		for _, n := range names {
			n = strings.ToLower(n)
			f.cmdByName[n] = append(f.cmdByName[n], id)
		}
		return nil
	}
	addURL := func(i int, p string) error {
		g, err := urlscope.CompileGlob(p)
		if err != nil {
			return fmt.Errorf("forbidden[%d]: %w", i, err)
		}
		f.urls = append(f.urls, urlRule{rule: i, glob: g})
		return nil
	}
	for i, r := range e.policy.Forbidden {
		var err error
		switch {
		case r.Path != "":
			err = addPath(i, r.Path)
		case r.Command != "":
			err = addCmd(i, r.Command)
		case r.URL != "":
			err = addURL(i, r.URL)
		case r.Regex != "":
			var re *regexp.Regexp
			if re, err = regexp.Compile(r.Regex); err == nil {
				f.regexes = append(f.regexes, regexRule{rule: i, re: re, field: r.Field})
			}
		case r.Pattern != "":
			// An untyped pattern applies to every role it is valid for.
			valid := 0
			if doublestar.ValidatePattern(r.Pattern) && addPath(i, r.Pattern) == nil {
				valid++
			}
			if addCmd(i, r.Pattern) == nil {
				valid++
			}
			if looksLikeURLPattern(r.Pattern) && addURL(i, r.Pattern) == nil {
				valid++
			}
			if valid == 0 {
				err = fmt.Errorf("forbidden[%d]: pattern %q is not a valid glob or command pattern", i, r.Pattern)
			}
		}
		if err != nil {
			return err
		}
	}
	for k, dir := range e.protected {
		if err := addPath(len(e.policy.Forbidden)+k, pathscope.Escape(dir)); err != nil {
			return fmt.Errorf("protected path %s: %w", dir, err)
		}
	}
	return nil
}

// protectedDir returns the protected path a forbidden path rule stands
// for, if it is one.
func (e *Engine) protectedDir(rule int) (string, bool) {
	if k := rule - len(e.policy.Forbidden); k >= 0 && k < len(e.protected) {
		return e.protected[k], true
	}
	return "", false
}

// looksLikeURLPattern reports whether an untyped pattern could be meant for
// URLs: it names a scheme or a host-like first segment.
func looksLikeURLPattern(p string) bool {
	if strings.Contains(p, "://") {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "*."), "/")
	return strings.Contains(first, ".") && !strings.ContainsAny(first, " *?[{") && !strings.HasPrefix(p, ".") && path.Ext(first) != first
}

// capsFor returns the capabilities that could grant an action: those for
// the raw tool name first, then those for its action kind.
func (e *Engine) capsFor(tool, kind string) []*capability {
	raw := e.caps[tool]
	if kind == tool {
		return raw
	}
	return slices.Concat(raw, e.caps[kind])
}

// gatesFor returns the gates for the raw tool name and its kind, in policy
// order.
func (e *Engine) gatesFor(tool, kind string) []*gate {
	raw := e.gates[tool]
	if kind == tool || len(e.gates[kind]) == 0 {
		return raw
	}
	if len(raw) == 0 {
		return e.gates[kind]
	}
	all := slices.Concat(raw, e.gates[kind])
	slices.SortFunc(all, func(a, b *gate) int { return a.index - b.index })
	return all
}

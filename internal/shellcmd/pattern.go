package shellcmd

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxPatternLen is the longest pattern CompilePattern accepts, in bytes.
const maxPatternLen = 4 << 10

// Pattern is a compiled forbidden-command pattern.
type Pattern struct {
	src    string
	kind   patKind
	stages []cmdPattern // one for a command pattern, ≥2 for a pipeline
	word   string       // single-word pattern
	lower  string       // substring pattern, lower-cased
	names  []string
}

type patKind uint8

const (
	patSubstring patKind = iota
	patWord
	patCommand
	patPipeline
)

// cmdPattern is one simple command of a pattern.
type cmdPattern struct {
	name  string   // lower-cased base name, or the cleaned path if path is set
	path  bool     // the pattern named the command by path
	alts  []string // other base names that count as name
	git   bool     // git: the first operand requirement is the subcommand
	sub   string   // required git subcommand, or ""
	whole bool     // single-dash options are whole words (find -delete)
	reqs  []req
}

// req is one requirement on a command's arguments: a flag, given by the
// spellings that satisfy it, or an operand.
type req struct {
	operand bool
	word    string   // operand, path-cleaned
	raw     string   // the pattern word as written
	short   string   // short-flag letters that satisfy it
	long    []string // long-flag names (no --) that satisfy it, prefixes accepted
	whole   []string // whole words that satisfy it (-delete, -KILL)
	plus    bool     // git push: a +refspec operand satisfies it
	abbrev  bool     // npm: an operand of ≥2 letters that begins the word satisfies it
}

// CompilePattern compiles a forbidden-command pattern. A pattern that parses
// into one simple command of literal words is a command pattern, into a
// pipeline of them a pipeline pattern; a single word is a single-word
// pattern; anything else is a substring pattern. It fails on an empty
// pattern, a NUL byte and a pattern over 4 KiB.
func CompilePattern(p string) (*Pattern, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return nil, errors.New("empty pattern")
	case strings.IndexByte(p, 0) >= 0:
		return nil, errors.New("NUL byte in pattern")
	case len(p) > maxPatternLen:
		return nil, fmt.Errorf("pattern is %d bytes, over the limit of %d", len(p), maxPatternLen)
	}
	pat := &Pattern{src: p, kind: patSubstring, lower: strings.ToLower(p)}
	l, err := Parse(p)
	if err != nil {
		return pat, nil
	}
	top, ok := patternCommands(l)
	switch {
	case !ok || top[0].Name.Value == "":
	case len(top) == 1 && len(top[0].Args) == 0:
		pat.kind, pat.word = patWord, top[0].Name.Value
	case len(top) == 1:
		pat.kind = patCommand
		pat.stages = []cmdPattern{compileCommand(top[0], false)}
	case len(top) > 64:
		// More stages than matchPipeline tracks: keep it a substring.
	default:
		pat.kind = patPipeline
		for _, c := range top {
			pat.stages = append(pat.stages, compileCommand(c, true))
		}
	}
	for _, st := range pat.stages {
		pat.names = append(pat.names, baseName(st.name))
		pat.names = append(pat.names, st.alts...)
	}
	slices.Sort(pat.names)
	pat.names = slices.Compact(pat.names)
	return pat, nil
}

// patternCommands returns the top-level commands of a pattern line if it is
// one simple command, or one pipeline of simple commands, of literal words.
func patternCommands(l *Line) ([]Command, bool) {
	var top []Command
	for _, c := range l.Commands {
		if c.Parent >= 0 {
			continue // run by a wrapper in the pattern; the wrapper's words count
		}
		if c.Depth != 0 || c.Kind == Assignment || len(c.Assigns) > 0 || len(c.Redirects) > 0 || c.Name.Dynamic {
			return nil, false
		}
		for _, a := range c.Args {
			if a.Dynamic {
				return nil, false
			}
		}
		top = append(top, c)
	}
	if len(top) == 1 {
		return top, top[0].Pipeline == 0
	}
	for i, c := range top {
		if c.Pipeline == 0 || c.Pipeline != top[0].Pipeline || c.Stage != i {
			return nil, false
		}
	}
	return top, len(top) > 1
}

// flagGroup lists spellings of one flag; also lists flags that imply it
// without being implied by it (cp -a implies -R).
type flagGroup struct {
	eq, also []string
}

// flagTables are the built-in flag equivalences, by command base name.
var flagTables = map[string][]flagGroup{
	"rm":    {{eq: []string{"-r", "-R", "--recursive"}}, {eq: []string{"-f", "--force"}}, {eq: []string{"-d", "--dir"}}},
	"cp":    {{eq: []string{"-r", "-R", "--recursive"}, also: []string{"-a", "--archive"}}, {eq: []string{"-f", "--force"}}},
	"mv":    {{eq: []string{"-f", "--force"}}},
	"chmod": {{eq: []string{"-R", "-r", "--recursive"}}},
	"chown": {{eq: []string{"-R", "-r", "--recursive"}}},
	"chgrp": {{eq: []string{"-R", "-r", "--recursive"}}},
	"sed":   {{eq: []string{"-i", "--in-place"}}},
	"curl": {{eq: []string{"-X", "--request"}}, {eq: []string{"-F", "--form", "--form-string"}},
		{eq: []string{"-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--data-ascii", "--json"}},
		{eq: []string{"-T", "--upload-file"}}, {eq: []string{"-k", "--insecure"}}, {eq: []string{"-o", "--output"}}},
	"wget": {{eq: []string{"-O", "--output-document"}}, {eq: []string{"--post-data", "--post-file"}}},
	"kill": {{eq: []string{"-9", "-KILL", "-SIGKILL", "-kill", "-sigkill"}}},
}

// gitTables are the flag equivalences of git subcommands.
var gitTables = map[string][]flagGroup{
	"push":     {{eq: []string{"-f", "--force", "--force-with-lease", "--force-if-includes"}, also: []string{"--mirror"}}, {eq: []string{"-d", "--delete"}}},
	"clean":    {{eq: []string{"-f", "--force"}}},
	"checkout": {{eq: []string{"-f", "--force"}}},
	"switch":   {{eq: []string{"-f", "--force", "--discard-changes"}}},
	"commit":   {{eq: []string{"-n", "--no-verify"}}},
	"branch":   {{eq: []string{"-d", "--delete"}, also: []string{"-D"}}, {eq: []string{"-f", "--force"}, also: []string{"-D"}}},
}

// expands lists pattern flags that stand for several (git branch -D is
// --delete --force).
var expands = map[string]map[string][]string{
	"git branch": {"-D": {"-d", "-f"}},
}

// wholeWordCommands take single-dash options that are whole words.
var wholeWordCommands = map[string]bool{"find": true, "kill": true}

// packageManagers are equivalent names for their publish subcommand.
var packageManagers = []string{"npm", "pnpm", "yarn", "bun"}

// downloaders are equivalent names in a pipeline pattern whose stage has
// no other requirement (curl | sh also catches wget -O- x | sh).
var downloaders = []string{"curl", "wget"}

// compileCommand builds the pattern of one simple command.
func compileCommand(c Command, inPipeline bool) cmdPattern {
	name := c.Name.Value
	base := strings.ToLower(baseName(name))
	cp := cmdPattern{name: strings.ToLower(name)}
	if strings.Contains(name, "/") {
		cp.path, cp.name = true, path.Clean(name)
	}
	if _, ok := shells[base]; ok {
		for s := range shells {
			if s != base {
				cp.alts = append(cp.alts, s)
			}
		}
		slices.Sort(cp.alts)
	}
	table, key := flagTables[base], base
	cp.whole = wholeWordCommands[base]
	args := c.Args
	if base == "git" {
		cp.git = true
		if i, _ := gitSubcommand(args); i < len(args) {
			cp.sub = args[i].Value
			args = args[i+1:]
			table, key = gitTables[cp.sub], "git "+cp.sub
		} else {
			args = nil
		}
	}
	endOpts := false
	for _, a := range args {
		v := a.Value
		switch {
		case endOpts || v == "-" || !strings.HasPrefix(v, "-"):
			r := req{operand: true, word: cleanOperand(v), raw: v}
			if base == "npm" && v == "publish" {
				r.abbrev = true
			}
			cp.reqs = append(cp.reqs, r)
		case v == "--":
			endOpts = true
		case cp.whole:
			cp.reqs = append(cp.reqs, flagReq(v, table, true))
		case strings.HasPrefix(v, "--"):
			n, _, _ := strings.Cut(v, "=")
			cp.reqs = append(cp.reqs, flagReq(n, table, false))
		default:
			for _, f := range expandFlags(key, v) {
				cp.reqs = append(cp.reqs, flagReq(f, table, false))
			}
		}
	}
	if slices.Contains(packageManagers, base) && slices.ContainsFunc(cp.reqs, func(r req) bool { return r.operand && r.word == "publish" }) {
		for _, m := range packageManagers {
			if m != base {
				cp.alts = append(cp.alts, m)
			}
		}
	}
	if inPipeline && len(cp.reqs) == 0 && slices.Contains(downloaders, base) {
		for _, d := range downloaders {
			if d != base {
				cp.alts = append(cp.alts, d)
			}
		}
	}
	if cp.git && cp.sub == "push" {
		for i := range cp.reqs {
			if slices.Contains(cp.reqs[i].long, "force") {
				cp.reqs[i].plus = true
			}
		}
	}
	return cp
}

// expandFlags splits a short-flag cluster into single flags, expanding
// flags that stand for several.
func expandFlags(key, cluster string) []string {
	var out []string
	for _, r := range cluster[1:] {
		f := "-" + string(r)
		if more, ok := expands[key][f]; ok {
			out = append(out, more...)
		} else {
			out = append(out, f)
		}
	}
	return out
}

// flagReq builds the requirement for one flag spelling.
func flagReq(flag string, table []flagGroup, whole bool) req {
	spellings := []string{flag}
	for _, g := range table {
		if slices.Contains(g.eq, flag) {
			spellings = append(append([]string(nil), g.eq...), g.also...)
			break
		}
	}
	r := req{raw: flag}
	for _, s := range spellings {
		switch {
		case strings.HasPrefix(s, "--"):
			r.long = append(r.long, s[2:])
		case whole || len(s) != 2:
			r.whole = append(r.whole, s)
		default:
			r.short += s[1:]
		}
	}
	return r
}

// cleanOperand normalises a path-like operand (// and /./ are /).
func cleanOperand(v string) string {
	if v == "" || !strings.ContainsAny(v, "/.") {
		return v
	}
	return path.Clean(v)
}

// Match reports whether any command of l matches, and the index of the
// first matching command: for a pipeline pattern, of its first stage; for a
// substring found only in l.Source, 0 (-1 if l lists no command). at is -1
// when nothing matches.
func (p *Pattern) Match(l *Line) (matched bool, at int) {
	if p == nil || l == nil {
		return false, -1
	}
	switch p.kind {
	case patCommand:
		for i := range l.Commands {
			if p.stages[0].match(&l.Commands[i]) {
				return true, i
			}
		}
	case patPipeline:
		return p.matchPipeline(l)
	case patWord:
		for i := range l.Commands {
			if p.matchWord(&l.Commands[i]) {
				return true, i
			}
		}
	case patSubstring:
		for i := range l.Commands {
			if p.matchSubstring(&l.Commands[i]) {
				return true, i
			}
		}
		if containsFold(l.Source, p.lower) {
			if len(l.Commands) == 0 {
				return true, -1
			}
			return true, 0
		}
	}
	return false, -1
}

// matchPipeline finds a pipeline with stages matching the pattern's stages
// in order, not necessarily adjacent. It looks at each command once.
func (p *Pattern) matchPipeline(l *Line) (bool, int) {
	type cand struct {
		pipe, stage, idx int
		mask             uint64 // pattern stages the command matches
	}
	var buf [16]cand
	cands := buf[:0]
	for i := range l.Commands {
		c := &l.Commands[i]
		if c.Pipeline <= 0 {
			continue
		}
		var mask uint64
		for k := range p.stages {
			if p.stages[k].match(c) {
				mask |= 1 << k
			}
		}
		if mask != 0 {
			cands = append(cands, cand{c.Pipeline, c.Stage, i, mask})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.pipe != b.pipe {
			return a.pipe - b.pipe
		}
		return a.stage - b.stage
	})
	for i := 0; i < len(cands); {
		j := i
		for j < len(cands) && cands[j].pipe == cands[i].pipe {
			j++
		}
		// Taking the earliest stage for each pattern stage is optimal.
		k, prev, first := 0, -1, -1
		for _, c := range cands[i:j] {
			if k < len(p.stages) && c.stage > prev && c.mask&(1<<k) != 0 {
				if k == 0 {
					first = c.idx
				}
				k, prev = k+1, c.stage
			}
		}
		if k == len(p.stages) {
			return true, first
		}
		i = j
	}
	return false, -1
}

func (p *Pattern) matchWord(c *Command) bool {
	if c.Kind != Assignment || c.Name.Value != "" {
		if nameMatches(c.Name, strings.ToLower(p.word), strings.Contains(p.word, "/"), nil) {
			return true
		}
	}
	for _, a := range c.Args {
		if a.exact() && a.Value == p.word {
			return true
		}
	}
	for _, a := range c.Assigns {
		if a.Value.exact() && a.Value.Value == p.word {
			return true
		}
	}
	return false
}

func (p *Pattern) matchSubstring(c *Command) bool {
	if containsFold(c.Name.Value, p.lower) {
		return true
	}
	for _, a := range c.Args {
		if containsFold(a.Value, p.lower) {
			return true
		}
	}
	for _, a := range c.Assigns {
		if containsFold(a.Name+"="+a.Value.Value, p.lower) {
			return true
		}
	}
	for _, r := range c.Redirects {
		if containsFold(r.Target.Value, p.lower) {
			return true
		}
	}
	return false
}

// nameMatches reports whether a command name may be the pattern name: by
// base name (or path, for a pattern naming a path), ignoring case since
// macOS finds /BIN/RM. A name known only at run time may be any name.
func nameMatches(n Word, name string, byPath bool, alts []string) bool {
	if n.Dynamic {
		return true
	}
	v := n.Value
	if n.Glob {
		lv := strings.ToLower(v)
		if byPath {
			ok, err := path.Match(lv, strings.ToLower(name))
			return ok || err != nil
		}
		lb := baseName(lv)
		for _, cand := range append([]string{name}, alts...) {
			if ok, err := path.Match(lb, cand); ok || err != nil {
				return true
			}
		}
		return false
	}
	if byPath {
		return strings.EqualFold(path.Clean(v), name)
	}
	b := baseName(v)
	if strings.EqualFold(b, name) {
		return true
	}
	for _, a := range alts {
		if strings.EqualFold(b, a) {
			return true
		}
	}
	return false
}

// match reports whether c matches the command pattern.
func (cp *cmdPattern) match(c *Command) bool {
	if c.Kind == Assignment && c.Name.Value == "" {
		return false
	}
	if !nameMatches(c.Name, cp.name, cp.path, cp.alts) {
		return false
	}
	args := c.Args
	if cp.git && cp.sub != "" && !c.Name.Dynamic {
		i, ok := gitSubcommand(args)
		switch {
		case !ok:
			args = args[i:] // a word there may be the subcommand and more
		case i >= len(args):
			return false
		case args[i].Value == cp.sub:
			args = args[i+1:]
		default:
			return false
		}
	}
	for k := range cp.reqs {
		if !cp.reqs[k].satisfied(args, c.Name, cp.whole) {
			return false
		}
	}
	return true
}

// satisfied reports whether args, or a name known only at run time, may
// meet the requirement.
func (r *req) satisfied(args []Word, name Word, whole bool) bool {
	if name.Dynamic && r.covers(name, false) {
		return true
	}
	endOpts := false
	for _, a := range args {
		if a.Dynamic || a.Glob {
			if r.covers(a, endOpts) {
				return true
			}
			continue
		}
		v := a.Value
		if !endOpts && v == "--" {
			endOpts = true
			continue
		}
		isFlag := !endOpts && len(v) > 1 && v[0] == '-'
		if r.operand {
			if !isFlag {
				if r.operandIs(v) {
					return true
				}
			} else if _, val, ok := strings.Cut(v, "="); ok && strings.HasPrefix(v, "--") && r.operandIs(val) {
				return true // --request=POST
			}
			continue
		}
		if !isFlag {
			if r.plus && len(v) > 1 && v[0] == '+' {
				return true
			}
			continue
		}
		if r.flagIs(v, whole) {
			return true
		}
	}
	return false
}

func (r *req) operandIs(v string) bool {
	if cleanOperand(v) == r.word {
		return true
	}
	return r.abbrev && len(v) >= 2 && strings.HasPrefix(r.word, v)
}

// flagIs reports whether the option word v gives the flag.
func (r *req) flagIs(v string, whole bool) bool {
	if strings.HasPrefix(v, "--") {
		n, _, _ := strings.Cut(v[2:], "=")
		if n == "" {
			return false
		}
		for _, l := range r.long {
			if strings.HasPrefix(l, n) {
				return true // GNU tools accept unambiguous prefixes
			}
		}
		return false
	}
	if whole {
		return slices.Contains(r.whole, v) || len(v) == 2 && strings.IndexByte(r.short, v[1]) >= 0
	}
	if slices.Contains(r.whole, v) {
		return true
	}
	for i := 1; i < len(v); i++ {
		if strings.IndexByte(r.short, v[i]) >= 0 {
			return true
		}
	}
	return false
}

// covers reports whether a word known only at run time may meet the
// requirement. A word that splits or globs may become several words, so it
// may meet any number of requirements.
func (r *req) covers(a Word, endOpts bool) bool {
	if a.Glob && !a.Dynamic {
		g := a.Value
		if r.operand {
			return globMatch(g, r.word) || globMatch(g, r.raw) || globDir(g) == r.word
		}
		if endOpts {
			return false
		}
		for _, s := range r.spellings() {
			if globMatch(g, s) {
				return true
			}
		}
		return false
	}
	p := a.literalPrefix()
	if r.operand {
		return a.splits() || p == "" || strings.Contains(p, "/") ||
			strings.HasPrefix(r.word, p) || strings.HasPrefix(r.raw, p)
	}
	return !endOpts && (a.splits() || p == "" || p[0] == '-')
}

// spellings lists the words that give a flag requirement.
func (r *req) spellings() []string {
	out := append([]string(nil), r.whole...)
	for i := 0; i < len(r.short); i++ {
		out = append(out, "-"+r.short[i:i+1])
	}
	for _, l := range r.long {
		out = append(out, "--"+l)
	}
	return out
}

// globMatch reports whether glob g may expand to s; a malformed glob may.
func globMatch(g, s string) bool {
	ok, err := path.Match(g, s)
	return ok || err != nil
}

// globDir returns the directory a glob lists (/* lists /), cleaned.
func globDir(g string) string {
	i := strings.IndexAny(g, "*?[")
	if i < 0 {
		return ""
	}
	j := strings.LastIndexByte(g[:i], '/')
	switch {
	case j < 0:
		return "."
	case j == 0:
		return "/"
	}
	return path.Clean(g[:j])
}

// Names returns the command base names whose presence could make the
// pattern match, for indexing patterns; nil if the pattern can match any
// command (single-word and substring patterns). A command whose Name is
// Dynamic or Glob may match any command or pipeline pattern, so an index
// must also try every pattern on such a command.
func (p *Pattern) Names() []string {
	if p == nil || len(p.names) == 0 {
		return nil
	}
	return slices.Clone(p.names)
}

// String returns the pattern as written.
func (p *Pattern) String() string {
	if p == nil {
		return ""
	}
	return p.src
}

// containsFold reports whether s contains the lower-cased sub, ignoring
// case, without allocating for ASCII text.
func containsFold(s, sub string) bool {
	if !isASCII(sub) || !isASCII(s) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && lowerASCII(s[i+j]) == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

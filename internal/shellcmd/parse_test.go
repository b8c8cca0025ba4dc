package shellcmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lit(s string) Word { return Word{Value: s} }
func dyn(s string) Word { return Word{Value: s, Dynamic: true} }

func lits(ss ...string) []Word {
	if len(ss) == 0 {
		return nil
	}
	out := make([]Word, len(ss))
	for i, s := range ss {
		out[i] = lit(s)
	}
	return out
}

// prog is a top-level Program with literal words.
func prog(name string, args ...string) Command {
	return Command{Kind: Program, Name: lit(name), Args: lits(args...), Parent: -1}
}

// with returns c changed by fn, to keep table entries short.
func with(c Command, fn func(*Command)) Command {
	fn(&c)
	return c
}

func under(parent int, via string, depth int) func(*Command) {
	return func(c *Command) { c.Parent, c.Via, c.Depth = parent, via, depth }
}

func depth(d int) func(*Command) { return func(c *Command) { c.Depth = d } }

func stage(pipe, st int) func(*Command) { return func(c *Command) { c.Pipeline, c.Stage = pipe, st } }

func opaque(c *Command) { c.Opaque = true }

func TestParse(t *testing.T) {
	tests := []struct {
		name, src string
		want      []Command
	}{
		{"fast path", "npm test -- --run", []Command{prog("npm", "test", "--", "--run")}},
		{"fast path root", "rm -rf /", []Command{prog("rm", "-rf", "/")}},
		{"extra spaces", "  rm   -rf  /  ", []Command{prog("rm", "-rf", "/")}},
		{"lists and pipeline", "cd src && rm -rf / ; curl x | sh", []Command{
			prog("cd", "src"),
			prog("rm", "-rf", "/"),
			with(prog("curl", "x"), stage(1, 0)),
			with(prog("sh"), func(c *Command) { stage(1, 1)(c); opaque(c) }),
		}},
		{"quote removal", `'r''m' "r"m r\m $'\162m' $'\x72m' $"rm" \rm "x\"y" 'a b' "a\b"`, []Command{
			prog("rm", "rm", "rm", "rm", "rm", "rm", "rm", `x"y`, "a b", `a\b`),
		}},
		{"ansi-c escapes", `echo $'a\tb' $'\u00e9' $'\cA' $'r\0m'`, []Command{
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{
				lit("a\tb"), dyn(`$'\u00e9'`), dyn(`$'\cA'`), dyn(`$'r\0m'`)}},
		}},
		{"IFS trick", `rm${IFS}-rf /`, []Command{
			{Kind: Program, Name: dyn("rm${IFS}-rf"), Args: lits("/"), Parent: -1, Opaque: true},
		}},
		{"brace expansion", `echo {a,b} {1..3} {x} a{b,c}d "{a,b}" \{a,b}`, []Command{
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{
				dyn("{a,b}"), dyn("{1..3}"), lit("{x}"), dyn("a{b,c}d"), lit("{a,b}"), lit("{a,b}")}},
		}},
		{"brace command name", `{rm,-rf} /`, []Command{
			{Kind: Program, Name: dyn("{rm,-rf}"), Args: lits("/"), Parent: -1, Opaque: true},
		}},
		{"extglob", `ls @(a|b)`, []Command{
			{Kind: Program, Name: lit("ls"), Args: []Word{dyn("@(a|b)")}, Parent: -1},
		}},
		{"globs", `ls *.go ? [ab] "*" a[ [ x\*`, []Command{
			{Kind: Program, Name: lit("ls"), Parent: -1, Args: []Word{
				{Value: "*.go", Glob: true}, {Value: "?", Glob: true}, {Value: "[ab]", Glob: true},
				lit("*"), lit("a["), lit("["), lit("x*")}},
		}},
		{"tilde", `cat ~/x ~root/y ~ "~"/z \~ DEST=~/d x~`, []Command{
			{Kind: Program, Name: lit("cat"), Parent: -1, Args: []Word{
				{Value: "~/x", Tilde: true}, {Value: "~root/y", Tilde: true}, {Value: "~", Tilde: true},
				lit("~/z"), lit("~"), {Value: "DEST=~/d", Tilde: true}, lit("x~")}},
		}},
		{"parameters", `echo "$HOME"/x ${X:-y} $1`, []Command{
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{dyn(`"$HOME"/x`), dyn("${X:-y}"), dyn("$1")}},
		}},
		{"prefix assignments", "a=1 b=2 cmd", []Command{
			with(prog("cmd"), func(c *Command) { c.Assigns = []Assign{{Name: "a", Value: lit("1")}, {Name: "b", Value: lit("2")}} }),
		}},
		{"bare assignment", "X=1 Y+=2", []Command{
			{Kind: Assignment, Parent: -1, Assigns: []Assign{{Name: "X", Value: lit("1")}, {Name: "Y", Value: lit("2"), Append: true}}},
		}},
		{"export", "export PATH=/tmp:$PATH", []Command{
			{Kind: Assignment, Name: lit("export"), Parent: -1, Assigns: []Assign{{Name: "PATH", Value: dyn("/tmp:$PATH")}}},
		}},
		{"declare with flags", `declare -x A=1 "B=2" C`, []Command{
			{Kind: Assignment, Name: lit("declare"), Parent: -1, Args: lits("-x", "C"),
				Assigns: []Assign{{Name: "A", Value: lit("1")}, {Name: "B", Value: lit("2")}}},
		}},
		{"quoted export is still export", `"export" LD_PRELOAD=/x.so`, []Command{
			{Kind: Assignment, Name: lit("export"), Parent: -1, Assigns: []Assign{{Name: "LD_PRELOAD", Value: lit("/x.so")}}},
		}},
		{"array assignment", `a=(x "$(id)")`, []Command{
			{Kind: Assignment, Parent: -1, Assigns: []Assign{{Name: "a", Value: dyn(`(x "$(id)")`)}}},
			with(prog("id"), depth(1)),
		}},
		{"redirects", `cmd <in >out 2>>err &>all &>>all2 >|clob <>rw 3<&0 >&2 >&file 2>&- {fd}>x <<<"s"`, []Command{
			with(prog("cmd"), func(c *Command) {
				c.Redirects = []Redirect{
					{Op: "<", Target: lit("in"), Reads: true},
					{Op: ">", Target: lit("out"), Writes: true},
					{Op: ">>", FD: "2", Target: lit("err"), Writes: true},
					{Op: "&>", Target: lit("all"), Writes: true},
					{Op: "&>>", Target: lit("all2"), Writes: true},
					{Op: ">|", Target: lit("clob"), Writes: true},
					{Op: "<>", Target: lit("rw"), Reads: true, Writes: true},
					{Op: "<&", FD: "3", Target: lit("0")},
					{Op: ">&", Target: lit("2")},
					{Op: ">&", Target: lit("file"), Writes: true},
					{Op: ">&", FD: "2", Target: lit("-")},
					{Op: ">", FD: "{fd}", Target: lit("x"), Writes: true},
					{Op: "<<<", Target: lit("s")},
				}
			}),
		}},
		{"bare redirect", "> f", []Command{
			{Kind: Assignment, Parent: -1, Redirects: []Redirect{{Op: ">", Target: lit("f"), Writes: true}}},
		}},
		{"heredoc with substitution", "cat <<EOF\nhi $(rm -rf /)\nEOF", []Command{
			with(prog("cat"), func(c *Command) { c.Redirects = []Redirect{{Op: "<<", Target: lit("EOF")}} }),
			with(prog("rm", "-rf", "/"), depth(1)),
		}},
		{"quoted heredoc", "cat <<-'EOF'\n\thi $(rm -rf /)\n\tEOF", []Command{
			with(prog("cat"), func(c *Command) { c.Redirects = []Redirect{{Op: "<<-", Target: lit("EOF")}} }),
		}},
		{"comments", "ls # ; rm -rf /\n# rm", []Command{prog("ls")}},
		{"background and negation", "a & ! b", []Command{prog("a"), prog("b")}},
		{"pipe all", "a |& b | c", []Command{
			with(prog("a"), stage(1, 0)), with(prog("b"), stage(1, 1)), with(prog("c"), stage(1, 2)),
		}},
		{"subshell and block", "(a; b) && { c; } > f", []Command{
			with(prog("a"), depth(1)), with(prog("b"), depth(1)),
			with(prog("c"), func(c *Command) { c.Redirects = []Redirect{{Op: ">", Target: lit("f"), Writes: true}} }),
		}},
		{"substitutions", "echo $(a) `b` <(c) >(d) \"$(e)\"", []Command{
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{dyn("$(a)"), dyn("`b`"), dyn("<(c)"), dyn(">(d)"), dyn(`"$(e)"`)}},
			with(prog("a"), depth(1)), with(prog("b"), depth(1)), with(prog("c"), depth(1)),
			with(prog("d"), depth(1)), with(prog("e"), depth(1)),
		}},
		{"nested substitution", "echo $(a $(b))", []Command{
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{dyn("$(a $(b))")}},
			{Kind: Program, Name: lit("a"), Parent: -1, Depth: 1, Args: []Word{dyn("$(b)")}},
			with(prog("b"), depth(2)),
		}},
		{"compound bodies", "if a; then b; elif c; then d; else e; fi; while f; do g; done; until h; do i; done; for x in 1 $(j); do k; done; case y in z) l;; *) m;; esac", []Command{
			prog("a"), prog("b"), prog("c"), prog("d"), prog("e"), prog("f"), prog("g"), prog("h"), prog("i"),
			with(prog("j"), depth(1)), prog("k"), prog("l"), prog("m"),
		}},
		{"function", "f() { rm x; } > log; function g { h; }; f", []Command{
			with(prog("rm", "x"), func(c *Command) { c.Redirects = []Redirect{{Op: ">", Target: lit("log"), Writes: true}} }),
			prog("h"), prog("f"),
		}},
		{"arithmetic with substitution", "echo $(( $(id -u) + 1 ))", []Command{
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{dyn("$(( $(id -u) + 1 ))")}},
			{Kind: Program, Name: dyn("$(( $(id -u) + 1 ))"), Parent: -1, Opaque: true},
			with(prog("id", "-u"), depth(1)),
		}},
		{"arithmetic on trusted variables", "i=0; for ((j=0; j<3; j++)); do i=$((i+j)); done; echo $((i))", []Command{
			{Kind: Assignment, Parent: -1, Assigns: []Assign{{Name: "i", Value: lit("0")}}},
			{Kind: Assignment, Parent: -1, Assigns: []Assign{{Name: "i", Value: dyn("$((i+j))")}}},
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{dyn("$((i))")}},
		}},
		{"arithmetic on read data", "read -r x < f; echo $((x))", []Command{
			with(prog("read", "-r", "x"), func(c *Command) { c.Redirects = []Redirect{{Op: "<", Target: lit("f"), Reads: true}} }),
			{Kind: Program, Name: lit("echo"), Parent: -1, Args: []Word{dyn("$((x))")}},
			{Kind: Program, Name: dyn("$((x))"), Parent: -1, Opaque: true},
		}},
		{"arithmetic in test and let", "x=$(cat f); [[ $x -gt 1 ]]; let y=x", []Command{
			{Kind: Assignment, Parent: -1, Assigns: []Assign{{Name: "x", Value: dyn("$(cat f)")}}},
			with(prog("cat", "f"), depth(1)),
			{Kind: Program, Name: dyn("$x -gt 1"), Parent: -1, Opaque: true},
			prog("let", "y=x"),
			{Kind: Program, Name: dyn("y=x"), Parent: -1, Opaque: true},
		}},
		{"subscript code in a literal", `unset 'a[$(rm -rf ~)]'`, []Command{
			with(prog("unset", "a[$(rm -rf ~)]"), opaque),
		}},
		{"variable name from data", `read "$v"; printf -v "$n" x`, []Command{
			{Kind: Program, Name: lit("read"), Args: []Word{dyn(`"$v"`)}, Parent: -1, Opaque: true},
			{Kind: Program, Name: lit("printf"), Args: []Word{lit("-v"), dyn(`"$n"`), lit("x")}, Parent: -1, Opaque: true},
		}},
		{"time keyword", "time -p make | tee log", []Command{
			{Kind: Wrapper, Name: lit("time"), Args: lits("-p"), Parent: -1},
			with(prog("make"), func(c *Command) { under(0, "time", 0)(c); stage(1, 0)(c) }),
			with(prog("tee", "log"), func(c *Command) { under(0, "time", 0)(c); stage(1, 1)(c) }),
		}},
		{"sudo env sh -c", `sudo -u root env -i FOO=1 /bin/sh -c 'rm -rf /; echo $(id)'`, []Command{
			prog("sudo", "-u", "root", "env", "-i", "FOO=1", "/bin/sh", "-c", "rm -rf /; echo $(id)"),
			with(prog("env", "-i", "FOO=1", "/bin/sh", "-c", "rm -rf /; echo $(id)"), func(c *Command) {
				under(0, "sudo", 0)(c)
				c.Assigns = []Assign{{Name: "FOO", Value: lit("1")}}
			}),
			with(prog("/bin/sh", "-c", "rm -rf /; echo $(id)"), under(1, "env", 0)),
			with(prog("rm", "-rf", "/"), under(2, "sh -c", 1)),
			{Kind: Program, Name: lit("echo"), Args: []Word{dyn("$(id)")}, Parent: 2, Via: "sh -c", Depth: 1},
			with(prog("id"), under(2, "sh -c", 2)),
		}},
		{"sudo assignments", "sudo LD_PRELOAD=/x.so ls", []Command{
			with(prog("sudo", "LD_PRELOAD=/x.so", "ls"), func(c *Command) { c.Assigns = []Assign{{Name: "LD_PRELOAD", Value: lit("/x.so")}} }),
			with(prog("ls"), under(0, "sudo", 0)),
		}},
		{"shells", "bash -lc 'npm test'; sh; bash script.sh; bash -s; sh -c \"$X\"", []Command{
			prog("bash", "-lc", "npm test"),
			with(prog("npm", "test"), under(0, "sh -c", 1)),
			with(prog("sh"), opaque),
			prog("bash", "script.sh"),
			with(prog("bash", "-s"), opaque),
			{Kind: Program, Name: lit("sh"), Args: []Word{lit("-c"), dyn(`"$X"`)}, Parent: -1, Opaque: true},
		}},
		{"zsh string with parentheses", `zsh -c 'ls *(e:"rm -rf /":)'`, []Command{
			with(prog("zsh", "-c", `ls *(e:"rm -rf /":)`), opaque),
		}},
		{"eval and trap", `eval "rm -rf" /; eval "$X"; trap 'rm -f /tmp/x' EXIT; trap - INT`, []Command{
			prog("eval", "rm -rf", "/"),
			with(prog("rm", "-rf", "/"), under(0, "eval", 1)),
			{Kind: Program, Name: lit("eval"), Args: []Word{dyn(`"$X"`)}, Parent: -1, Opaque: true},
			prog("trap", "rm -f /tmp/x", "EXIT"),
			with(prog("rm", "-f", "/tmp/x"), under(3, "trap", 1)),
			prog("trap", "-", "INT"),
		}},
		{"eval of an undecodable string", `eval $'a\x00b'`, []Command{
			{Kind: Program, Name: lit("eval"), Args: []Word{dyn(`$'a\x00b'`)}, Parent: -1, Opaque: true},
		}},
		{"env", "env; env A=1; /usr/bin/env -u X -- B=2 rm x", []Command{
			prog("env"),
			with(prog("env", "A=1"), func(c *Command) { c.Assigns = []Assign{{Name: "A", Value: lit("1")}} }),
			with(prog("/usr/bin/env", "-u", "X", "--", "B=2", "rm", "x"), func(c *Command) { c.Assigns = []Assign{{Name: "B", Value: lit("2")}} }),
			with(prog("rm", "x"), under(2, "env", 0)),
		}},
		{"xargs", "find . | xargs rm; ls | xargs -I{} cp {} /tmp; xargs; xargs sh -c", []Command{
			with(prog("find", "."), stage(1, 0)),
			with(prog("xargs", "rm"), stage(1, 1)),
			{Kind: Program, Name: lit("rm"), Args: []Word{{Value: "{}", Dynamic: true}}, Parent: 1, Via: "xargs", Pipeline: 1, Stage: 1},
			with(prog("ls"), stage(2, 0)),
			with(prog("xargs", "-I{}", "cp", "{}", "/tmp"), stage(2, 1)),
			{Kind: Program, Name: lit("cp"), Args: []Word{dyn("{}"), lit("/tmp")}, Parent: 4, Via: "xargs", Pipeline: 2, Stage: 1},
			prog("xargs"),
			prog("xargs", "sh", "-c"),
			{Kind: Program, Name: lit("sh"), Args: []Word{lit("-c"), dyn("{}")}, Parent: 7, Via: "xargs", Opaque: true},
		}},
		{"find exec", `find . -name '*.go' -exec rm -f {} \; -execdir sh -c 'x' +`, []Command{
			prog("find", ".", "-name", "*.go", "-exec", "rm", "-f", "{}", ";", "-execdir", "sh", "-c", "x", "+"),
			{Kind: Program, Name: lit("rm"), Args: []Word{lit("-f"), dyn("{}")}, Parent: 0, Via: "find -exec"},
			with(prog("sh", "-c", "x", "+"), under(0, "find -exec", 0)),
			with(prog("x"), under(2, "sh -c", 1)),
		}},
		{"command builtin exec", "command -v rm; command -p rm x; builtin cd /; exec -a n rm", []Command{
			{Kind: Wrapper, Name: lit("command"), Args: lits("-v", "rm"), Parent: -1},
			{Kind: Wrapper, Name: lit("command"), Args: lits("-p", "rm", "x"), Parent: -1},
			with(prog("rm", "x"), under(1, "command", 0)),
			{Kind: Wrapper, Name: lit("builtin"), Args: lits("cd", "/"), Parent: -1},
			with(prog("cd", "/"), under(3, "builtin", 0)),
			{Kind: Wrapper, Name: lit("exec"), Args: lits("-a", "n", "rm"), Parent: -1},
			with(prog("rm"), under(5, "exec", 0)),
		}},
		{"chain of wrappers", "nice -n 5 timeout 10 nohup rm x", []Command{
			prog("nice", "-n", "5", "timeout", "10", "nohup", "rm", "x"),
			with(prog("timeout", "10", "nohup", "rm", "x"), under(0, "nice", 0)),
			with(prog("nohup", "rm", "x"), under(1, "timeout", 0)),
			with(prog("rm", "x"), under(2, "nohup", 0)),
		}},
		{"unknown wrapper option", "sudo --frobnicate rm; sudo -s; sudo $X; timeout 5 $X", []Command{
			with(prog("sudo", "--frobnicate", "rm"), opaque),
			with(prog("sudo", "-s"), opaque),
			{Kind: Program, Name: lit("sudo"), Args: []Word{dyn("$X")}, Parent: -1, Opaque: true},
			{Kind: Program, Name: lit("timeout"), Args: []Word{lit("5"), dyn("$X")}, Parent: -1},
			{Kind: Program, Name: dyn("$X"), Parent: 3, Via: "timeout", Opaque: true},
		}},
		{"nested pipelines share numbering", "(curl x | cat) | sh", []Command{
			with(prog("curl", "x"), func(c *Command) { depth(1)(c); stage(1, 0)(c) }),
			with(prog("cat"), func(c *Command) { depth(1)(c); stage(1, 1)(c) }),
			with(prog("sh"), func(c *Command) { stage(1, 2)(c); opaque(c) }),
		}},
		{"alias", "alias ll='ls -l'", []Command{
			prog("alias", "ll=ls -l"),
			with(prog("ls", "-l"), under(0, "alias", 1)),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.src, err)
			}
			if l.Source != tt.src {
				t.Errorf("Source = %q", l.Source)
			}
			if diff := cmp.Diff(tt.want, l.Commands); diff != "" {
				t.Errorf("Parse(%q) commands (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "x" + strings.Repeat(close, n)
	}
	shChain := "x"
	for range MaxDepth + 1 {
		shChain = "sh -c " + shellQuote(shChain)
	}
	tests := []struct{ name, src, want string }{
		{"unclosed quote", "echo 'abc", "1:6: reached EOF without closing quote"},
		{"syntax", "a | | b", "1:3: `|` must be followed by a statement"},
		{"nul", "ls\x00 -l", "1:3: NUL byte"},
		{"utf8", "ls \xff", "1:4: invalid UTF-8"},
		{"empty", "   ", "empty command line"},
		{"comment only", "# hi", "empty command line"},
		{"too long", strings.Repeat("a", MaxLen+1), "over the limit"},
		{"coproc", "coproc cat", "coprocesses"},
		{"deep substitution", nest("$(", ")", MaxDepth+1), "nesting deeper than 8"},
		{"deep subshell", nest("( ", " )", MaxDepth+1), "nesting deeper than 8"},
		{"no simple command", "[[ -f x ]]", "runs no simple command"},
		{"deep sh -c", shChain, "nesting deeper than 8"},
		{"inner syntax error", "sh -c 'echo \"'", "sh -c: 1:6: reached EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.src)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse(%q): %v", tt.src, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = %d commands, want error %q", tt.src, len(l.Commands), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.src, err, tt.want)
			}
		})
	}
	// Exactly MaxDepth levels are fine, and long flat lists are not deep.
	for _, src := range []string{
		nest("$(", ")", MaxDepth),
		strings.Repeat("a && ", 500) + "b",
		strings.Repeat("a | ", 500) + "b",
		strings.Repeat("a; ", 500) + "b",
	} {
		if l, err := Parse(src); err != nil {
			t.Errorf("Parse(%.20q…): %v", src, err)
		} else if strings.HasPrefix(src, "a") && len(l.Commands) != 501 {
			t.Errorf("Parse(%.20q…) = %d commands", src, len(l.Commands))
		}
	}
	if _, err := Parse(nest("{ ", "; }", maxNest+1)); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep blocks: %v", err)
	}
	chain := strings.Repeat("nice ", maxChain+1) + "rm"
	if _, err := Parse(chain); err == nil || !strings.Contains(err.Error(), "wrapped more than") {
		t.Errorf("long wrapper chain: %v", err)
	}
}

// shellQuote quotes s for a shell with single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TestLineInvariants checks structural properties on the table inputs.
func TestLineInvariants(t *testing.T) {
	for _, src := range fuzzSeeds {
		l, err := Parse(src)
		if err != nil {
			continue
		}
		checkInvariants(t, l)
	}
}

func checkInvariants(t *testing.T, l *Line) {
	t.Helper()
	for i, c := range l.Commands {
		if c.Parent >= i || c.Parent < -1 {
			t.Fatalf("%q: command %d has parent %d", l.Source, i, c.Parent)
		}
		if (c.Parent == -1) != (c.Via == "") {
			t.Fatalf("%q: command %d has parent %d and via %q", l.Source, i, c.Parent, c.Via)
		}
		if c.Depth < 0 || c.Depth > MaxDepth {
			t.Fatalf("%q: command %d has depth %d", l.Source, i, c.Depth)
		}
		if c.Parent >= 0 {
			p := l.Commands[c.Parent]
			if c.Depth < p.Depth || c.Pipeline != p.Pipeline && p.Pipeline != 0 {
				t.Fatalf("%q: command %d does not inherit from parent %d: %+v vs %+v", l.Source, i, c.Parent, c, p)
			}
		}
		if (c.Name.Dynamic || c.Name.Glob) && !c.Opaque {
			t.Fatalf("%q: command %d has an unknown name but is not opaque", l.Source, i)
		}
	}
}

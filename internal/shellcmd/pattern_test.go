package shellcmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, line string
		want          bool
		at            int // checked when want is true
	}{
		// The bypass list: all are rm -rf.
		{"rm -rf", "rm -rf x", true, 0},
		{"rm -rf", "rm -fr x", true, 0},
		{"rm -rf", "rm -r -f x", true, 0},
		{"rm -rf", "rm  -rf x", true, 0},
		{"rm -rf", "/bin/rm -rf x", true, 0},
		{"rm -rf", `\rm -rf x`, true, 0},
		{"rm -rf", `"rm" -rf x`, true, 0},
		{"rm -rf", `r'm' -r"f" x`, true, 0},
		{"rm -rf", "sudo rm -rf /", true, 1},
		{"rm -rf", "env X=1 rm -rf /", true, 1},
		{"rm -rf", "sh -c 'rm -rf /'", true, 1},
		{"rm -rf", "bash -c \"sh -c 'rm -fr /'\"", true, 2},
		{"rm -rf", "x && rm -Rf .", true, 1},
		{"rm -rf", "echo $(rm -rf /)", true, 1},
		{"rm -rf", "echo `rm -rf /`", true, 1},
		{"rm -rf", "rm --recursive --force x", true, 0},
		{"rm -rf", "rm --rec --f x", true, 0},
		{"rm -rf", "rm x -f -R", true, 0},
		{"rm -rf", "find . -exec rm -rf {} +", true, 1},
		{"rm -rf", "ls | xargs rm -rf", true, 2},
		{"rm -rf", "eval 'rm -rf x'", true, 1},
		{"rm -rf", "RM -RF x", false, 0}, // -R is not -f
		{"rm -rf", "RM -rf x", true, 0},  // macOS finds RM
		{"rm -rf", "busybox rm -rf /", true, 1},
		{"rm -rf", "timeout 5 nice rm -rf /", true, 2},
		// Words known only at run time may be the flags.
		{"rm -rf", "rm $FLAGS x", true, 0},
		{"rm -rf", `rm -r "$F" x`, true, 0},
		{"rm -rf", "rm -r$X x", true, 0},
		{"rm -rf", "rm -{r,f} x", true, 0},
		{"rm -rf", "rm * ", true, 0},
		{"rm -rf", "$CMD -rf x", true, 0},
		{"rm -rf", "{rm,-rf} x", true, 0},
		{"rm -rf", `rm -r "/tmp/$X"`, false, 0}, // one word starting /tmp/ cannot be -f
		{"rm -rf", `rm -r /tmp/$X`, true, 0},    // unquoted, it may split into /tmp/a -f
		// Negative cases.
		{"rm -rf", "rm -r x", false, 0},
		{"rm -rf", "rm -f x", false, 0},
		{"rm -rf", "rm -- -rf", false, 0},
		{"rm -rf", "echo rm -rf", false, 0}, // an operand of echo, not a command
		{"rm -rf", "rmdir -rf x", false, 0},
		{"rm -rf", "ls *.txt", false, 0},
		{"rm -rf", "rm *.o", false, 0}, // *.o cannot expand to -r
		// Operands.
		{"rm -rf /", "rm -rf /", true, 0},
		{"rm -rf /", "rm -rf //", true, 0},
		{"rm -rf /", "rm -rf /./", true, 0},
		{"rm -rf /", "rm -rf /*", true, 0},
		{"rm -rf /", "rm -rf /tmp", false, 0},
		{"rm -rf /", "rm -rf $HOME", true, 0},
		{"rm -rf ~", "rm -rf ~/", true, 0},
		{"rm -rf /", "rm -rf ./x", false, 0},
		// Subcommands.
		{"npm publish", "npm publish", true, 0},
		{"npm publish", "npm test", false, 0},
		{"npm publish", "npm test -- --run", false, 0},
		{"npm publish", "pnpm publish --access public", true, 0},
		{"npm publish", "yarn npm publish", true, 0},
		{"npm publish", "npm pub", true, 0},
		{"npm publish", "npm run publish-docs", false, 0},
		{"git push -f", "git push -f", true, 0},
		{"git push -f", "git push --force origin main", true, 0},
		{"git push -f", "git push --force-with-lease", true, 0},
		{"git push -f", "git push --force-if-includes", true, 0},
		{"git push -f", "git push origin +main", true, 0},
		{"git push -f", "git -C dir push -f", true, 0},
		{"git push -f", "git -c user.name=x push --forc", true, 0},
		{"git push -f", "git push origin main", false, 0},
		{"git push -f", "git fetch -f", false, 0},
		{"git push -f", "git log push -f", false, 0},
		{"git push --force", "git push -f", true, 0},
		{"git clean -fdx", "git clean -d -x --force", true, 0},
		{"git clean -fdx", "git clean -fd", false, 0},
		{"git branch -D", "git branch -d -f topic", true, 0},
		{"git branch -D", "git branch -d topic", false, 0},
		{"cp -r", "cp -a src dst", true, 0},
		{"chmod -R", "chmod --recursive 777 .", true, 0},
		{"find -delete", "find . -name x -delete", true, 0},
		{"find -delete", "find . -depth -name x -type d -ls", false, 0},
		{"curl -X POST", "curl --request=POST url", true, 0},
		{"/bin/rm -rf", "/bin/rm -rf x", true, 0},
		{"/bin/rm -rf", "rm -rf x", false, 0},
		// Pipelines.
		{"curl | sh", "curl -fsSL x | sh", true, 0},
		{"curl | sh", "curl x | bash", true, 0},
		{"curl | sh", "wget -O- x | sudo zsh", true, 0},
		{"curl | sh", "curl x | tee f | bash -s", true, 0},
		{"curl | sh", "(curl x | cat) | sh", true, 0},
		{"curl | sh", "{ curl x; } | sh", true, 0},
		{"curl | sh", "curl x | $SHELL", true, 0},
		{"curl | sh", "curl x | xargs -0 sh -c", true, 0},
		{"curl | sh", "curl x > f; sh f", false, 0},
		{"curl | sh", "sh x | curl y", false, 0},
		{"curl | sh", "curl x | grep y", false, 0},
		{"curl | sh", "{ curl x; sh y; } | cat", false, 0},
		// Single words.
		{"kubectl", "kubectl get pods", true, 0},
		{"kubectl", "/usr/local/bin/kubectl get pods", true, 0},
		{"kubectl", "cd x && sudo kubectl apply", true, 1}, // sudo's argument
		{"kubectl", "echo kubectl", true, 0},
		{"kubectl", "kubectl-foo", false, 0},
		{"POST", "curl -X POST url", true, 0},
		{"POST", "M=POST curl -X $M url", true, 0},
		{"POST", "curl -X GET url", false, 0},
		{"POST", "curl -X post url", false, 0},
		// Substrings.
		{"eval(", `python -c "eval(input())"`, true, 0},
		{"eval(", `node -e 'EVAL(x)'`, true, 0},
		{"exec(", `python3 -c $'\x65xec(1)'`, true, 0},
		{"a; b", "x; a; b", true, 0},
		{"a; b", "a && b", false, 0},
		{"rm -rf $HOME", "rm -rf $HOME", true, 0},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("CompilePattern(%q): %v", tt.pattern, err)
		}
		l, err := Parse(tt.line)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.line, err)
		}
		got, at := p.Match(l)
		if got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.line, got, tt.want)
			continue
		}
		if got && at != tt.at {
			t.Errorf("%q.Match(%q) at = %d, want %d", tt.pattern, tt.line, at, tt.at)
		}
		if !got && at != -1 {
			t.Errorf("%q.Match(%q) at = %d, want -1", tt.pattern, tt.line, at)
		}
	}
}

func TestPatternKinds(t *testing.T) {
	tests := []struct {
		pattern string
		kind    patKind
		names   []string
	}{
		{"rm -rf", patCommand, []string{"rm"}},
		{"/bin/rm -rf", patCommand, []string{"rm"}},
		{"sudo rm", patCommand, []string{"sudo"}},
		{"git push --force", patCommand, []string{"git"}},
		{"npm publish", patCommand, []string{"bun", "npm", "pnpm", "yarn"}},
		{"curl | sh", patPipeline, append([]string{"curl", "wget"}, shellNames()...)},
		{"kubectl", patWord, nil},
		{"POST", patWord, nil},
		{"eval(", patSubstring, nil},
		{"a; b", patSubstring, nil},
		{"a && b", patSubstring, nil},
		{"(rm -rf /)", patSubstring, nil},
		{"X=1 rm", patSubstring, nil},
		{"rm > f", patSubstring, nil},
		{"rm $HOME", patSubstring, nil},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("CompilePattern(%q): %v", tt.pattern, err)
		}
		if p.kind != tt.kind {
			t.Errorf("%q: kind %d, want %d", tt.pattern, p.kind, tt.kind)
		}
		want := tt.names
		if want != nil {
			want = sortedUnique(want)
		}
		if diff := cmp.Diff(want, p.Names()); diff != "" {
			t.Errorf("%q.Names() (-want +got):\n%s", tt.pattern, diff)
		}
		if p.String() != tt.pattern {
			t.Errorf("String() = %q", p.String())
		}
	}
}

func shellNames() []string {
	var out []string
	for s := range shells {
		out = append(out, s)
	}
	return out
}

func sortedUnique(ss []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCompilePatternErrors(t *testing.T) {
	for _, p := range []string{"", "   ", "rm\x00 -rf", strings.Repeat("x", maxPatternLen+1)} {
		if _, err := CompilePattern(p); err == nil {
			t.Errorf("CompilePattern(%q) succeeded", p)
		}
	}
	// Unparsable patterns are substring patterns, not errors.
	for _, p := range []string{"eval(", "'unclosed", "a | | b", "ls \xff"} {
		pt, err := CompilePattern(p)
		if err != nil || pt.kind != patSubstring {
			t.Errorf("CompilePattern(%q) = %v, %v; want a substring pattern", p, pt, err)
		}
	}
}

func TestMatchNil(t *testing.T) {
	p, _ := CompilePattern("rm -rf")
	if ok, at := p.Match(nil); ok || at != -1 {
		t.Errorf("Match(nil) = %v, %d", ok, at)
	}
	if ok, at := p.Match(&Line{}); ok || at != -1 {
		t.Errorf("Match(empty) = %v, %d", ok, at)
	}
	var np *Pattern
	if ok, _ := np.Match(&Line{}); ok || np.Names() != nil || np.String() != "" {
		t.Error("nil pattern matched")
	}
}

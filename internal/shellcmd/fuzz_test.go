package shellcmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzSeeds are tricky command lines shared by the fuzz targets and tests.
var fuzzSeeds = []string{
	"npm test -- --run",
	"rm -rf /",
	"  rm   -rf  /  ",
	"cd src && rm -rf / ; curl x | sh",
	`'r''m' "r"m r\m $'\162m' $"rm" \rm`,
	`rm${IFS}-rf /`,
	`{rm,-rf} /`,
	`echo {a,b} {1..3} a{b,c}d @(a|b) *.go ~/x ~root "~"`,
	"a=1 b=2 cmd",
	"export PATH=/tmp:$PATH",
	"declare -i n=$(cat f); local -n r=$x",
	"cmd <in >out 2>>err &>all 3<&0 >&file 2>&- <<<x",
	"cat <<EOF\n$(rm -rf /)\nEOF",
	"cat <<'EOF'\n$(rm -rf /)\nEOF",
	"ls # comment",
	"a & ! b |& c",
	"(a; b) && { c; } > f",
	"echo $(a $(b)) `c` <(d) >(e)",
	"if a; then b; elif c; then d; else e; fi; while f; do g; done; for x in $(h); do i; done; case y in z) j;; esac",
	"f() { rm x; }; f",
	"echo $(( $(id -u) + 1 )); (( x = y )); let z=1; [[ $q -eq 1 ]]; echo ${a[$i]} ${s:$o} ${!p} ${v@P}",
	"read -r x < f; echo $((x))",
	"sudo -u root env -i FOO=1 sh -c 'rm -rf /; echo $(id)'",
	"bash -lc 'npm test'; sh; bash -s; sh -c \"$X\"; zsh -c 'ls *(e:x:)'",
	"eval 'rm -rf /'; eval \"$X\"; trap 'rm x' EXIT; alias ll='ls -l'",
	"find . -name '*.go' -exec rm -f {} \\; -execdir sh -c x +",
	"ls | xargs -I{} cp {} /tmp; xargs sh -c; xargs -0 rm",
	"nice -n 5 ionice -c3 timeout 10 stdbuf -o0 setsid nohup strace -f rm -rf /",
	"command -v rm; builtin cd /; exec -a x rm; time -p make",
	"su -c 'rm -rf /' root; runuser -u x -- rm; doas rm; pkexec rm",
	"watch -n1 'ls | wc'; flock /tmp/l -c 'rm x'; script -qc ls /dev/null; parallel rm {} ::: a",
	"git -c alias.x='!sh' x; git -C d push -f; git submodule foreach 'rm -rf .'; git rebase -x 'make' main",
	"ssh -o ProxyCommand=x h; ssh h rm -rf /; tar --to-command=sh -xf a; rsync -e 'sh -c x' a b",
	"unset 'a[$(id)]'; read \"$v\"",
	"busybox sh -c 'rm -rf /'; chroot /mnt; env -S 'rm -rf /'",
	"sh -c \"sh -c 'sh -c \\\"sh -c echo\\\"'\"",
	"$(((((((((x)))))))))",
	"echo 'unclosed",
	"coproc cat",
	"\x00",
	"\xff",
	"",
	"a=(1 2 $(x)) b[$(y)]=1",
	"for ((i=0;i<3;i++)); do :; done",
	"select x in a b; do echo $((x)); done",
	"x=~/a:~/b cmd ~+ ~-",
	"echo \\\n rm",
	"echo $'\\c' $'\\u' $'\\777' $'\\x'",
	"sed -e 's/a/b/ge' -e '1e id' -i.bak f; sed -n '/x/,$p;y/ab/cd/' f",
	"awk -F: '/a|b/ { print $1 | \"sort\"; n = n / 2 } END { system(\"id\") }' f",
	"GIT_EDITOR='vim -u NONE' git commit; BASH_ENV=x bash -c y; PAGER=less man ls",
	"bash /dev/stdin <<< x; . /proc/self/fd/0",
	"sort --compress-program=sh f; split --filter=gzip f; zip -TT x a f; enable -f x.so x; hash -p /x ls",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		l, err := Parse(src)
		if err != nil && strings.HasPrefix(err.Error(), internalError) {
			t.Fatalf("%q: %v", src, err) // a recovered panic
		}
		if err == nil {
			checkInvariants(t, l)
		}
		if _, ok := fastWords(src); !ok {
			return
		}
		// The fast path must agree with the full parser.
		slow, serr := parse(src, true)
		if (err == nil) != (serr == nil) {
			t.Fatalf("%q: fast error %v, full parser error %v", src, err, serr)
		}
		if err != nil {
			return
		}
		if diff := cmp.Diff(slow, l); diff != "" {
			t.Fatalf("%q: fast path differs from full parser (-full +fast):\n%s", src, diff)
		}
	})
}

// TestFastPathAgrees runs the differential check on the seeds and on lines
// that exercise the fast path's edges.
func TestFastPathAgrees(t *testing.T) {
	extra := []string{
		"sudo rm -rf /", "env A=1 rm", "sh -c ls", "time ls", "export A", "let x", "if", "then",
		"x=1", "a b=c", "%1", "@x", "a,b", "-", "--", "nohup sh", "busybox rm -rf /",
		"git -c a.b=c push", "find . -exec rm x ;", "ionice -p 1", "command -v x",
	}
	for _, src := range append(extra, fuzzSeeds...) {
		if _, ok := fastWords(src); !ok {
			continue
		}
		fast, err1 := Parse(src)
		slow, err2 := parse(src, true)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: errors differ: %v vs %v", src, err1, err2)
		}
		if diff := cmp.Diff(slow, fast); diff != "" {
			t.Errorf("%q: fast path differs (-full +fast):\n%s", src, diff)
		}
	}
}

func FuzzPattern(f *testing.F) {
	pats := []string{"rm -rf", "rm -rf /", "curl | sh", "git push -f", "npm publish", "kubectl", "POST",
		"eval(", "a; b", "find -delete", "git branch -D", "/bin/rm -rf", "cp -r", "[", "*", "rm $X"}
	for i, s := range fuzzSeeds {
		f.Add(pats[i%len(pats)], s)
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		p, err := CompilePattern(pattern)
		if err != nil {
			return
		}
		if p.kind != patSubstring && len(p.stages) == 0 && p.word == "" {
			t.Fatalf("%q: empty pattern of kind %d", pattern, p.kind)
		}
		_ = p.Names()
		_ = p.String()
		l, err := Parse(line)
		if err != nil {
			return
		}
		ok, at := p.Match(l)
		if ok != (at >= 0) || at >= len(l.Commands) {
			t.Fatalf("%q.Match(%q) = %v, %d", pattern, line, ok, at)
		}
	})
}

package shellcmd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// summary renders each command as name[<parent via]![ opaque], with the
// name marked ~ when Dynamic, to check which commands a line runs.
func summary(l *Line) []string {
	out := make([]string, len(l.Commands))
	for i, c := range l.Commands {
		s := c.Name.Value
		if c.Name.Dynamic {
			s = "~" + s
		}
		if c.Parent >= 0 {
			s += fmt.Sprintf("<%d %s", c.Parent, c.Via)
		}
		if c.Opaque {
			s += "!"
		}
		out[i] = s
	}
	return out
}

func TestRuns(t *testing.T) {
	tests := []struct {
		src  string
		want string // summaries joined by " | "
	}{
		// Shells.
		{"bash -c -- 'a; b'", "bash | a<0 sh -c | b<0 sh -c"},
		{"bash -o pipefail -ec 'a'", "bash | a<0 sh -c"},
		{"sh -c", "sh!"},
		{"sh -", "sh!"},
		{"bash -i", "bash!"},
		{"bash --rcfile x", "bash!"},
		{"bash --frob -c a", "bash!"},
		{"bash <(curl x)", "bash! | curl"},
		{"sh $SCRIPT", "sh!"},
		{"sh ./x.sh arg", "sh"},
		{"sh -c 'echo $1' _ \"$(cat f)\"", "sh | echo<0 sh -c | cat"},
		{"zsh -c 'ls -l'", "zsh | ls<0 sh -c"},
		{"fish -c 'echo (whoami)'", "fish!"},
		{"fish -C 'rm x' y", "fish!"},
		{"busybox sh -c 'rm x'", "busybox | sh<0 busybox | rm<1 sh -c"},
		{"busybox --bogus", "busybox!"},
		{"bash /dev/stdin <<< 'a'", "bash!"},
		{". /proc/self/fd/0", ".!"},
		{"sh ../../../dev/fd/3 3<f", "sh!"},
		{"sh ./dev/setup.sh", "sh"},
		// eval, trap, alias, source.
		{"eval", "eval"},
		{"eval -- a b", "eval | a<0 eval"},
		{"eval a *", "eval!"},
		{"trap", "trap"},
		{"trap -p", "trap"},
		{"trap 'a' INT TERM", "trap | a<0 trap"},
		{"trap EXIT", "trap"},
		{"trap \"$X\" EXIT", "trap!"},
		{"alias x='a | b' y=c", "alias | a<0 alias | b<0 alias | c<0 alias"},
		{"source ./env.sh; . <(curl x)", "source | .! | curl"},
		// Privilege and process wrappers.
		{"sudo", "sudo"},
		{"sudo -l", "sudo"},
		{"sudo -e /etc/hosts", "sudo"},
		{"sudo -i", "sudo!"},
		{"sudo -Eu root -- a", "sudo | a<0 sudo"},
		{"sudo -u \"$U\" a", "sudo!"},
		{"doas -u root a", "doas | a<0 doas"},
		{"doas -s", "doas!"},
		{"pkexec", "pkexec!"},
		{"pkexec --user root a", "pkexec | a<0 pkexec"},
		{"su", "su!"},
		{"su - root", "su!"},
		{"su root -c a", "su | a<0 su -c"},
		{"su -s /tmp/evil -c a", "su!"},
		{"su -c \"$X\"", "su!"},
		{"runuser -u nobody a b", "runuser | a<0 runuser"},
		{"chroot /mnt a", "chroot | a<0 chroot"},
		{"chroot /mnt", "chroot!"},
		{"nice -10 a", "nice | a<0 nice"},
		{"nice", "nice"},
		{"ionice -p 1 2", "ionice"},
		{"ionice -c 3 a", "ionice | a<0 ionice"},
		{"timeout -k 5 10 a", "timeout | a<0 timeout"},
		{"timeout $T a", "timeout!"},
		{"timeout 10", "timeout"},
		{"taskset -c 1 a", "taskset | a<0 taskset"},
		{"taskset -x 1 a", "taskset!"},
		{"taskset 0x1 a", "taskset | a<0 taskset"},
		{"stdbuf -oL a", "stdbuf | a<0 stdbuf"},
		{"setsid -f a", "setsid | a<0 setsid"},
		{"flock -n /tmp/l a b", "flock | a<0 flock"},
		{"flock -c 'a' /tmp/l", "flock | a<0 sh -c"},
		{"flock 9", "flock"},
		{"watch -x a b", "watch | a<0 watch"},
		{"watch 'a | b'", "watch | a<0 watch | b<0 watch"},
		{"watch $X", "watch!"},
		{"time a", "time | a<0 time"},
		{"\\time -f %e a", "time | a<0 time"},
		{"strace -e trace=open a", "strace | a<0 strace"},
		{"ltrace -o out a", "ltrace | a<0 ltrace"},
		{"script -c 'a' log", "script | a<0 script -c"},
		{"script log", "script!"},
		{"unbuffer -p a", "unbuffer | a<0 unbuffer"},
		{"catchsegv a", "catchsegv | a<0 catchsegv"},
		{"noglob a", "noglob | a<0 noglob"},
		{"command -V a", "command"},
		{"command -x a", "command!"},
		{"exec", "exec"},
		{"exec 3>f", "exec"},
		// xargs, find, parallel.
		{"xargs -0 -n 1 a", "xargs | a<0 xargs"},
		{"xargs -i a {}", "xargs | a<0 xargs"},
		{"xargs -I% a %", "xargs | a<0 xargs"},
		{"xargs -I{} {}", "xargs | ~{}<0 xargs!"},
		{"xargs --frob a", "xargs!"},
		{"find . -ok a {} ;", "find | a<0 find -exec"},
		{"find . -name \"$P\" -exec a {} +", "find | a<0 find -exec"},
		{"find . -name $P", "find!"},
		{"find \"$D\" -name x", "find!"},
		{"find ./$D -name x", "find"},
		{"find . -exec $C {} ;", "find | ~$C<0 find -exec!"},
		{"find . -exec sh -c 'a {}' ;", "find | sh<0 find -exec!"},
		{"parallel a ::: 1 2", "parallel | a<0 parallel"},
		{"parallel 'a {} | b' ::: 1", "parallel | a<0 parallel | b<0 parallel"},
		{"parallel ::: a b", "parallel!"},
		{"parallel '{= $_ =}' ::: a", "parallel!"},
		// env.
		{"env -i a", "env | a<0 env"},
		{"env - a", "env | a<0 env"},
		{"env -u A -C /tmp a", "env | a<0 env"},
		{"env --split-string='a b'", "env!"},
		{"env $X a", "env!"},
		{"env A=$X a", "env | a<0 env"},
		// Variables that hold commands.
		{"GIT_EDITOR=true git commit", "git | true<0 GIT_EDITOR"},
		{"PAGER='less -R' man ls", "man | less<0 PAGER"},
		{"EDITOR=\"$E\" crontab -e", "crontab!"},
		{"BASH_ENV=x bash -c a", "bash! | a<0 sh -c"},
		{"export PS4='$(a)'", "export!"},
		{"env 'BASH_FUNC_ls%%=() { a; }' bash -c ls", "env! | bash<0 env | ls<1 sh -c"},
		{"GIT_SSH_COMMAND='ssh -i k' git pull", "git"},
		{"GIT_SSH_COMMAND='a' git pull", "git | a<0 GIT_SSH_COMMAND"},
		{"GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager git log", "git!"},
		// git.
		{"git status", "git"},
		{"git -C \"$D\" status", "git!"},
		{"git -c user.email=a@b commit -m \"$MSG\"", "git"},
		{"git -c core.pager=a log", "git!"},
		{"git -c alias.x='!a' x", "git!"},
		{"git --exec-path=/tmp log", "git!"},
		{"git --config-env=core.pager=X log", "git!"},
		{"git submodule foreach --recursive 'a; b'", "git | a<0 git | b<0 git"},
		{"git rebase -x 'make test' main", "git | make<0 git"},
		{"git rebase --exec=a main", "git | a<0 git"},
		{"git rebase -ix a main", "git | a<0 git"},
		{"git bisect run ./check.sh", "git | ./check.sh<0 git"},
		{"git difftool --extcmd=a", "git | a<0 git"},
		{"git filter-branch --tree-filter a", "git!"},
		{"git clone --upload-pack=a x", "git!"},
		{"git clone -ua x", "git!"},
		{"git clone \"$URL\"", "git!"},
		{"git fetch --upload-pack a", "git!"},
		{"git push --receive-pack=a", "git!"},
		{"git grep -Oa x", "git!"},
		{"git config user.name x", "git"},
		{"git config --global core.pager a", "git!"},
		{"git config --get core.pager", "git"},
		{"git config set alias.x '!a'", "git!"},
		{"git config --unset core.editor", "git!"},
		// ssh, tar, rsync.
		{"ssh h", "ssh!"},
		{"ssh -N -L 1:h:2 h", "ssh"},
		{"ssh -p 22 h 'a && b'", "ssh | a<0 ssh | b<0 ssh"},
		{"ssh h \"$CMD\"", "ssh!"},
		{"ssh -F cfg h a", "ssh!"},
		{"ssh -oProxyCommand=a h b", "ssh!"},
		{"ssh -o 'LocalCommand a' h b", "ssh!"},
		{"tar -xzf a.tgz", "tar"},
		{"tar xzf a.tgz", "tar"},
		{"tar -cf out.tar --checkpoint=1 --checkpoint-action=exec=a .", "tar!"},
		{"tar --to-c=a -xf x", "tar!"},
		{"tar -I a -cf x .", "tar!"},
		{"tar cIf a x .", "tar!"},
		{"tar -cf \"$OUT\" .", "tar!"},
		{"tar -cf backup-$(date).tar .", "tar! | date"},
		{"rsync -av src/ dst/", "rsync"},
		{"rsync -avze 'ssh -p 2' a h:b", "rsync"},
		{"rsync --rsh='ssh -o ProxyCommand=x' a h:b", "rsync!"},
		{"rsync -e a x y", "rsync!"},
		// Text tools whose scripts can run commands.
		{"sed -i.bak 's/a|b/c/g; /x/d' f", "sed"},
		{"sed -n '1,/re/p' f", "sed"},
		{"sed -e 's/a/b/w out' -e '$a\\\nend' f", "sed"},
		{"sed '1e rm -rf /' f", "sed!"},
		{"sed 's/.*/rm &/e' f", "sed!"},
		{"sed -E 's/x/y/ge' f", "sed!"},
		{"sed -e p -e 'e id' f", "sed!"},
		{"sed -f script.sed f", "sed!"},
		{`sed "$S" f`, "sed!"},
		{`sed --sandbox "s/x/y/" f`, "sed"},
		{`sed 's/x/y/' "$F"`, "sed!"},
		{"sed '/a/,/b/{s/x/y/;p}' f", "sed"},
		{"awk -F: '{print $1}' /etc/passwd", "awk"},
		{"awk '/a|b/ && $2 > 1 { n++ } END { print n / 2 }' f", "awk"},
		{`awk 'BEGIN { printf "%s|%s\n", 1, 2; x = a || b }'`, "awk"},
		{`awk '{ print $1 | "sh" }' f`, "awk!"},
		{`awk 'BEGIN { system("id") }'`, "awk!"},
		{`awk 'BEGIN { "id" | getline x }'`, "awk!"},
		{`gawk '@load "x"; BEGIN {}'`, "gawk!"},
		{"awk -f prog.awk f", "awk!"},
		{`awk --sandbox 'BEGIN { system("id") }'`, "awk"},
		{"sort --compress-prog=sh f", "sort!"},
		{"sort -u f", "sort"},
		{"split --filter='gzip' f", "split!"},
		{"zip -TT 'sh x' a.zip f", "zip!"},
		{"enable -f ./x.so x", "enable!"},
		{"hash -p /tmp/x ls", "hash!"},
		{"hash -r", "hash"},
		// Builtins that take variable names, and arithmetic.
		{"mapfile -C 'a' -c 1 arr < f", "mapfile | a<0 mapfile -C"},
		{"readarray -t lines < f", "readarray"},
		{"read -a \"$n\"", "read!"},
		{"wait -p \"$v\" 1", "wait!"},
		{"test -v \"$v\"", "test!"},
		{"[ -v 'a[$(x)]' ]", "[!"},
		{"[[ -v $v ]]", "~-v $v!"},
		{"declare -n r=\"$x\"", "declare!"},
		{"local -i n; read n", "local! | read"},
		{"declare -i n=5; n+=1", "declare | "},
		{"echo ${x@P}", "echo | ~${x@P}!"},
		{"x=$1; echo $((x))", " | echo | ~$((x))!"},
		{"for f in *; do echo $((f)); done", "echo | ~$((f))!"},
		{"for i in 1 2; do echo $((i)); done", "echo"},
		{"echo $((RANDOM % 6))", "echo"},
		{"echo $((_))", "echo | ~$((_))!"},
		{"select x in a b; do echo $((x)); done", "echo | ~$((x))!"},
		{"x='a[$(id)]'", "!"},
		{"echo ${a[$(cat f)]}", "echo | ~${a[$(cat f)]}! | cat"},
		{"source f; echo $((y))", "source | echo | ~$((y))!"},
	}
	for _, tt := range tests {
		l, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if diff := cmp.Diff(strings.Split(tt.want, " | "), summary(l)); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.src, diff)
		}
	}
}

// Package shellcmd parses a shell command line into the simple commands it
// would run, and matches forbidden-command patterns on the parsed words.
//
// Parse reads a bash line with a real parser (mvdan.cc/sh) and lists every
// simple command that would execute: in pipelines, && || ; lists,
// subshells, { } blocks, $(…) and `…`, <(…) and >(…), if/while/for/case
// bodies, function bodies, arithmetic and heredoc bodies. Words are given
// after quote removal. Commands that run other commands are followed: the
// wrapper stays listed and the command it runs is listed after it with
// Parent and Via set — shells with -c, eval, trap, alias, su -c, sudo, doas,
// env, nohup, nice, ionice, timeout, stdbuf, setsid, chroot, flock, watch,
// time, command, builtin, exec, xargs, find -exec, parallel, strace, ltrace,
// script -c, unbuffer, catchsegv, noglob, pkexec, taskset, mapfile -C,
// busybox, ssh, git (submodule foreach, rebase --exec, bisect run). Names
// count by base name, so /usr/bin/env is env. Inner commands inherit the
// wrapper's Pipeline and Stage; Depth grows only where a string is parsed
// again.
//
// # Fail closed
//
// Input is hostile, so whatever cannot be determined is reported, never
// guessed:
//   - Parse fails on a syntax error, a NUL byte, invalid UTF-8, input over
//     MaxLen, nesting over MaxDepth, an empty line (or one that runs no
//     simple command, such as a lone [[ … ]]) and coprocesses, and never
//     panics; a returned Line lists at least one command.
//   - A word whose value depends on run time is Dynamic (parameters,
//     substitutions, arithmetic, brace expansion, extglob, undecodable
//     $'…'); its Value is its source text.
//   - A command is Opaque when it runs something that cannot be known: a
//     Dynamic or Glob command name; a shell reading its script from stdin
//     (sh, bash -s, sudo -s, su without -c, chroot DIR); a shell string, eval
//     or trap code that is not literal; a wrapper option that is unknown or
//     not literal (it might shift where the inner command starts); options
//     of git, ssh, tar, rsync, sort, split and zip that run programs (git -c
//     alias.x=!…, ProxyCommand, --to-command, -e 'sh …'); sed and awk
//     scripts that run commands (sed's e, awk's system() and pipes) or are
//     not literal; enable -f and hash -p; a variable name or subscript that
//     is not literal (read "$v", unset 'a[$(cmd)]'); a literal that hides a
//     subscript command (a[$(cmd)]); assignments of BASH_ENV, ENV, PS4,
//     PROMPT_COMMAND, BASH_FUNC_* and GIT_CONFIG_*.
//   - Variables that hold a command line (GIT_EDITOR, GIT_SSH_COMMAND,
//     PAGER, EDITOR, …) have their values parsed as code run by the command
//     that carries the assignment (Via is the variable name).
//   - Bash evaluates variables read in arithmetic as expressions, and a
//     subscript in the value runs commands. An arithmetic evaluation of a
//     variable that may hold data from outside the line (read, mapfile, a
//     substitution, a glob, positional parameters) is listed as an extra
//     Opaque command named by its source text.
//
// # Patterns
//
// CompilePattern parses a pattern with Parse. One simple command of literal
// words is a command pattern: the first word names the command (by base
// name, ignoring case; by path if it contains a /), and every other word is
// a requirement. A short-flag cluster (-rf) requires each letter among the
// command's short flags (in any cluster, before --); --long requires --long,
// --long=…, or any prefix of it (GNU tools accept --rec); other words must
// be among the operands (paths compared after path.Clean, so // and /./ are
// /). Git's global options (-C dir, -c k=v) do not hide its subcommand.
// Built-in flag equivalences:
//
//	rm                  -r ≡ -R ≡ --recursive, -f ≡ --force, -d ≡ --dir
//	cp                  -R ≡ -r ≡ --recursive (also satisfied by -a, --archive), -f ≡ --force
//	mv                  -f ≡ --force
//	chmod chown chgrp   -R ≡ -r ≡ --recursive
//	sed                 -i ≡ --in-place
//	curl                -X ≡ --request, -d ≡ --data ≡ --data-raw ≡ --data-binary ≡
//	                    --data-urlencode ≡ --data-ascii ≡ --json, -F ≡ --form ≡
//	                    --form-string, -T ≡ --upload-file, -k ≡ --insecure, -o ≡ --output
//	wget                -O ≡ --output-document, --post-data ≡ --post-file
//	kill                -9 ≡ -KILL ≡ -SIGKILL
//	find                single-dash options are whole words (-delete)
//	git push            -f ≡ --force ≡ --force-with-lease ≡ --force-if-includes, also
//	                    satisfied by --mirror and by a +refspec; -d ≡ --delete
//	git clean           -f ≡ --force (-d and -x as written)
//	git checkout        -f ≡ --force
//	git switch          -f ≡ --force ≡ --discard-changes
//	git commit          -n ≡ --no-verify
//	git branch          -d ≡ --delete, -f ≡ --force; -D is -d -f
//	npm pnpm yarn bun   the same command for publish; npm accepts abbreviations (npm pub)
//	shells              sh, bash, zsh, dash, … are the same command
//	curl wget           the same command in a pipeline stage with no other requirement
//
// A word known only at run time may stand for anything: a Dynamic or Glob
// argument meets every requirement it could (a glob must match the flag or
// operand; -r"$X" can be any flag but "/tmp/$X" no flag), and since an
// unquoted expansion or a glob can become several words it may meet several;
// a Dynamic command name matches every pattern name. A pipeline of command patterns (curl | sh)
// matches a pipeline whose stages match in order, not necessarily adjacent.
// A single word (kubectl, POST) matches a command with that name or a literal
// argument or assigned value equal to it. Anything else is a substring
// pattern, matched case-insensitively against the source and every word.
// Arguments of other commands are operands, not commands: rm -rf does not
// match echo rm -rf (the single-word pattern rm does).
package shellcmd

package shellcmd

// Assign is one variable assignment: a prefix assignment (FOO=1 cmd), a bare
// assignment statement, an argument of a declaration builtin, or a NAME=VALUE
// given to env(1) or sudo.
type Assign struct {
	Name   string // the variable name, without any array subscript
	Value  Word   // an array literal (a=(x y)) is a Dynamic word holding its source
	Append bool   // X+=…
}

// Redirect is one redirection of a command.
type Redirect struct {
	// Op is the operator as written: ">", ">>", "<", "<>", ">|", "&>", "&>>",
	// "<<", "<<-", "<<<", ">&", "<&".
	Op string
	// FD is the explicit file descriptor ("2" in 2>x, "{fd}" in {fd}>x) or "".
	FD string
	// Target is the file name, heredoc delimiter, here-string or dup target.
	Target Word
	// Reads reports that Target is a file opened for reading (<, <>).
	Reads bool
	// Writes reports that Target is a file opened for writing (>, >>, >|, &>,
	// &>>, <>, and >& or <& when the target is not a descriptor number or -).
	Writes bool
}

// Kind classifies a Command.
type Kind int

const (
	// Program is a command the engine checks against the allow-list:
	// binaries and builtins such as cd, eval, source, alias, trap, set.
	Program Kind = iota
	// Wrapper is a shell keyword or builtin that only runs its arguments as a
	// command: command, builtin, exec and the time keyword.
	Wrapper
	// Assignment is an assignment-only statement (X=1; Name.Value is "") or a
	// declaration builtin (export, declare, typeset, local, readonly; Name is
	// the builtin). A statement made only of redirections (> f) is an
	// Assignment with no Assigns, so that its redirections are listed.
	Assignment
)

// String returns the name of k.
func (k Kind) String() string {
	switch k {
	case Program:
		return "program"
	case Wrapper:
		return "wrapper"
	case Assignment:
		return "assignment"
	}
	return "kind(?)"
}

// Command is one simple command that would execute.
type Command struct {
	Kind Kind
	// Name is the command name as written ("/bin/rm"; \rm has Value "rm").
	Name Word
	Args []Word
	// Assigns holds prefix assignments, NAME=VALUE pairs given to env(1) or
	// sudo (on that entry), and the assignments of a declaration builtin.
	Assigns []Assign
	// Redirects holds the command's redirections followed by those of the
	// compound commands ({ }, ( ), loops, function bodies) that enclose it.
	Redirects []Redirect
	// Parent is the index in Line.Commands of the command that runs this one
	// (sudo, env, sh -c, eval, xargs, find -exec, command, …), or -1.
	Parent int
	// Via says how the command is reached from Parent: "sudo", "env",
	// "sh -c" (any shell), "eval", "trap", "alias", "xargs", "find -exec", …;
	// "" when Parent is -1.
	Via string
	// Opaque reports that the command runs, or is, a command that cannot be
	// determined exactly: a Dynamic or Glob name, a shell reading its script
	// from stdin, eval of a Dynamic word, an unknown option of a wrapper, an
	// arithmetic evaluation of data that could hide code. Engines deny it.
	Opaque bool
	// Pipeline is the id (>0) of the pipeline this command is a stage of, or
	// 0. Commands run by a stage (through Parent, or nested in a subshell,
	// block or substitution of the stage) carry the stage's id and Stage.
	Pipeline int
	// Stage is the 0-based position in the pipeline. A pipeline nested in a
	// stage is numbered into the enclosing one, so that a smaller Stage always
	// means "runs upstream of".
	Stage int
	// Depth is the nesting depth: 0 at top level, +1 per subshell, command or
	// process substitution, and string parsed again (sh -c, eval, trap, …).
	Depth int
}

// Line is a parsed command line.
type Line struct {
	Source string
	// Commands lists every command in source order, each wrapper before the
	// commands it runs and before the substitutions in its arguments.
	Commands []Command
}

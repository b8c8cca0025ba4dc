// Package cond compiles and evaluates the CEL expressions that policies use in
// `when:` clauses. Expressions are type-checked when the policy loads, must
// yield a bool, and run under a cost limit, so a condition can neither fail
// at run time for a reason visible at load time nor run for long.
//
// An expression sees three variables: tool (string), input (the action's
// input as a map) and session (counters such as actions_evaluated, or an
// empty map when no session is known).
package cond

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
)

// CostLimit bounds the work one evaluation may do.
const CostLimit = 100_000

// MaxLen bounds the length of an expression's source.
const MaxLen = 4096

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

func sharedEnv() (*cel.Env, error) {
	envOnce.Do(func() {
		env, envErr = cel.NewEnv(
			cel.Variable("tool", cel.StringType),
			cel.Variable("input", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("session", cel.MapType(cel.StringType, cel.DynType)),
			ext.Strings(),
		)
	})
	return env, envErr
}

// Program is a compiled condition.
type Program struct {
	src string
	prg cel.Program
}

// Compile type-checks expr and prepares it for evaluation.
func Compile(expr string) (*Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	if len(expr) > MaxLen {
		return nil, fmt.Errorf("expression is %d bytes; the limit is %d", len(expr), MaxLen)
	}
	e, err := sharedEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL: %s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("the expression yields %s; it must yield a bool", ast.OutputType())
	}
	prg, err := e.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("invalid CEL: %w", err)
	}
	return &Program{src: expr, prg: prg}, nil
}

// String returns the expression's source.
func (p *Program) String() string { return p.src }

// Eval runs the condition. An evaluation error (a missing key, a cost
// overrun, a non-bool result) is returned to the caller, which decides how to
// fail closed.
func (p *Program) Eval(tool string, input, session map[string]any) (bool, error) {
	if input == nil {
		input = map[string]any{}
	}
	if session == nil {
		session = map[string]any{}
	}
	out, _, err := p.prg.Eval(map[string]any{"tool": tool, "input": input, "session": session})
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition yielded %s, not a bool", out.Type())
	}
	return bool(b), nil
}

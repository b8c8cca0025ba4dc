package fsserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// commandOutput is the part of command:run's output this package uses.
type commandOutput struct {
	ExitCode    int    `json:"exitCode"`
	Stdout      string `json:"stdout"`
	Stderr      string `json:"stderr"`
	StdoutBytes int64  `json:"stdoutBytes"`
	StderrBytes int64  `json:"stderrBytes"`
	Truncated   bool   `json:"truncated"`
	TimedOut    bool   `json:"timedOut"`
}

// runCommand is run_command, Warden's governed command tool: the
// command:run adapter parses the line with the parser the policy checked
// it with and runs it without a shell, re-checking every program it
// starts. The answer is stdout, then stderr, then "Exit code: N" when the
// command failed; a failure is an error result.
func runCommand(in map[string]any) (runFunc, error) {
	if err := executor.Known(in, "command", "args", "cwd", "timeout"); err != nil {
		return nil, err
	}
	run := executor.Input{}
	for _, k := range []string{"command", "args", "cwd", "timeout"} {
		if v, ok := in[k]; ok && v != nil {
			run[k] = v
		}
	}
	a, ok := adapters().Lookup("command:run")
	if !ok {
		return nil, warden.Errorf(warden.CodeNoExecutor, "no executor for command:run")
	}
	if err := a.Validate(run); err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		if cwd, _ := run["cwd"].(string); cwd != "" {
			if _, err := c.resolve(cwd); err != nil {
				return nil, err
			}
		}
		out, runErr := c.exec(ctx, "command:run", run)
		if out == nil {
			return nil, runErr
		}
		var res commandOutput
		if err := decodeOutput(out, &res); err != nil {
			return out, err
		}
		var sb strings.Builder
		add := func(s string) {
			if s == "" {
				return
			}
			if sb.Len() > 0 && !strings.HasSuffix(sb.String(), "\n") {
				sb.WriteByte('\n')
			}
			sb.WriteString(s)
		}
		add(res.Stdout)
		add(res.Stderr)
		if res.Truncated {
			add(fmt.Sprintf("[output cut: the command wrote %d bytes to stdout and %d to stderr]", res.StdoutBytes, res.StderrBytes))
		}
		switch {
		case res.TimedOut:
			add(errorMessage(runErr))
		case runErr != nil && res.ExitCode == -1:
			add(errorMessage(runErr))
		case res.ExitCode != 0:
			add(fmt.Sprintf("Exit code: %d", res.ExitCode))
		}
		text := sb.String()
		out.Output = &mcp.CallToolResult{
			Content:           []mcp.Content{&mcp.TextContent{Text: text}},
			StructuredContent: map[string]any{"content": text, "exitCode": res.ExitCode},
			IsError:           runErr != nil || res.ExitCode != 0,
		}
		out.Irreversible = true
		return out, runErr
	}, nil
}

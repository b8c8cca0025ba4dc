package mcpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// TestMain lets the test binary act as a stdio MCP backend: with
// MCPPROXY_TEST_BACKEND set, it serves the fake backend on stdin/stdout.
func TestMain(m *testing.M) {
	if name := os.Getenv("MCPPROXY_TEST_BACKEND"); name != "" {
		fmt.Fprintln(os.Stderr, "backend starting")
		f := newFake(name)
		if err := f.server.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "backend:", err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testPolicy allows echo, reads inside the project, slow, progress, crash
// and env; forbids .env files; gates deploy (for a human, no timeout) and
// launch (1 minute).
const testPolicy = `name: proxy-test
capabilities:
  - tool: echo
    scope: {}
  - tool: file:read
    scope: {paths: ["./**"]}
  - tool: slow
    scope: {}
  - tool: progress
    scope: {}
  - tool: crash
    scope: {}
  - tool: env
    scope: {}
  - tool: fail
    scope: {}
  - tool: deploy
    scope: {}
  - tool: launch
    scope: {}
  - tool: logme
    scope: {}
  - tool: added
    scope: {}
limits:
  max_output_bytes: 1000000
session:
  max_actions: 500
forbidden:
  - path: "**/.env"
gates:
  - action: deploy
    approval: human
    agent_prompt: true
  - action: launch
    approval: human
    timeout: 1m
    agent_prompt: true
`

// fake is an MCP backend for tests.
type fake struct {
	name   string
	server *mcp.Server

	mu    sync.Mutex
	calls map[string]int
	// cancelled receives when a slow call sees its context end.
	cancelled chan struct{}
}

func (f *fake) count(tool string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[tool]
}

func (f *fake) called(tool string) {
	f.mu.Lock()
	f.calls[tool]++
	f.mu.Unlock()
}

var objectSchemaOf = func(props ...string) map[string]any {
	p := map[string]any{}
	for _, n := range props {
		p[n] = map[string]any{"type": "string"}
	}
	return map[string]any{"type": "object", "properties": p}
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func argsOf(req *mcp.CallToolRequest) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(req.Params.Arguments, &m)
	return m
}

func newFake(name string) *fake {
	f := &fake{name: name, calls: map[string]int{}, cancelled: make(chan struct{}, 4)}
	f.server = mcp.NewServer(&mcp.Implementation{Name: "fake-" + name, Version: "1"}, nil)
	add := func(tool string, h mcp.ToolHandler, props ...string) {
		f.server.AddTool(&mcp.Tool{Name: tool, Description: tool + " from " + name, InputSchema: objectSchemaOf(props...)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			f.called(tool)
			return h(ctx, req)
		})
	}
	add("echo", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult(name + ":" + fmt.Sprint(argsOf(req)["text"])), nil
	}, "text")
	add("read_text_file", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("contents of " + fmt.Sprint(argsOf(req)["path"])), nil
	}, "path")
	add("write_file", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("wrote " + fmt.Sprint(argsOf(req)["path"])), nil
	}, "path", "content")
	add("deploy", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("deployed " + fmt.Sprint(argsOf(req)["target"])), nil
	}, "target")
	add("launch", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("launched"), nil
	})
	add("fail", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "it broke"}}}, nil
	})
	add("slow", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-ctx.Done():
			f.cancelled <- struct{}{}
			return nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return textResult("slept"), nil
		}
	})
	add("progress", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			for i := range 3 {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: 3, Message: fmt.Sprintf("step %d", i+1)})
			}
		}
		return textResult("done"), nil
	})
	add("logme", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "warning", Data: "hello from " + name})
		return textResult("logged"), nil
	})
	add("crash", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		fmt.Fprintln(os.Stderr, "crashing now")
		os.Exit(3)
		return nil, nil
	})
	add("env", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult(strings.Join(os.Environ(), "\n")), nil
	})
	f.server.AddResource(&mcp.Resource{URI: "mem://" + name + "/notes", Name: "notes", MIMEType: "text/plain"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		f.called("resource")
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "notes of " + name}}}, nil
	})
	f.server.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "file:///{+path}", Name: "files"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		f.called("file-resource")
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "file " + req.Params.URI}}}, nil
	})
	f.server.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "who"}}}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello " + req.Params.Arguments["who"] + " from " + name}}}}, nil
	})
	return f
}

// connectFake serves f over an in-memory transport and returns the
// backend for the proxy.
func connectFake(t testing.TB, f *fake) Backend {
	t.Helper()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := f.server.Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	return Backend{Name: f.name, Transport: ct}
}

// env is a proxy under test with an agent connected to it.
type env struct {
	t     testing.TB
	dir   string
	db    string
	in    *instance.Instance
	proxy *Proxy
	agent *mcp.ClientSession
	log   *syncBuffer

	listChanged atomic.Int64
	progress    chan *mcp.ProgressNotificationParams
	logs        chan *mcp.LoggingMessageParams
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type envOpts struct {
	policy   string
	gateWait time.Duration
	builtin  *Builtin
	version  string // protocol version for the agent
}

// newEnv starts a proxy over backends with the test policy, in a fresh
// project directory and database, and connects an agent named
// "test-agent".
func newEnv(t testing.TB, o envOpts, backends ...Backend) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, dir: t.TempDir(), log: &syncBuffer{}, progress: make(chan *mcp.ProgressNotificationParams, 100), logs: make(chan *mcp.LoggingMessageParams, 100)}
	e.db = filepath.Join(e.dir, ".warden", "warden.db")
	in, err := instance.Open(ctx, e.db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.in = in
	pol := o.policy
	if pol == "" {
		pol = testPolicy
	}
	p, err := Start(ctx, Options{
		Gateway: in.Gateway, Store: sqlite.NewGatewayStore(in.DB, in.Ledger), Policy: []byte(pol), PolicyName: "policy.yaml",
		Root: e.dir, Owner: "tester", Metadata: map[string]any{"team": "qa"}, Backends: backends, Builtin: o.builtin,
		GateWait: o.gateWait, PublicURL: "http://warden.example:3100", Log: e.log, Version: "test",
	})
	if err != nil {
		in.Close()
		t.Fatal(err)
	}
	e.proxy = p
	e.agent = e.connectAgent(o.version)
	t.Cleanup(func() {
		e.agent.Close()
		p.Close(context.Background())
		in.Close()
	})
	return e
}

func (e *env) connectAgent(version string) *mcp.ClientSession {
	e.t.Helper()
	st, ct := mcp.NewInMemoryTransports()
	go e.proxy.Run(context.Background(), st)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "9"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { e.listChanged.Add(1) },
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			e.progress <- req.Params
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) { e.logs <- req.Params },
	})
	cs, err := client.Connect(context.Background(), ct, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func (e *env) call(name string, args map[string]any) *mcp.CallToolResult {
	e.t.Helper()
	res, err := e.agent.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		e.t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func (e *env) report() *gateway.Report {
	e.proxy.Flush()
	e.t.Helper()
	rep, err := e.in.Gateway.Report(context.Background(), e.proxy.SessionID(), true)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func text(res *mcp.CallToolResult) string {
	return resultText(res.Content)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutines returns the number of goroutines once it stops falling.
func goroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

var _ = io.Discard

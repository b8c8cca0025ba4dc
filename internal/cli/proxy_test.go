package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/fsserver"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/mcpproxy"
)

// proxyStopWait bounds how long a stopping proxy may take: far more than
// it needs, so that a busy machine does not fail the test, and far less
// than a hang.
const proxyStopWait = 15 * time.Second

// cliProxyPolicy lets the agent read the project, never a .env file.
const cliProxyPolicy = `name: cli-proxy
capabilities:
  - tool: file:read
    scope: {paths: ["./**"]}
forbidden:
  - path: "**/.env"
`

// proxyTestProject is a directory holding the policy, bin/warden and the
// project the proxy serves (notes.txt and a .env it must never show).
type proxyTestProject struct {
	dir, project, policy, warden string
}

func newProxyTestProject(t *testing.T) *proxyTestProject {
	t.Helper()
	dir := t.TempDir()
	p := &proxyTestProject{dir: dir, project: filepath.Join(dir, "project"), policy: filepath.Join(dir, "policy.yaml")}
	for _, err := range []error{
		os.Mkdir(p.project, 0o755),
		os.WriteFile(filepath.Join(p.project, "notes.txt"), []byte("hello notes\n"), 0o644),
		os.WriteFile(filepath.Join(p.project, ".env"), []byte("SECRET=hunter2\n"), 0o600),
		os.WriteFile(p.policy, []byte(cliProxyPolicy), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.warden = serverBin(t, dir)
	return p
}

// db is the database of a proxy run in simplified mode on the project.
func (p *proxyTestProject) db() string { return filepath.Join(p.project, DefaultDB) }

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newAgent() *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "cli-test-agent", Version: "1"}, nil)
}

// listTools returns the names of the tools the session offers.
func listTools(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// callText calls a tool and returns its text and whether it is an error.
func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n"), res.IsError
}

// sessionOf asks warden_status for the proxy's session id.
func sessionOf(t *testing.T, cs *mcp.ClientSession) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: mcpproxy.StatusTool})
	if err != nil || res.IsError {
		t.Fatalf("warden_status: %v %v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var st mcpproxy.Status
	if err := json.Unmarshal(b, &st); err != nil || st.SessionID == "" {
		t.Fatalf("warden_status content %s: %v", b, err)
	}
	return st.SessionID
}

// checkCalls reads notes.txt and is refused .env, through the tool name.
func checkCalls(t *testing.T, cs *mcp.ClientSession, tool string) {
	t.Helper()
	if got, isErr := callText(t, cs, tool, map[string]any{"path": "notes.txt"}); isErr || !strings.Contains(got, "hello notes") {
		t.Fatalf("reading notes.txt: %v %q", isErr, got)
	}
	got, isErr := callText(t, cs, tool, map[string]any{"path": ".env"})
	if !isErr || !strings.HasPrefix(got, "Action denied by policy: ") || strings.Contains(got, "hunter2") {
		t.Fatalf("reading .env: %v %q", isErr, got)
	}
}

// terminatedSession opens db as another process would and returns the
// session, which must have been terminated because the proxy stopped.
func terminatedSession(t *testing.T, db, sid string) *gateway.Session {
	t.Helper()
	in, err := instance.Open(context.Background(), db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s, err := in.Gateway.Session(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != gateway.Terminated || s.TerminationReason != mcpproxy.StopReason {
		t.Errorf("session %s: state %s, reason %q; want %s with %q", sid, s.State, s.TerminationReason, gateway.Terminated, mcpproxy.StopReason)
	}
	return s
}

// TestProxyStdio runs warden proxy --policy as an agent does: the Go SDK
// client starts it and talks over its stdin and stdout, then closes stdin.
func TestProxyStdio(t *testing.T) {
	t.Parallel()
	p := newProxyTestProject(t)
	cmd := exec.Command(p.warden, "proxy", "--policy", p.policy, "--dir", p.project)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := newAgent().Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: time.Minute}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr)
	}
	want := []string{mcpproxy.StatusTool}
	for _, tool := range fsserver.Tools() {
		want = append(want, tool.Name)
	}
	slices.Sort(want)
	if got := listTools(t, cs); !slices.Equal(got, want) {
		t.Errorf("tools/list:\n got %v\nwant %v", got, want)
	}
	checkCalls(t, cs, "read_text_file")
	sid := sessionOf(t, cs)
	if !strings.Contains(stderr.String(), "warden proxy: session "+sid+" under ") {
		t.Errorf("stderr does not name the session:\n%s", stderr)
	}

	// Closing the client closes the proxy's stdin: it stops at once, exit 0.
	start := time.Now()
	if err := cs.Close(); err != nil {
		t.Fatalf("the proxy did not exit cleanly on stdin EOF: %v\n%s", err, stderr)
	}
	if d := time.Since(start); d > proxyStopWait {
		t.Errorf("the proxy took %s to stop on stdin EOF", d)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	s := terminatedSession(t, p.db(), sid)
	if s.Metadata["source"] != "mcp-proxy" || s.Metadata["agent"] != "cli-test-agent" || s.Metadata["project"] != p.project {
		t.Errorf("session metadata %v", s.Metadata)
	}
	if s.Counters.Allowed != 1 || s.Counters.Denied != 1 {
		t.Errorf("counters %+v", s.Counters)
	}
}

// pipedProxy is a warden proxy process whose stdin the test holds open.
type pipedProxy struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	cs     *mcp.ClientSession
	stderr *lockedBuffer
	exited chan error
}

func startPipedProxy(t *testing.T, warden string, args ...string) *pipedProxy {
	t.Helper()
	pp := &pipedProxy{cmd: exec.Command(warden, args...), stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	pp.cmd.Stderr = pp.stderr
	var err error
	if pp.stdin, err = pp.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := pp.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { pp.exited <- pp.cmd.Wait() }()
	t.Cleanup(func() {
		pp.cmd.Process.Kill()
		pp.stdin.Close()
	})
	// The client's Close would close stdin; the test closes nothing until
	// the process has exited.
	pp.cs, err = newAgent().Connect(context.Background(), &mcp.IOTransport{Reader: stdout, Writer: nopWriteCloser{pp.stdin}}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, pp.stderr)
	}
	return pp
}

// waitExit waits for the process to exit and returns its exit code.
func (pp *pipedProxy) waitExit(t *testing.T, what string) int {
	t.Helper()
	select {
	case <-pp.exited:
		return pp.cmd.ProcessState.ExitCode()
	case <-time.After(proxyStopWait):
		t.Fatalf("the proxy did not exit within %s of %s\n%s", proxyStopWait, what, pp.stderr)
		return -1
	}
}

// TestProxyStopsOnSignal: SIGTERM and SIGINT stop the proxy cleanly while
// the agent still holds its stdin open, ending the session.
func TestProxyStopsOnSignal(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			p := newProxyTestProject(t)
			pp := startPipedProxy(t, p.warden, "proxy", "--policy", p.policy, "--dir", p.project)
			checkCalls(t, pp.cs, "read_text_file")
			sid := sessionOf(t, pp.cs)
			if err := pp.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := pp.waitExit(t, sig.String()); code != 0 {
				t.Errorf("exit code %d after %s\n%s", code, sig, pp.stderr)
			}
			terminatedSession(t, p.db(), sid)
		})
	}
}

// servingProxy is a warden proxy process serving agents over HTTP.
type servingProxy struct {
	cmd    *exec.Cmd
	sid    string
	stderr *lockedBuffer
	exited chan error
}

// startServing starts cmd and waits until its stderr says it serves MCP at
// url (with transport in parentheses).
func startServing(t *testing.T, cmd *exec.Cmd, transport, url string) *servingProxy {
	t.Helper()
	sp := &servingProxy{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderrPipe)
		for sc.Scan() {
			fmt.Fprintln(sp.stderr, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
		sp.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	for serving := false; !serving; {
		select {
		case l := <-lines:
			if m := regexp.MustCompile(`^warden proxy: session (\S+) `).FindStringSubmatch(l); m != nil {
				sp.sid = m[1]
			}
			serving = strings.Contains(l, "serving MCP ("+transport+") at "+url+"; loopback: no token needed")
		case err := <-sp.exited:
			t.Fatalf("the proxy exited before serving: %v\n%s", err, sp.stderr)
		case <-time.After(time.Minute):
			t.Fatalf("the proxy did not start serving\n%s", sp.stderr)
		}
	}
	return sp
}

// stop sends SIGTERM and waits for a clean, prompt exit.
func (sp *servingProxy) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	sp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-sp.exited:
		if err != nil {
			t.Fatalf("the proxy did not exit cleanly on SIGTERM: %v\n%s", err, sp.stderr)
		}
	case <-time.After(proxyStopWait):
		t.Fatalf("the proxy did not exit on SIGTERM\n%s", sp.stderr)
	}
	// An agent's open event stream must not hold the proxy up (the HTTP
	// server's shutdown would wait for it for seconds).
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the proxy took %s to stop with an agent connected", d)
	}
}

// TestProxyHTTP serves the agent over Streamable HTTP on loopback, where
// no token is needed, and stops on SIGTERM with the agent connected.
func TestProxyHTTP(t *testing.T) {
	t.Parallel()
	p := newProxyTestProject(t)
	addr := freeAddr(t)
	endpoint := "http://" + addr + mcpproxy.PathHTTP
	sp := startServing(t, exec.Command(p.warden, "proxy", "--policy", p.policy, "--dir", p.project, "--http", addr), "http", endpoint)
	for _, v := range []string{"2025-06-18", "2026-07-28"} {
		cs, err := newAgent().Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: v})
		if err != nil {
			t.Fatalf("connect over HTTP (%s): %v\n%s", v, err, sp.stderr)
		}
		defer cs.Close()
		if got := cs.InitializeResult().ProtocolVersion; got != v {
			t.Errorf("negotiated %s, want %s", got, v)
		}
		if tools := listTools(t, cs); !slices.Contains(tools, "read_text_file") || !slices.Contains(tools, mcpproxy.StatusTool) {
			t.Errorf("tools/list over HTTP: %v", tools)
		}
		checkCalls(t, cs, "read_text_file")
		if got := sessionOf(t, cs); got != sp.sid {
			t.Errorf("warden_status names session %s, the proxy said %s", got, sp.sid)
		}
	}
	// Only the MCP path is served.
	if resp, err := http.Get("http://" + addr + "/other"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %d", resp.StatusCode)
	}
	sp.stop(t)
	terminatedSession(t, p.db(), sp.sid)
}

// TestProxyConfigSSE: a configuration with transport: sse (det-acp's name
// for it), host and port serves legacy SSE agents there.
func TestProxyConfigSSE(t *testing.T) {
	t.Parallel()
	p := newProxyTestProject(t)
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	// The backend is a second warden proxy, in simplified mode on the
	// project, which is a stdio MCP server like any other.
	cfg := fmt.Sprintf("policy: policy.yaml\ndir: project\ntransport: sse\nhost: 127.0.0.1\nport: %s\nbackends:\n  - name: inner\n    command: %q\n    args: [proxy, --policy, %q, --db, %q]\n",
		port, p.warden, p.policy, filepath.Join(p.dir, "inner.db"))
	if err := os.WriteFile(filepath.Join(p.dir, "proxy.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.warden, "proxy", "proxy.yaml")
	cmd.Dir = p.dir
	endpoint := "http://" + addr + mcpproxy.PathSSE
	sp := startServing(t, cmd, "sse", endpoint)
	cs, err := newAgent().Connect(context.Background(), &mcp.SSEClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatalf("connect over SSE: %v\n%s", err, sp.stderr)
	}
	defer cs.Close()
	if tools := listTools(t, cs); !slices.Contains(tools, "read_text_file") || !slices.Contains(tools, "inner__"+mcpproxy.StatusTool) {
		t.Errorf("tools/list over SSE: %v", tools)
	}
	checkCalls(t, cs, "read_text_file")
	if got := sessionOf(t, cs); got != sp.sid {
		t.Errorf("warden_status names session %s, the proxy said %s", got, sp.sid)
	}
	sp.stop(t)
	terminatedSession(t, p.db(), sp.sid)
}

// TestProxyConfigMode runs warden proxy CONFIG.yaml in front of a Go
// stdio backend (the test binary as warden-bench backend, which offers
// read_text_file): its tools are mirrored and governed, and the session
// carries the configuration's metadata.
func TestProxyConfigMode(t *testing.T) {
	t.Parallel()
	p := newProxyTestProject(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(p.dir, "bin", benchHelperCmd)
	if err := os.Symlink(exe, helper); err != nil {
		t.Fatal(err)
	}
	// det-acp's format: relative paths are resolved against this file, and
	// the database goes in ledger_dir.
	cfg := fmt.Sprintf(`policy: policy.yaml
dir: project
ledger_dir: state
backends:
  - name: files
    transport: stdio
    command: %q
    args: [backend]
transport: stdio
session_metadata:
  team: cli-tests
`, helper)
	cfgFile := filepath.Join(p.dir, "warden-proxy.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.warden, "proxy", "warden-proxy.yaml")
	cmd.Dir = p.dir
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	cs, err := newAgent().Connect(context.Background(), &mcp.CommandTransport{Command: cmd, TerminateDuration: time.Minute}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr)
	}
	if got := listTools(t, cs); !slices.Equal(got, []string{"read_text_file", mcpproxy.StatusTool}) {
		t.Errorf("tools/list: %v", got)
	}
	// The backend runs in the project (the configuration's dir) and reads
	// relative paths from there.
	checkCalls(t, cs, "read_text_file")
	sid := sessionOf(t, cs)
	if err := cs.Close(); err != nil {
		t.Fatalf("the proxy did not exit cleanly: %v\n%s", err, stderr)
	}
	db := filepath.Join(p.dir, "state", "warden.db")
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the database is not in ledger_dir: %v", err)
	}
	if _, err := os.Stat(p.db()); err == nil {
		t.Error("a database was made in the project too")
	}
	s := terminatedSession(t, db, sid)
	if s.Metadata["team"] != "cli-tests" || s.Metadata["source"] != "mcp-proxy" || s.Root != p.project {
		t.Errorf("session root %s, metadata %v", s.Root, s.Metadata)
	}
	if b, _ := s.Metadata["backends"].([]any); len(b) != 1 || b[0] != "files" {
		t.Errorf("backends in metadata: %v", s.Metadata["backends"])
	}
}

// TestProxyConfigBackendFails: a backend that cannot start stops the proxy
// with a clear error and exit 1, leaving no session active.
func TestProxyConfigBackendFails(t *testing.T) {
	t.Parallel()
	p := newProxyTestProject(t)
	cfg := "policy: policy.yaml\ndir: project\nbackends:\n  - {name: broken, command: " + filepath.Join(p.dir, "no-such-server") + "}\n"
	if err := os.WriteFile(filepath.Join(p.dir, "proxy.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.warden, "proxy", "proxy.yaml")
	cmd.Dir = p.dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != ExitFailure {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "backend broken") || !strings.Contains(string(out), "no-such-server") {
		t.Errorf("output does not name the backend and its command:\n%s", out)
	}
	in, err := instance.Open(context.Background(), p.db(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	list, err := in.Gateway.Sessions(context.Background(), gateway.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.State != gateway.Terminated {
			t.Errorf("session %s left %s", s.ID, s.State)
		}
	}
}

// nopWriteCloser leaves the proxy's stdin open when the client closes.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/nodeclient"
)

// The proxy benchmarks drive warden proxy with the Go SDK's client over
// stdio, one call at a time as an agent does, and compare it with the same
// backend called directly. Environment:
//
//	WARDEN_BENCH_DBDIR=/dev/shm    put the proxy's database there (on tmpfs,
//	                               fsync costs nothing: the difference is the
//	                               price of durability)
//	WARDEN_BENCH_CPUPROFILE=FILE   write a CPU profile of each proxy process
//	                               to FILE.N (N counts the processes); the
//	                               test binary runs the proxy then
//	WARDEN_BENCH_BIN=PATH          run this warden binary (go build
//	                               ./cmd/warden) as the proxy instead of the
//	                               test binary, which is larger

// benchHelperCmd is the name the test binary answers to as the benchmarks'
// helper (registered in TestMain): "backend" serves a small Go MCP server
// over stdio; "profile FILE ARGS..." runs warden ARGS under a CPU profile.
const benchHelperCmd = "warden-bench"

// benchHelperMain is the helper command.
func benchHelperMain() {
	args := os.Args[1:]
	switch {
	case len(args) == 1 && args[0] == "backend":
		if err := benchBackend().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "backend:", err)
			os.Exit(1)
		}
	case len(args) >= 2 && args[0] == "profile":
		f, err := os.Create(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		code := Main(context.Background(), args[2:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	default:
		fmt.Fprintln(os.Stderr, "usage: "+benchHelperCmd+" backend | profile FILE WARDEN-ARGS...")
		os.Exit(2)
	}
}

// benchBackend is a Go MCP server with the reference filesystem server's
// read_text_file (path only) and nothing else: a stdio backend whose own
// cost is small, so the proxy's share of a call is easy to see.
func benchBackend() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "warden-bench-backend", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{
		Name:        "read_text_file",
		Description: "Read a whole file as text.",
		InputSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"path": map[string]any{"type": "string"}},
			"required":   []string{"path"},
		},
	}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct {
			Path string `json:"path"`
		}
		if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}, nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil
	})
	return s
}

// benchProxyPolicy allows reading the project; the forbidden rule makes
// every call run through the deny check too.
const benchProxyPolicy = "name: proxy-bench\ncapabilities:\n  - {tool: file:read, scope: {paths: [\"./**\"]}}\nforbidden: [{pattern: \"**/.env\"}]\n"

// proxyProject is a project for the proxy benchmarks: dir holds the
// policy, the configuration files and bin/ (warden and the helper);
// project is the root the tools serve, holding file, 100 bytes.
type proxyProject struct {
	dir, project, file string
	content            string
	warden, helper     string
	policy, db         string
}

// proxyStarts counts the proxy processes started, to name their profiles.
var proxyStarts atomic.Int64

func newProxyProject(tb testing.TB) *proxyProject {
	tb.Helper()
	dir := tb.TempDir()
	p := &proxyProject{dir: dir, project: filepath.Join(dir, "project"), policy: filepath.Join(dir, "policy.yaml")}
	p.file = filepath.Join(p.project, "notes.txt")
	p.content = strings.Repeat("0123456789abcdefghi\n", 5) // 100 bytes
	for _, err := range []error{
		os.Mkdir(p.project, 0o755),
		os.WriteFile(p.file, []byte(p.content), 0o644),
		os.WriteFile(p.policy, []byte(benchProxyPolicy), 0o644),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	p.warden = serverBin(tb, dir)
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	p.helper = filepath.Join(dir, "bin", benchHelperCmd)
	if err := os.Symlink(exe, p.helper); err != nil {
		tb.Fatal(err)
	}
	p.db = filepath.Join(p.project, DefaultDB)
	if d := os.Getenv("WARDEN_BENCH_DBDIR"); d != "" {
		sub, err := os.MkdirTemp(d, "warden-bench-")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(sub) })
		p.db = filepath.Join(sub, "warden.db")
	}
	return p
}

// builtinCmd is warden proxy in simplified mode on the project.
func (p *proxyProject) builtinCmd() *exec.Cmd {
	return p.wardenCmd("proxy", "--policy", p.policy, "--dir", p.project, "--db", p.db)
}

// configCmd is warden proxy in config mode in front of one stdio backend,
// command args.
func (p *proxyProject) configCmd(tb testing.TB, command string, args ...string) *exec.Cmd {
	tb.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var qargs []string
	for _, a := range args {
		qargs = append(qargs, q(a))
	}
	cfg := fmt.Sprintf("policy: %s\ndir: %s\nbackends:\n  - name: fs\n    command: %s\n    args: [%s]\n",
		q(p.policy), q(p.project), q(command), strings.Join(qargs, ", "))
	file := filepath.Join(p.dir, "proxy.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p.wardenCmd("proxy", file, "--db", p.db)
}

// wardenCmd runs warden args, under a CPU profile when
// WARDEN_BENCH_CPUPROFILE is set.
func (p *proxyProject) wardenCmd(args ...string) *exec.Cmd {
	n := proxyStarts.Add(1)
	if out := os.Getenv("WARDEN_BENCH_CPUPROFILE"); out != "" {
		return exec.Command(p.helper, append([]string{"profile", out + "." + strconv.FormatInt(n, 10)}, args...)...)
	}
	if bin := os.Getenv("WARDEN_BENCH_BIN"); bin != "" {
		return exec.Command(bin, args...)
	}
	return exec.Command(p.warden, args...)
}

// goBackendCmd is the Go backend, called directly.
func (p *proxyProject) goBackendCmd() *exec.Cmd { return exec.Command(p.helper, "backend") }

// nodeFS returns the node binary and the reference filesystem server's
// entry point, or why they cannot be used.
func nodeFS() (node, server, missing string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "", "node is not installed"
	}
	server = filepath.Join(nodeclient.Package("@modelcontextprotocol/server-filesystem"), "dist", "index.js")
	if _, err := os.Stat(server); err != nil {
		return "", "", "the e2e npm packages are not installed (run: npm ci --prefix e2e)"
	}
	return node, server, ""
}

// requireNodeFS skips the benchmark when the reference filesystem server
// cannot run.
func requireNodeFS(tb testing.TB) (node, server string) {
	tb.Helper()
	nodeclient.Require(tb)
	node, server, missing := nodeFS()
	if missing != "" {
		tb.Skipf("skipping the comparison with the reference filesystem server: %s", missing)
	}
	return node, server
}

// benchConn is one MCP client connected to a server process.
type benchConn struct {
	name   string
	cmd    *exec.Cmd
	cs     *mcp.ClientSession
	stderr *tailBuffer
	// Ready is the time from starting the process to its answer to
	// initialize.
	ready time.Duration
}

// connect starts cmd and initializes an MCP session with it over stdio.
func connect(tb testing.TB, name string, cmd *exec.Cmd) *benchConn {
	tb.Helper()
	c := &benchConn{name: name, cmd: cmd, stderr: &tailBuffer{}}
	cmd.Stderr = c.stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "warden-bench", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 10 * time.Second}, nil)
	c.ready = time.Since(start)
	if err != nil {
		if cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		tb.Fatalf("%s: connect: %v\n%s", name, err, c.stderr)
	}
	c.cs = cs
	tb.Cleanup(c.close)
	return c
}

// close ends the session, which stops the process, and waits for it.
func (c *benchConn) close() {
	if c.cs != nil {
		c.cs.Close()
		c.cs = nil
	}
}

// call reads path with read_text_file and returns how long the answer took.
func (c *benchConn) call(tb testing.TB, path, want string) time.Duration {
	start := time.Now()
	res, err := c.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": path}})
	d := time.Since(start)
	if err != nil {
		tb.Fatalf("%s: read_text_file: %v\n%s", c.name, err, c.stderr)
	}
	if want != "" {
		var text string
		if len(res.Content) == 1 {
			if t, ok := res.Content[0].(*mcp.TextContent); ok {
				text = t.Text
			}
		}
		if res.IsError || text != want {
			tb.Fatalf("%s: read_text_file answered %+v, want the file's text\n%s", c.name, res.Content, c.stderr)
		}
	}
	return d
}

// benchWarmup is the number of calls on each connection before timing.
const benchWarmup = 200

// callTimes are the latencies of one connection's timed calls and the CPU
// time its server process used per call (0 when unknown).
type callTimes struct {
	lat []time.Duration
	cpu time.Duration
}

// compareCalls warms every connection up, then makes n rounds of one
// sequential read on each connection in turn, so that all of them see the
// same load on the machine.
func (p *proxyProject) compareCalls(b *testing.B, n int, conns ...*benchConn) []callTimes {
	b.Helper()
	for _, c := range conns {
		for range benchWarmup {
			c.call(b, p.file, p.content)
		}
	}
	out := make([]callTimes, len(conns))
	cpu0 := make([]time.Duration, len(conns))
	for i, c := range conns {
		cpu0[i] = processCPU(c.cmd.Process.Pid)
	}
	b.ResetTimer()
	for range n {
		for i, c := range conns {
			out[i].lat = append(out[i].lat, c.call(b, p.file, ""))
		}
	}
	b.StopTimer()
	for i, c := range conns {
		if cpu0[i] >= 0 && n > 0 {
			out[i].cpu = (processCPU(c.cmd.Process.Pid) - cpu0[i]) / time.Duration(n)
		}
	}
	return out
}

// processCPU returns the user and system CPU time process pid has used
// (all its threads, not its children), or -1 when it cannot be read.
func processCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// pid (comm) state ppid ...: utime and stime are the 14th and 15th
	// fields, in clock ticks of 1/100 s.
	_, rest, ok := bytes.Cut(stat, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// percentile returns the q-th quantile (0 < q < 1) of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(float64(len(sorted))*q), len(sorted)-1)]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// reportCalls reports p50 and p99 (µs), calls/s of sequential calls and
// the server's CPU time per call (µs), each metric prefixed with name; it
// returns the p50.
func reportCalls(b *testing.B, name string, t callTimes) time.Duration {
	s := slices.Sorted(slices.Values(t.lat))
	var total time.Duration
	for _, d := range s {
		total += d
	}
	p50 := percentile(s, 0.50)
	b.ReportMetric(micros(p50), name+"_p50_us")
	b.ReportMetric(micros(percentile(s, 0.99)), name+"_p99_us")
	if total > 0 {
		b.ReportMetric(float64(len(s))/total.Seconds(), name+"_calls/s")
	}
	if t.cpu > 0 {
		b.ReportMetric(micros(t.cpu), name+"_cpu_us")
	}
	return p50
}

// reportComparison reports the direct and proxied figures and what the
// proxy adds to the p50 (negative when the proxy is faster).
func reportComparison(b *testing.B, direct, proxy callTimes) {
	d := reportCalls(b, "direct", direct)
	p := reportCalls(b, "proxy", proxy)
	b.ReportMetric(micros(p-d), "added_p50_us")
	b.ReportMetric(0, "ns/op") // one op is a call on each side: not a figure of either
}

// BenchmarkProxyBuiltin measures read_text_file of a 100-byte file through
// warden proxy in simplified mode (Warden's built-in filesystem tools,
// every call evaluated and recorded durably), beside the reference Node
// filesystem server called directly: p50 and p99 per call in µs, sequential
// calls/s, and added_p50_us (proxy minus direct). Without Node, only the
// proxy's figures are reported.
func BenchmarkProxyBuiltin(b *testing.B) {
	p := newProxyProject(b)
	proxy := connect(b, "warden proxy --policy", p.builtinCmd())
	node, server, missing := nodeFS()
	if missing != "" {
		b.Logf("reporting the proxy alone, without the direct comparison: %s", missing)
		reportCalls(b, "proxy", p.compareCalls(b, b.N, proxy)[0])
		return
	}
	direct := connect(b, "node server-filesystem", exec.Command(node, server, p.project))
	lat := p.compareCalls(b, b.N, direct, proxy)
	reportComparison(b, lat[0], lat[1])
}

// BenchmarkProxyStdio measures read_text_file of a 100-byte file through
// warden proxy in config mode in front of one stdio backend, beside the
// same backend called directly: "go" is a small Go MCP server (this test
// binary), "node" the reference Node filesystem server (skipped without
// Node).
func BenchmarkProxyStdio(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		p := newProxyProject(b)
		direct := connect(b, "go backend", p.goBackendCmd())
		proxy := connect(b, "warden proxy CONFIG (go backend)", p.configCmd(b, p.helper, "backend"))
		lat := p.compareCalls(b, b.N, direct, proxy)
		reportComparison(b, lat[0], lat[1])
	})
	b.Run("node", func(b *testing.B) {
		node, server := requireNodeFS(b)
		p := newProxyProject(b)
		direct := connect(b, "node server-filesystem", exec.Command(node, server, p.project))
		proxy := connect(b, "warden proxy CONFIG (node server-filesystem)", p.configCmd(b, node, server, p.project))
		lat := p.compareCalls(b, b.N, direct, proxy)
		reportComparison(b, lat[0], lat[1])
	})
}

// benchRSSCalls is how many calls the proxy has answered when its memory
// is read.
const benchRSSCalls = 1000

// BenchmarkProxyStartup starts warden proxy b.N times on a project whose
// database exists and reports the p50 time from the start of the process
// to its answer to initialize (ready_ms), beside the first start, which
// creates the database (first_ready_ms); then it makes 1,000 calls on one
// more proxy and reports that process's resident memory, backends not
// included (rss_mb; its peak, hwm_mb; and its anonymous part, heap and
// stacks, anon_mb). "builtin" is simplified mode; "config-go" config mode in
// front of the Go backend, whose start is part of the proxy's; "node" is
// the reference Node filesystem server alone, for comparison (skipped
// without Node).
func BenchmarkProxyStartup(b *testing.B) {
	for _, mode := range []string{"builtin", "config-go", "node"} {
		b.Run(mode, func(b *testing.B) {
			p := newProxyProject(b)
			var cmd func() *exec.Cmd
			switch mode {
			case "builtin":
				cmd = p.builtinCmd
			case "config-go":
				cmd = func() *exec.Cmd { return p.configCmd(b, p.helper, "backend") }
			case "node":
				node, server := requireNodeFS(b)
				cmd = func() *exec.Cmd { return exec.Command(node, server, p.project) }
			}
			first := connect(b, mode+": first start", cmd())
			first.close()
			var ready []time.Duration
			b.ResetTimer()
			for i := range b.N {
				c := connect(b, fmt.Sprintf("%s: start %d", mode, i+1), cmd())
				ready = append(ready, c.ready)
				b.StopTimer()
				c.close()
				b.StartTimer()
			}
			b.StopTimer()
			slices.Sort(ready)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(first.ready), "first_ready_ms")
			b.ReportMetric(ms(percentile(ready, 0.5)), "ready_ms")
			b.ReportMetric(ms(ready[len(ready)-1]), "ready_max_ms")

			c := connect(b, mode+": memory", cmd())
			for range benchRSSCalls {
				c.call(b, p.file, "")
			}
			if mem, err := procMemory(c.cmd.Process.Pid); err != nil {
				b.Logf("cannot read the process's memory: %v", err)
			} else {
				b.ReportMetric(float64(mem["VmRSS"])/1024, "rss_mb")
				b.ReportMetric(float64(mem["VmHWM"])/1024, "hwm_mb")
				b.ReportMetric(float64(mem["RssAnon"])/1024, "anon_mb")
			}
			c.close()
			b.ReportMetric(0, "ns/op")
		})
	}
}

// procMemory reads the memory lines (in kB) of /proc/PID/status: VmRSS,
// VmHWM, RssAnon, RssFile...
func procMemory(pid int) (map[string]int, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		v, kb := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok || !kb {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			m[k] = n
		}
	}
	if _, ok := m["VmRSS"]; !ok {
		return nil, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// tailBuffer keeps the last 8 kB written to it: a process's stderr, for
// messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(b)
	if over := t.buf.Len() - 8<<10; over > 0 {
		t.buf.Next(over)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

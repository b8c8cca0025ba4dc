package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverBin makes the test binary runnable as warden in dir/bin
// (testscript.Main in TestMain runs it as warden under that name).
func serverBin(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(os.Args[0], filepath.Join(bin, "warden")); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(bin, "warden")
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runServer starts warden serve on addr with its database in dir and
// returns once it answers.
func runServer(tb testing.TB, warden, dir, addr string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(warden, "serve", "--addr", addr)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			tb.Fatal("the server did not start")
		}
	}
}

// startServer runs warden serve on SQLite in dir, stopped at the end of
// the test, and returns its address, its admin token and the process.
func startServer(tb testing.TB, dir string) (string, string, *exec.Cmd) {
	tb.Helper()
	addr := freeAddr(tb)
	cmd := runServer(tb, serverBin(tb, dir), dir, addr)
	tb.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	tok, err := os.ReadFile(filepath.Join(dir, ".warden", "admin.token"))
	if err != nil {
		tb.Fatal(err)
	}
	return addr, strings.TrimSpace(string(tok)), cmd
}

func postJSON(client *http.Client, url, token string, body any) (map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return m, fmt.Errorf("status %d: %v", resp.StatusCode, m)
	}
	return m, nil
}

const benchServePolicy = "name: bench\ncapabilities:\n  - {tool: file:read, scope: {paths: [\"./src/**\"]}}\n  - {tool: command:run, scope: {binaries: [npm]}}\nforbidden: [{pattern: \"**/.env\"}, {pattern: \"rm -rf\"}]\n"

// BenchmarkServeEvaluate measures POST /v1/sessions/{id}/evaluate against
// a warden serve process on SQLite (durable before answering), from 8
// concurrent clients, over the five-action mix; it reports requests/s and
// the p99 latency.
func BenchmarkServeEvaluate(b *testing.B) {
	dir := b.TempDir()
	addr, token, _ := startServer(b, dir)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	mix := []map[string]any{
		{"tool": "file:read", "input": map[string]any{"path": "./src/engine/runtime.ts"}},
		{"tool": "file:read", "input": map[string]any{"path": "./.env"}},
		{"tool": "file:read", "input": map[string]any{"path": "/etc/passwd"}},
		{"tool": "command:run", "input": map[string]any{"command": "npm test -- --run"}},
		{"tool": "command:run", "input": map[string]any{"command": "rm -rf /"}},
	}
	const workers = 8
	sids := make([]string, workers)
	for i := range sids {
		m, err := postJSON(client, "http://"+addr+"/v1/sessions", token, map[string]any{"policy": benchServePolicy})
		if err != nil {
			b.Fatal(err)
		}
		sids[i] = m["data"].(map[string]any)["id"].(string)
	}
	per := max(b.N/workers, 1)
	lat := make([][]time.Duration, workers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			url := "http://" + addr + "/v1/sessions/" + sids[w] + "/evaluate"
			for i := range per {
				t0 := time.Now()
				if _, err := postJSON(client, url, token, mix[i%len(mix)]); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	}
}

// BenchmarkServeMemory creates 1,000 live sessions on a warden serve
// process, each with a few evaluations, and reports the server's resident
// memory.
func BenchmarkServeMemory(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		addr, token, cmd := startServer(b, dir)
		client := &http.Client{}
		for i := range 1000 {
			m, err := postJSON(client, "http://"+addr+"/v1/sessions", token, map[string]any{"policy": benchServePolicy, "metadata": map[string]any{"agent": i}})
			if err != nil {
				b.Fatal(err)
			}
			sid := m["data"].(map[string]any)["id"].(string)
			for _, p := range []string{"./src/a.ts", "./.env"} {
				if _, err := postJSON(client, "http://"+addr+"/v1/sessions/"+sid+"/evaluate", token, map[string]any{"tool": "file:read", "input": map[string]any{"path": p}}); err != nil {
					b.Fatal(err)
				}
			}
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			b.Skipf("cannot read the server's memory: %v", err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
				b.ReportMetric(float64(n)/1024, "rss-MB")
			}
		}
	}
}

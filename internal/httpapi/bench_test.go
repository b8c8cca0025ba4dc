package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/httpapi"
)

// benchPolicy is the SPEC §11 coding-agent policy in small.
const benchPolicy = `version: "1.0"
name: bench
capabilities:
  - tool: file:read
    scope: {paths: ["./src/**"]}
  - tool: command:run
    scope: {binaries: [npm]}
forbidden:
  - pattern: "**/.env"
  - pattern: "rm -rf"
`

// benchActions is SPEC §11's five-action mix.
var benchActions = [][]byte{
	[]byte(`{"tool": "file:read", "input": {"path": "./src/engine/runtime.ts"}}`),
	[]byte(`{"tool": "file:read", "input": {"path": "/workspace/project/.env"}}`),
	[]byte(`{"tool": "file:read", "input": {"path": "/etc/passwd"}}`),
	[]byte(`{"tool": "command:run", "input": {"command": "npm test -- --run"}}`),
	[]byte(`{"tool": "command:run", "input": {"command": "rm -rf /"}}`),
}

// BenchmarkEvaluateHTTP measures POST /v1/sessions/{id}/evaluate over a
// real loopback listener with 8 concurrent clients, each in its own
// session, over MemStore. It reports requests per second and the p99
// latency. MemStore rescans a session's actions for the rate limit on
// every evaluation, so each client moves to a fresh session every
// perSession requests to keep that cost out of the HTTP figure.
func BenchmarkEvaluateHTTP(b *testing.B) {
	const clients, perSession = 8, 64
	ctx := context.Background()
	gw := gateway.New(gateway.Config{Store: gateway.NewMemStore()})
	tokens := auth.NewMemStore()
	secret, _, err := auth.Issue(ctx, tokens, "bench-agent", auth.RoleAgent, nil)
	if err != nil {
		b.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{Gateway: gw, Tokens: tokens, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}}
	defer client.CloseIdleConnections()
	root := b.TempDir()
	newSession := func() string {
		s, err := gw.CreateSession(ctx, gateway.CreateRequest{Policy: []byte(benchPolicy), Root: root, Owner: "bench-agent"})
		if err != nil {
			b.Fatal(err)
		}
		return srv.URL + "/v1/sessions/" + s.ID + "/evaluate"
	}

	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 4096)
		var url string
		for n := 0; pb.Next(); n++ {
			if n%perSession == 0 {
				url = newSession()
			}
			t0 := time.Now()
			req, err := http.NewRequest("POST", url, bytes.NewReader(benchActions[n%len(benchActions)]))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+secret)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

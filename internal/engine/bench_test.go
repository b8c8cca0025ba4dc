package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// The five-action mix of SPEC §11, round-robin.
var benchMix = []warden.Action{
	{Tool: "file:read", Input: map[string]any{"path": "./src/engine/runtime.ts"}}, // allow
	{Tool: "file:read", Input: map[string]any{"path": "/workspace/project/.env"}}, // forbidden
	{Tool: "file:read", Input: map[string]any{"path": "/etc/passwd"}},             // out of scope
	{Tool: "command:run", Input: map[string]any{"command": "npm test -- --run"}},  // allow
	{Tool: "command:run", Input: map[string]any{"command": "rm -rf /"}},           // forbidden
}

var benchWant = []warden.Decision{warden.Allow, warden.Deny, warden.Deny, warden.Allow, warden.Deny}

// benchPolicy is the coding-agent example padded to about n rules with
// capabilities, gates and forbidden rules for other tools and paths.
func benchPolicy(b *testing.B, n int) *Engine {
	b.Helper()
	p, err := policy.LoadFile("../../examples/coding-agent.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for i := len(p.Capabilities) + len(p.Gates) + len(p.Forbidden); i < n; i += 3 {
		tool := fmt.Sprintf("custom:tool-%d", i)
		p.Capabilities = append(p.Capabilities, policy.Capability{Tool: tool, Scope: policy.Scope{Paths: []string{fmt.Sprintf("./area-%d/**", i)}}})
		p.Gates = append(p.Gates, policy.Gate{Action: tool, Approval: "human", MinApprovals: 1})
		if i%2 == 0 {
			p.Forbidden = append(p.Forbidden, policy.Forbidden{Path: fmt.Sprintf("**/secret-%d.key", i)})
		} else {
			p.Forbidden = append(p.Forbidden, policy.Forbidden{Command: fmt.Sprintf("tool-%d --destroy", i)})
		}
	}
	e, err := New(p, Options{Root: "/workspace/project", Home: "/home/agent"})
	if err != nil {
		b.Fatal(err)
	}
	for i, a := range benchMix {
		if v := e.Evaluate(Request{Action: a}); v.Decision != benchWant[i] {
			b.Fatalf("%v: %s (%q), want %s", a.Input, v.Decision, v.Reasons, benchWant[i])
		}
	}
	return e
}

// BenchmarkDecide measures a warm in-process decision over the five-action
// mix and reports the mean, p50 and p99 per decision.
func BenchmarkDecide(b *testing.B) {
	for _, rules := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
			e := benchPolicy(b, rules)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				e.Evaluate(Request{Action: benchMix[i%len(benchMix)]})
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "mean-ns")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkDecideEach measures each action of the mix alone.
func BenchmarkDecideEach(b *testing.B) {
	e := benchPolicy(b, 10)
	for _, a := range benchMix {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(fmt.Sprint(a.Tool, "=", a.Input["path"], a.Input["command"]))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate(Request{Action: a})
			}
		})
	}
}

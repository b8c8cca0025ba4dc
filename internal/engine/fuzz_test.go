package engine

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/warden"
)

// FuzzEvaluate feeds arbitrary tools and JSON inputs to the engine: it must
// never panic, always return a valid decision with a reason and a rule, and
// never allow a file:read whose path names the fixture's .env file.
func FuzzEvaluate(f *testing.F) {
	for _, seed := range []struct{ tool, input string }{
		{"file:read", `{"path": "src/a.ts"}`},
		{"file:read", `{"path": "./src/../.env"}`},
		{"read_multiple_files", `{"paths": ["src/a.ts", ".env", 3]}`},
		{"command:run", `{"command": "npm test && rm -rf /"}`},
		{"command:run", `{"command": "cat $(echo .env)", "cwd": "src"}`},
		{"command:run", `{"command": "git", "args": ["push", "--force"], "env": {"PATH": "/tmp"}}`},
		{"http:request", `{"url": "http://0x7f.1/", "method": "POST"}`},
		{"network:dns", `{"hostname": "API.example.com."}`},
		{"env:read", `{"name": ["A", {"b": 1}]}`},
		{"move_file", `{"source": "src/a", "destination": "~root/x"}`},
	} {
		f.Add(seed.tool, seed.input)
	}
	e, _ := corpusEngine(f)
	f.Fuzz(func(t *testing.T, tool, raw string) {
		var input map[string]any
		if json.Unmarshal([]byte(raw), &input) != nil {
			return
		}
		v := e.Evaluate(Request{Action: warden.Action{Tool: tool, Input: input}, Trace: true})
		if !v.Decision.Valid() || len(v.Reasons) == 0 || v.Rule == "" {
			t.Fatalf("incomplete verdict %+v", v)
		}
		if tool == "file:read" && v.Decision == warden.Allow {
			if s, ok := input["path"].(string); ok && strings.EqualFold(strings.TrimRight(s, "/"), ".env") {
				t.Fatalf("allowed %q", s)
			}
		}
	})
}

// Evaluations run concurrently on one engine and agree with a sequential run.
func TestConcurrentEvaluate(t *testing.T) {
	e, _ := corpusEngine(t)
	actions := []warden.Action{
		act("file:read", "path", "src/a.ts"), act("file:read", "path", ".env"),
		act("command:run", "command", "npm test && rm -rf /"), act("command:run", "command", "ls src/*.ts"),
		act("http:request", "url", "https://api.example.com/x"), act("network:dns", "hostname", "evil.com"),
	}
	want := make([]warden.Decision, len(actions))
	for i, a := range actions {
		want[i] = e.Evaluate(Request{Action: a}).Decision
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (i + g) % len(actions)
				if got := e.Evaluate(Request{Action: actions[k], Trace: i%2 == 0}).Decision; got != want[k] {
					errs <- string(got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a concurrent evaluation disagreed: %s", e)
	}
}

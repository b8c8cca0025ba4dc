package controlmcp

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/decision"
)

// t0 is when every test starts.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fixture is a control server over a fresh in-memory decision store, with
// a settable clock and a scripted executor, and an official Go SDK client
// connected to it in process.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *decision.MemStore
	clock *decision.Clock
	exec  *decision.ScriptedExecutor
	svc   *decision.Service
	srv   *Server
	cs    *mcp.ClientSession
}

func newFixture(t *testing.T, opts ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: decision.NewMemStore(), clock: decision.NewClock(t0), exec: &decision.ScriptedExecutor{}}
	f.svc = decision.New(decision.Config{Store: f.store, Executor: f.exec, Now: f.clock.Now})
	o := Options{Now: f.clock.Now, Version: "test"}
	for _, fn := range opts {
		fn(&o)
	}
	srv, err := New(f.svc, o)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	st, ct := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, st) }()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.cs = cs
	t.Cleanup(func() {
		cs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		// Whatever the tools did, every decision's cached state equals a
		// fresh replay of its events.
		page, err := f.store.List(context.Background(), decision.Filter{Limit: decision.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Decisions {
			decision.CheckReplay(t, f.store, d.ID)
		}
	})
	return f
}

// withDefault gives the server a default identity.
func withDefault(id string) func(*Options) {
	return func(o *Options) { o.DefaultActor = decision.Actor{Type: decision.Human, ID: id} }
}

// result is a decoded tool result.
type result struct {
	OK    bool           `json:"ok"`
	Data  map[string]any `json:"data"`
	Error *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
	raw *mcp.CallToolResult
}

// call calls a tool through the client and checks the envelope: the
// structured content and the text content hold the same JSON, isError is
// set exactly on errors, and an error has a code, a message and details.
func (f *fixture) call(name string, args map[string]any) *result {
	f.t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	res, err := f.cs.CallTool(f.ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	return checkEnvelope(f.t, name, res)
}

func checkEnvelope(t *testing.T, name string, res *mcp.CallToolResult) *result {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("%s: %d contents, want 1", name, len(res.Content))
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("%s: content is %T", name, res.Content[0])
	}
	structured, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal([]byte(text.Text), &a); err != nil {
		t.Fatalf("%s: text content is not JSON: %v\n%s", name, err, text.Text)
	}
	json.Unmarshal(structured, &b)
	if !jsonEqual(a, b) {
		t.Fatalf("%s: text and structured content differ:\n%s\n%s", name, text.Text, structured)
	}
	r := &result{raw: res}
	dec := json.NewDecoder(bytes.NewReader([]byte(text.Text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		t.Fatalf("%s: not the envelope: %v\n%s", name, err, text.Text)
	}
	switch {
	case r.OK && (r.Data == nil || r.Error != nil || res.IsError):
		t.Fatalf("%s: ok result without data, with an error, or with isError: %s", name, text.Text)
	case !r.OK && (r.Error == nil || r.Data != nil || !res.IsError):
		t.Fatalf("%s: error result without error, with data, or without isError: %s", name, text.Text)
	case !r.OK && (r.Error.Code == "" || r.Error.Message == "" || r.Error.Details == nil):
		t.Fatalf("%s: error without code, message or details: %s", name, text.Text)
	}
	return r
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// ok calls a tool that must succeed and returns its data.
func (f *fixture) ok(name string, args map[string]any) map[string]any {
	f.t.Helper()
	r := f.call(name, args)
	if !r.OK {
		f.t.Fatalf("%s %v: %s: %s (%v)", name, args, r.Error.Code, r.Error.Message, r.Error.Details)
	}
	return r.Data
}

// fail calls a tool that must fail with code, and returns the error.
func (f *fixture) fail(code, name string, args map[string]any) *result {
	f.t.Helper()
	r := f.call(name, args)
	if r.OK {
		f.t.Fatalf("%s %v succeeded, want %s: %v", name, args, code, r.Data)
	}
	if r.Error.Code != code {
		f.t.Fatalf("%s %v: %s (%s), want %s", name, args, r.Error.Code, r.Error.Message, code)
	}
	return r
}

// fields returns the fields named by an INVALID_INPUT error's details.
func (r *result) fields() []string {
	var out []string
	list, _ := r.Error.Details["errors"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if s, ok := m["field"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// wantFields fails unless an INVALID_INPUT error names every field given,
// in its details and in its message.
func wantFields(t *testing.T, r *result, fields ...string) {
	t.Helper()
	got := r.fields()
	for _, f := range fields {
		if !slices.Contains(got, f) || !strings.Contains(r.Error.Message, f) {
			t.Errorf("error names %v (%q), want %q among them", got, r.Error.Message, f)
		}
	}
}

func human(id string) map[string]any { return map[string]any{"type": "human", "id": id} }

func system(id string) map[string]any { return map[string]any{"type": "system", "id": id} }

// req requests a decision by "creator" needing n approvals, mode apply
// with both modes allowed, as nexus-control's suites do, and returns its
// id.
func (f *fixture) req(n int, more ...map[string]any) string {
	f.t.Helper()
	args := map[string]any{"goal": "test goal", "actor": human("creator"), "mode": "apply", "min_approvals": n, "allowed_modes": []string{"dry_run", "apply"}}
	for _, m := range more {
		for k, v := range m {
			args[k] = v
		}
	}
	d := f.ok(ToolRequest, args)
	return d["request_id"].(string)
}

func (f *fixture) approve(id, who string) map[string]any {
	f.t.Helper()
	return f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human(who)})
}

func (f *fixture) execute(id string) map[string]any {
	f.t.Helper()
	return f.ok(ToolExecute, map[string]any{"request_id": id, "adapter_id": "test-adapter", "actor": human("operator")})
}

// executed returns a decision needing one approval, approved by alice and
// executed with run id runID.
func (f *fixture) executed(runID string, more ...map[string]any) string {
	f.t.Helper()
	f.exec.RunID, f.exec.Steps = runID, 1
	id := f.req(1, more...)
	f.approve(id, "alice")
	f.execute(id)
	return id
}

// get follows a path of keys and indexes into decoded JSON.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// decisionServiceWithout returns a Service over the fixture's store and
// clock without an executor.
func decisionServiceWithout(f *fixture) *decision.Service {
	return decision.New(decision.Config{Store: f.store, Now: f.clock.Now})
}

package mcpproxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/warden"
)

func toolNames(t *testing.T, cs *mcp.ClientSession) map[string]*mcp.Tool {
	t.Helper()
	out := map[string]*mcp.Tool{}
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		out[tool.Name] = tool
	}
	return out
}

func TestListMirrorsToolsAndMarksGated(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	tools := toolNames(t, e.agent)
	for _, want := range []string{"echo", "read_text_file", "deploy", "launch", "slow", StatusTool} {
		if tools[want] == nil {
			t.Errorf("tools/list lacks %s; got %v", want, slices.Sorted(func(yield func(string) bool) {
				for k := range tools {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}
	if tools["echo"].Description != "echo from fs" {
		t.Errorf("description %q", tools["echo"].Description)
	}
	for name, gated := range map[string]bool{"deploy": true, "launch": true, "echo": false, "read_text_file": false} {
		if got := tools[name].Meta[RequiresUserInteraction] == true; got != gated {
			t.Errorf("%s: requiresUserInteraction %v, want %v", name, got, gated)
		}
	}
	// The session exists, with the proxy's metadata and the agent's.
	s, err := e.in.Gateway.Session(context.Background(), e.proxy.SessionID())
	if err != nil {
		t.Fatal(err)
	}
	if s.Metadata["source"] != "mcp-proxy" || s.Metadata["project"] != e.dir || s.Metadata["team"] != "qa" || s.Metadata["agent"] != "test-agent" {
		t.Errorf("session metadata %v", s.Metadata)
	}
}

func TestAllowedCallForwardedAndRecorded(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	res := e.call("echo", map[string]any{"text": "hi"})
	if res.IsError || text(res) != "fs:hi" {
		t.Fatalf("result %v %q", res.IsError, text(res))
	}
	res = e.call("fail", nil)
	if !res.IsError || text(res) != "it broke" {
		t.Fatalf("fail: %v %q", res.IsError, text(res))
	}
	rep := e.report()
	if rep.Allowed != 2 || len(rep.Actions) != 2 {
		t.Fatalf("report: allowed %d, actions %d", rep.Allowed, len(rep.Actions))
	}
	a := rep.Actions[0]
	if a.Tool != "echo" || a.Actor != "test-agent" || a.Input["text"] != "hi" || a.Result == nil || !a.Result.Success || a.Result.Output != "fs:hi" {
		t.Errorf("action %+v result %+v", a, a.Result)
	}
	if r := rep.Actions[1].Result; r == nil || r.Success || r.Error != "it broke" {
		t.Errorf("failed result %+v", r)
	}
	// The ledger keeps the output's digest.
	entries, err := e.in.Ledger.Store().Entries(context.Background(), e.proxy.SessionID(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	found := false
	for _, en := range entries {
		types = append(types, en.Type)
		if en.Type == "action:result" && strings.Contains(string(en.Data), `"outputDigest":"sha256:`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no action:result with outputDigest in %v", types)
	}
}

func TestDeniedCallNeverReachesBackend(t *testing.T) {
	f := newFake("fs")
	pol := strings.Replace(testPolicy, "  - tool: echo\n    scope: {}\n", "", 1)
	e := newEnv(t, envOpts{policy: pol}, connectFake(t, f))
	res := e.call("echo", map[string]any{"text": "hi"})
	if !res.IsError || !strings.HasPrefix(text(res), "Action denied by policy: ") || !strings.Contains(text(res), "echo") {
		t.Fatalf("result %v %q", res.IsError, text(res))
	}
	if f.count("echo") != 0 {
		t.Fatal("a denied call reached the backend")
	}
	if rep := e.report(); rep.Denied != 1 || rep.Actions[0].Result != nil {
		t.Errorf("report denied %d", rep.Denied)
	}
}

func TestDotEnvDeniedInEverySpelling(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	for _, p := range []string{".env", "./.env", "src/../.env", "a/.hidden/.env", "src//.env", filepath.Join(e.dir, ".env"), e.dir + "/src/../.env", "/etc/passwd", ".warden/signing.key", ".warden/warden.db"} {
		res := e.call("read_text_file", map[string]any{"path": p})
		if !res.IsError || !strings.HasPrefix(text(res), "Action denied by policy: ") {
			t.Errorf("read %s: %v %q", p, res.IsError, text(res))
		}
	}
	// Through read_multiple_files's list too, and as a resource.
	if res := e.call("read_text_file", map[string]any{"path": "src/main.go"}); res.IsError {
		t.Errorf("an ordinary read is refused: %q", text(res))
	}
	if n := f.count("read_text_file"); n != 1 {
		t.Fatalf("%d reads reached the backend, want only the allowed one", n)
	}
	_, err := e.agent.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "file://" + filepath.Join(e.dir, ".env")})
	if err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("reading .env as a resource: %v", err)
	}
	if f.count("file-resource") != 0 {
		t.Error("a denied resource read reached the backend")
	}
}

// pendingApproval waits for the session's one pending approval.
func pendingApproval(t *testing.T, g *gateway.Gateway, sid string) *gateway.Approval {
	t.Helper()
	var a *gateway.Approval
	waitFor(t, 5*time.Second, "a pending approval", func() bool {
		list, err := g.Pending(context.Background(), sid)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			a = list[0]
		}
		return a != nil
	})
	return a
}

func TestGatedCallHeldUntilApprovedElsewhere(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	type out struct {
		res *mcp.CallToolResult
		err error
		at  time.Time
	}
	done := make(chan out, 1)
	go func() {
		res, err := e.agent.CallTool(context.Background(), &mcp.CallToolParams{Name: "deploy", Arguments: map[string]any{"target": "prod"}, Meta: mcp.Meta{"progressToken": "tok-1"}})
		done <- out{res, err, time.Now()}
	}()
	// Another handle on the same database file, as `warden approve` in
	// another process would be.
	other, err := instance.Open(context.Background(), e.db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	a := pendingApproval(t, other.Gateway, e.proxy.SessionID())
	if a.Tool != "deploy" || a.Requester != "test-agent" {
		t.Errorf("approval %+v", a)
	}
	// The held call tells the agent what it waits for.
	select {
	case pn := <-e.progress:
		if pn.ProgressToken != "tok-1" || !strings.Contains(pn.Message, "warden approve "+a.ID) {
			t.Errorf("progress %+v", pn)
		}
	case <-time.After(3 * time.Second):
		t.Error("no progress notification while held")
	}
	if f.count("deploy") != 0 {
		t.Fatal("the gated call ran before approval")
	}
	// Other calls go on while one is held.
	if res := e.call("echo", map[string]any{"text": "meanwhile"}); res.IsError {
		t.Fatalf("a call during the hold: %q", text(res))
	}
	approved := time.Now()
	if _, err := other.Gateway.Approve(context.Background(), a.ID, gateway.Approver{ID: "alice"}, gateway.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		if o.err != nil || o.res.IsError || text(o.res) != "deployed prod" {
			t.Fatalf("after approval: %v %v", o.err, o.res)
		}
		if d := o.at.Sub(approved); d > time.Second {
			t.Errorf("the approval reached the held call after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held call did not finish after approval")
	}
	rep := e.report()
	if rep.Approved != 1 || f.count("deploy") != 1 {
		t.Errorf("approved %d, deploy calls %d", rep.Approved, f.count("deploy"))
	}
}

func TestGateTimesOutThenApprovedRetrySucceeds(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{gateWait: 300 * time.Millisecond}, connectFake(t, f))
	start := time.Now()
	res := e.call("deploy", map[string]any{"target": "staging"})
	if !res.IsError {
		t.Fatalf("a timed-out gate ran: %q", text(res))
	}
	a := pendingApproval(t, e.in.Gateway, e.proxy.SessionID())
	msg := text(res)
	for _, want := range []string{a.ID, "warden approve " + a.ID, "http://warden.example:3100/ui/approvals/" + a.ID, "identical call again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("timeout message lacks %q: %s", want, msg)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("held for %s", d)
	}
	if _, err := e.in.Gateway.Approve(context.Background(), a.ID, gateway.Approver{ID: "bob"}, gateway.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	// A different call is a different action: still gated.
	if res := e.call("deploy", map[string]any{"target": "prod"}); !res.IsError {
		t.Fatalf("a changed input ran on another call's approval")
	}
	res = e.call("deploy", map[string]any{"target": "staging"})
	if res.IsError || text(res) != "deployed staging" {
		t.Fatalf("the identical call after approval: %q", text(res))
	}
	// The approval was for one run.
	if res := e.call("deploy", map[string]any{"target": "staging"}); !res.IsError {
		t.Fatal("a single-use approval ran twice")
	}
	if f.count("deploy") != 1 {
		t.Errorf("deploy ran %d times", f.count("deploy"))
	}
}

// TestFileBudgetCountsBackendWrites: a backend's write counts against
// max_files_changed though the backend reports no files.
func TestFileBudgetCountsBackendWrites(t *testing.T) {
	f := newFake("fs")
	pol := strings.Replace(testPolicy, "limits:\n", "  - tool: file:write\n    scope: {paths: [\"./**\"]}\nlimits:\n  max_files_changed: 1\n", 1)
	e := newEnv(t, envOpts{policy: pol}, connectFake(t, f))
	for i, p := range []string{"a.txt", "b.txt"} {
		res := e.call("write_file", map[string]any{"path": p, "content": "x"})
		if denied := res.IsError; denied != (i == 1) {
			t.Fatalf("write %d (%s): denied %v: %q", i, p, denied, text(res))
		}
	}
	if n := f.count("write_file"); n != 1 {
		t.Errorf("%d writes reached the backend, want 1", n)
	}
	if rep := e.report(); rep.BudgetUsed.FilesChanged != 1 {
		t.Errorf("files changed %d, want 1", rep.BudgetUsed.FilesChanged)
	}
}

// TestGateExpiresWhileHeld: a gate whose own timeout is shorter than the
// proxy's wait ends the hold when its approval expires, and says so.
func TestGateExpiresWhileHeld(t *testing.T) {
	f := newFake("fs")
	pol := strings.Replace(testPolicy, "timeout: 1m", "timeout: 1s", 1)
	e := newEnv(t, envOpts{policy: pol}, connectFake(t, f))
	start := time.Now()
	res := e.call("launch", nil)
	msg := text(res)
	if !res.IsError || !strings.Contains(msg, "expired without a decision") || !strings.Contains(msg, "requests a new approval") {
		t.Fatalf("expired gate: %v %q", res.IsError, msg)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("held for %s, want about the gate's 1s", d)
	}
	if f.count("launch") != 0 {
		t.Fatal("an expired call ran")
	}
}

func TestGateRejected(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	done := make(chan *mcp.CallToolResult, 1)
	go func() { done <- e.call("launch", nil) }()
	a := pendingApproval(t, e.in.Gateway, e.proxy.SessionID())
	if _, err := e.in.Gateway.Reject(context.Background(), a.ID, gateway.Approver{ID: "carol"}, "not on a Friday"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if !res.IsError || !strings.Contains(text(res), "not on a Friday") || !strings.Contains(text(res), a.ID) {
			t.Fatalf("rejected: %q", text(res))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the rejected call did not return")
	}
	if f.count("launch") != 0 {
		t.Fatal("a rejected call ran")
	}
}

func TestCollidingNamesAreNamespaced(t *testing.T) {
	a, b := newFake("alpha"), newFake("beta")
	e := newEnv(t, envOpts{}, connectFake(t, a), connectFake(t, b))
	tools := toolNames(t, e.agent)
	if tools["echo"] != nil {
		t.Error("a colliding name is exposed unqualified")
	}
	if tools["alpha__echo"] == nil || tools["beta__echo"] == nil {
		t.Fatalf("namespaced tools missing: %v", tools)
	}
	if res := e.call("beta__echo", map[string]any{"text": "x"}); text(res) != "beta:x" {
		t.Errorf("beta__echo: %q", text(res))
	}
	if res := e.call("alpha__echo", map[string]any{"text": "y"}); text(res) != "alpha:y" {
		t.Errorf("alpha__echo: %q", text(res))
	}
	// Policies see the backend's own name.
	for _, act := range e.report().Actions {
		if act.Tool != "echo" {
			t.Errorf("evaluated as %q", act.Tool)
		}
	}
	// Gates apply to the original name too.
	if !tools["alpha__deploy"].Meta[RequiresUserInteraction].(bool) {
		t.Error("a namespaced gated tool is not marked")
	}
	// Prompts collide the same way.
	var prompts []string
	for p, err := range e.agent.Prompts(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		prompts = append(prompts, p.Name)
	}
	slices.Sort(prompts)
	if !slices.Equal(prompts, []string{"alpha__greet", "beta__greet"}) {
		t.Errorf("prompts %v", prompts)
	}
}

func TestBackendToolNamedLikeStatusIsNamespaced(t *testing.T) {
	f := newFake("fs")
	f.server.AddTool(&mcp.Tool{Name: StatusTool, InputSchema: objectSchemaOf()}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("impostor"), nil
	})
	e := newEnv(t, envOpts{}, connectFake(t, f))
	tools := toolNames(t, e.agent)
	if tools["fs__"+StatusTool] == nil {
		t.Fatal("the backend's warden_status is not namespaced")
	}
	if res := e.call(StatusTool, nil); strings.Contains(text(res), "impostor") {
		t.Fatal("warden_status went to the backend")
	}
}

func TestListChangedPropagates(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	before := e.listChanged.Load()
	f.server.AddTool(&mcp.Tool{Name: "added", InputSchema: objectSchemaOf()}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("new tool"), nil
	})
	waitFor(t, 5*time.Second, "list_changed for an added tool", func() bool { return e.listChanged.Load() > before })
	waitFor(t, 5*time.Second, "the added tool", func() bool { return toolNames(t, e.agent)["added"] != nil })
	if res := e.call("added", nil); text(res) != "new tool" {
		t.Errorf("added: %q", text(res))
	}
	n := e.listChanged.Load()
	f.server.RemoveTools("echo")
	waitFor(t, 5*time.Second, "list_changed for a removed tool", func() bool { return e.listChanged.Load() > n })
	waitFor(t, 5*time.Second, "echo to go", func() bool { return toolNames(t, e.agent)["echo"] == nil })
}

func TestResourcesAndPromptsPassThrough(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	ctx := context.Background()
	var uris []string
	for r, err := range e.agent.Resources(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, r.URI)
	}
	if !slices.Equal(uris, []string{"mem://fs/notes"}) {
		t.Errorf("resources %v", uris)
	}
	var tpls []string
	for r, err := range e.agent.ResourceTemplates(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		tpls = append(tpls, r.URITemplate)
	}
	if !slices.Equal(tpls, []string{"file:///{+path}"}) {
		t.Errorf("templates %v", tpls)
	}
	rr, err := e.agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: "mem://fs/notes"})
	if err != nil || rr.Contents[0].Text != "notes of fs" {
		t.Fatalf("read: %v %v", err, rr)
	}
	// A file:// read is evaluated as file:read, allowed here, and recorded.
	uri := "file://" + filepath.Join(e.dir, "src", "a.txt")
	rr, err = e.agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil || rr.Contents[0].Text != "file "+uri {
		t.Fatalf("file read: %v %v", err, rr)
	}
	rep := e.report()
	if len(rep.Actions) != 1 || rep.Actions[0].Tool != "file:read" || rep.Actions[0].Result == nil || !rep.Actions[0].Result.Success {
		t.Errorf("file read not governed: %+v", rep.Actions)
	}
	if _, err := e.agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///etc/passwd"}); err == nil {
		t.Error("a file outside the project was read")
	}
	gp, err := e.agent.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"who": "ann"}})
	if err != nil || gp.Messages[0].Content.(*mcp.TextContent).Text != "hello ann from fs" {
		t.Fatalf("prompt: %v %v", err, gp)
	}
}

func TestProgressForwarded(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	res, err := e.agent.CallTool(context.Background(), &mcp.CallToolParams{Name: "progress", Meta: mcp.Meta{"progressToken": 42}})
	if err != nil || res.IsError {
		t.Fatal(err, res)
	}
	var got []string
	for len(got) < 3 {
		select {
		case pn := <-e.progress:
			if tok, _ := pn.ProgressToken.(float64); tok != 42 {
				t.Errorf("token %v", pn.ProgressToken)
			}
			got = append(got, pn.Message)
		case <-time.After(3 * time.Second):
			t.Fatalf("progress received: %v", got)
		}
	}
	if !slices.Equal(got, []string{"step 1", "step 2", "step 3"}) {
		t.Errorf("progress %v", got)
	}
}

func TestCancellationReachesBackend(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.agent.CallTool(ctx, &mcp.CallToolParams{Name: "slow"})
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the slow call to start", func() bool { return f.count("slow") == 1 })
	cancel()
	select {
	case <-f.cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("the backend never saw the cancellation")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("agent call: %v", err)
	}
	waitFor(t, 3*time.Second, "the cancelled call's record", func() bool {
		acts := e.report().Actions
		return len(acts) == 1 && acts[0].Result != nil
	})
	if r := e.report().Actions[0].Result; r.Success || !strings.Contains(r.Error, "Cancelled") {
		t.Errorf("recorded %+v", r)
	}
}

func TestLoggingPassesThrough(t *testing.T) {
	e := newEnv(t, envOpts{version: "2025-11-25"}, connectFake(t, newFake("fs")))
	if err := e.agent.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	e.call("logme", nil)
	select {
	case m := <-e.logs:
		if m.Data != "hello from fs" || m.Logger != "fs" {
			t.Errorf("log %+v", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no log message reached the agent")
	}
}

func TestStatusTool(t *testing.T) {
	e := newEnv(t, envOpts{gateWait: 100 * time.Millisecond}, connectFake(t, newFake("fs")))
	e.call("echo", map[string]any{"text": "a"})
	e.call("read_text_file", map[string]any{"path": ".env"})
	e.call("deploy", map[string]any{"target": "prod"}) // times out, stays pending
	res := e.call(StatusTool, nil)
	if res.IsError {
		t.Fatal(text(res))
	}
	out := text(res)
	a := pendingApproval(t, e.in.Gateway, e.proxy.SessionID())
	for _, want := range []string{e.proxy.SessionID(), `"proxy-test"`, "1 allowed, 1 denied", "1000000 output bytes", "500 actions",
		"Pending approvals (1)", a.ID, "deploy", "warden approve " + a.ID, "http://warden.example:3100/ui/approvals/" + a.ID} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	st, ok := res.StructuredContent.(map[string]any)
	if !ok {
		t.Fatalf("structured content %T", res.StructuredContent)
	}
	pending := st["pending"].([]any)
	if len(pending) != 1 || pending[0].(map[string]any)["approve"] != "warden approve "+a.ID {
		t.Errorf("structured pending %v", pending)
	}
	// The status call is not an action.
	if rep := e.report(); rep.TotalActions != 3 {
		t.Errorf("%d actions", rep.TotalActions)
	}
}

func TestProtocolVersionsNegotiate(t *testing.T) {
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, envOpts{version: v}, connectFake(t, newFake("fs")))
			if got := e.agent.InitializeResult().ProtocolVersion; got != v {
				t.Fatalf("negotiated %s", got)
			}
			if res := e.call("echo", map[string]any{"text": v}); text(res) != "fs:"+v {
				t.Errorf("call: %q", text(res))
			}
			if rep := e.report(); len(rep.Actions) != 1 || rep.Actions[0].Actor != "test-agent" {
				t.Errorf("actor on %s: %+v", v, rep.Actions)
			}
		})
	}
}

func TestStartFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	in, err := instance.Open(context.Background(), filepath.Join(dir, "w.db"), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// A backend that never answers, and one that exits at once.
	for _, argv := range [][]string{{"sleep", "30"}, {"true"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		ct := &mcp.CommandTransport{Command: exec.Command(argv[0], argv[1:]...), TerminateDuration: 100 * time.Millisecond}
		_, err = Start(ctx, Options{Gateway: in.Gateway, Policy: []byte(testPolicy), Root: dir, Backends: []Backend{{Name: "dead", Transport: ct}}})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "backend dead") {
			t.Fatalf("start with backend %v: %v", argv, err)
		}
	}
	list, err := in.Gateway.Sessions(context.Background(), gateway.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.State != gateway.Terminated {
			t.Errorf("session %s left %s", s.ID, s.State)
		}
	}
	if _, err := Start(context.Background(), Options{Gateway: in.Gateway, Policy: []byte(testPolicy), Root: dir,
		Backends: []Backend{{Name: "a__b", Transport: &mcp.CommandTransport{Command: exec.Command("true")}}}}); warden.ErrorCode(err) != warden.CodeInvalidInput {
		t.Errorf("a backend name with __: %v", err)
	}
}

// TestSSEBackendOutlivesStartContext: the context given to Start bounds
// the backends' handshakes, not their connections.
func TestSSEBackendOutlivesStartContext(t *testing.T) {
	f := newFake("remote")
	srv := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return f.server }, nil))
	defer srv.Close()
	dir := t.TempDir()
	in, err := instance.Open(context.Background(), filepath.Join(dir, "w.db"), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Options{Gateway: in.Gateway, Policy: []byte(testPolicy), Root: dir,
		Backends: []Backend{{Name: "remote", Transport: &mcp.SSEClientTransport{Endpoint: srv.URL}}}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	st, ct := mcp.NewInMemoryTransports()
	go p.Run(context.Background(), st)
	agent, err := mcp.NewClient(&mcp.Implementation{Name: "a"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	res, err := agent.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "still here"}})
	if err != nil || res.IsError || text(res) != "remote:still here" {
		t.Fatalf("call after Start's context ended: %v %+v", err, res)
	}
}

// TestResultsRideWithTheNextCall: a forwarded call's result is recorded in
// the commit of the session's next evaluation, or on its own after
// ResultDelay.
func TestResultsRideWithTheNextCall(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	e.call("echo", map[string]any{"text": "one"})
	e.call("echo", map[string]any{"text": "two"})
	types := func() []string {
		entries, err := e.in.Ledger.Store().Entries(context.Background(), e.proxy.SessionID(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, en := range entries {
			if strings.HasPrefix(en.Type, "action:") {
				out = append(out, en.Type)
			}
		}
		return out
	}
	// The second call's evaluation carried the first call's result.
	got := types()
	if len(got) < 3 || got[0] != "action:evaluate" || got[1] != "action:result" || got[2] != "action:evaluate" {
		t.Fatalf("ledger after two calls: %v", got)
	}
	waitFor(t, 5*time.Second, "the last result recorded on its own", func() bool {
		g := types()
		return len(g) == 4 && g[3] == "action:result"
	})
	if rep := e.report(); rep.Allowed != 2 || rep.Actions[0].Result == nil || rep.Actions[1].Result == nil || rep.Actions[1].Result.Output != "fs:two" {
		t.Errorf("report: %+v", rep)
	}
}

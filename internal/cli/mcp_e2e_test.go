package cli

// End-to-end tests of warden mcp: the official TypeScript SDK client
// (e2e/client.mjs, through internal/nodeclient) drives a warden mcp
// process through a whole decision, and the audit package it exports is
// checked by warden verify and by the nexus verifier with the instance's
// key. A Go SDK client drives the same command without Node.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/controlmcp"
	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/nodeclient"
)

// mcpE2EPolicy lets a decision's plan write files in the project.
const mcpE2EPolicy = `name: e2e-decisions
capabilities:
  - tool: file:write
    scope: {paths: ["./**"]}
  - tool: file:read
    scope: {paths: ["./**"]}
`

// mcpEnv is a warden binary, a project directory with a policy, and the
// database warden mcp and the CLI share.
type mcpEnv struct {
	warden, root, project, policy, db string
}

func newMCPEnv(t *testing.T) *mcpEnv {
	t.Helper()
	root := t.TempDir()
	e := &mcpEnv{warden: serverBin(t, root), root: root, project: filepath.Join(root, "project"),
		policy: filepath.Join(root, "policy.yaml"), db: filepath.Join(root, "state", "warden.db")}
	if err := os.MkdirAll(e.project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.policy, []byte(mcpE2EPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// envelope is a tool result's structured content.
type envelope struct {
	OK    bool           `json:"ok"`
	Data  map[string]any `json:"data"`
	Error *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// decodeEnvelope checks that a result's text and structured content hold
// the same envelope, with isError set exactly on errors.
func decodeEnvelope(t *testing.T, name, text string, structured any, isError bool) envelope {
	t.Helper()
	var fromText, fromStructured envelope
	if err := json.Unmarshal([]byte(text), &fromText); err != nil {
		t.Fatalf("%s: text content is not the envelope: %v\n%s", name, err, text)
	}
	b, _ := json.Marshal(structured)
	if err := json.Unmarshal(b, &fromStructured); err != nil {
		t.Fatalf("%s: structured content is not the envelope: %v", name, err)
	}
	x, _ := json.Marshal(fromText)
	y, _ := json.Marshal(fromStructured)
	if !bytes.Equal(x, y) {
		t.Fatalf("%s: text and structured content differ:\n%s\n%s", name, x, y)
	}
	if fromText.OK == isError || (fromText.OK && fromText.Data == nil) || (!fromText.OK && fromText.Error == nil) {
		t.Fatalf("%s: ok %v, isError %v: %s", name, fromText.OK, isError, text)
	}
	return fromText
}

// field returns the value at a path of keys in decoded JSON.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// TestMCPEndToEnd drives warden mcp with the official TypeScript SDK
// client: a decision is requested with a plan that writes a file, approved
// by two distinct identities (the requester's own approval is refused),
// executed (the file is written, once), and exported as an audit package,
// which warden verify and the nexus verifier accept with the instance's
// key.
func TestMCPEndToEnd(t *testing.T) {
	nodeclient.Require(t)
	e := newMCPEnv(t)
	c := nodeclient.Start(t, e.root, nil, e.warden, "mcp", "--db", e.db, "--policy", e.policy, "--dir", e.project)

	// The tools, each with its input schema (the client validates every
	// structured result against the tools' output schema).
	m := c.Do(nodeclient.Request{Op: "list"})
	var list struct {
		Tools []struct {
			Name        string         `json:"name"`
			InputSchema map[string]any `json:"inputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(m.Result, &list); err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		if tool.InputSchema["type"] != "object" || tool.InputSchema["additionalProperties"] != false {
			t.Errorf("%s: input schema %v", tool.Name, tool.InputSchema)
		}
	}
	slices.Sort(names)
	want := slices.Clone(controlmcp.ToolNames)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}

	call := func(name string, args map[string]any) envelope {
		t.Helper()
		res, err := c.Call(name, args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return decodeEnvelope(t, name, res.Text(), res.StructuredContent, res.IsError)
	}
	ok := func(name string, args map[string]any) map[string]any {
		t.Helper()
		env := call(name, args)
		if !env.OK {
			t.Fatalf("%s: %s: %s", name, env.Error.Code, env.Error.Message)
		}
		return env.Data
	}
	fails := func(code, name string, args map[string]any) {
		t.Helper()
		if env := call(name, args); env.OK || env.Error.Code != code {
			t.Fatalf("%s: %+v, want %s", name, env, code)
		}
	}
	actor := func(id string) map[string]any { return map[string]any{"type": "human", "id": id} }

	fails("INVALID_INPUT", controlmcp.ToolRequest, map[string]any{"goal": "no actor"})
	req := ok(controlmcp.ToolRequest, map[string]any{
		"goal": "publish the release notes", "actor": actor("creator"), "mode": "apply", "min_approvals": 2,
		"plan":   []any{map[string]any{"tool": "file:write", "input": map[string]any{"path": "NOTES.md", "content": "# Release notes\n"}}},
		"labels": []string{"release"},
	})
	id, _ := req["request_id"].(string)
	if id == "" || req["state"] != "pending_approval" || req["min_approvals"] != 2.0 {
		t.Fatalf("request: %v", req)
	}
	fails("SELF_APPROVAL", controlmcp.ToolApprove, map[string]any{"request_id": id, "actor": actor("creator")})
	if got := ok(controlmcp.ToolApprove, map[string]any{"request_id": id, "actor": actor("alice"), "comment": "notes read"}); got["is_approved"] != false {
		t.Fatalf("first approval: %v", got)
	}
	fails("ALREADY_APPROVED", controlmcp.ToolApprove, map[string]any{"request_id": id, "actor": actor("alice")})
	if got := ok(controlmcp.ToolApprove, map[string]any{"request_id": id, "actor": actor("bob")}); got["is_approved"] != true || got["state"] != "approved" {
		t.Fatalf("second approval: %v", got)
	}
	if _, err := os.Stat(filepath.Join(e.project, "NOTES.md")); err == nil {
		t.Fatal("the plan ran before execute")
	}
	run := ok(controlmcp.ToolExecute, map[string]any{"request_id": id, "adapter_id": "", "actor": actor("operator")})
	if run["steps_executed"] != 1.0 || run["mode"] != "apply" || run["run_id"] == "" {
		t.Fatalf("execute: %v", run)
	}
	if b, err := os.ReadFile(filepath.Join(e.project, "NOTES.md")); err != nil || string(b) != "# Release notes\n" {
		t.Fatalf("the plan's file: %q, %v", b, err)
	}
	fails("INVALID_STATE", controlmcp.ToolExecute, map[string]any{"request_id": id, "adapter_id": "", "actor": actor("operator")})
	in := ok(controlmcp.ToolInspect, map[string]any{"decision_id": id})
	if field(in, "decision", "state") != "completed" || field(in, "integrity", "verified") != true {
		t.Fatalf("inspect: %v %v", in["decision"], in["integrity"])
	}

	exported := ok(controlmcp.ToolExportAuditPackage, map[string]any{"decision_id": id})
	if !strings.Contains(exported["rendered"].(string), "# Audit package") {
		t.Errorf("rendered: %v", exported["rendered"])
	}
	pkg, err := json.Marshal(exported["package"])
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(e.root, "audit-package.json")
	if err := os.WriteFile(file, pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("client: %v", err)
	}
	verifyPackage(t, e, file, pkg, exported["digest"].(string))
}

// verifyPackage checks an exported audit package with warden verify
// (trusting the instance's key) and with the nexus verifier, the
// instance's public key and its ledger check.
func verifyPackage(t *testing.T, e *mcpEnv, file string, pkg []byte, digest string) {
	t.Helper()
	cmd := exec.Command(e.warden, "verify", "--db", e.db, file)
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	t.Logf("$ warden verify --db %s %s\n%s", e.db, file, out)
	if err != nil || !strings.Contains(string(out), "VALID audit package") || strings.Contains(string(out), "FAIL") {
		t.Errorf("warden verify: %v", err)
	}

	in, err := instance.Open(context.Background(), e.db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	pub := in.SigningKey.Public().(ed25519.PublicKey)
	rep, err := nexus.Verify(pkg, nexus.VerifyOptions{PublicKey: pub, AuditChecks: []nexus.AuditCheck{decision.LedgerCheck(pub)}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Digest != digest {
		t.Fatalf("the audit package does not verify: %v (digest %s, want %s)", rep.Err(), rep.Digest, digest)
	}
	for _, name := range []string{"binding_digest", "control_bundle_digest", nexus.CheckWardenSignature, decision.CheckLedger} {
		if c, ok := rep.Get(name); !ok || !c.OK {
			t.Errorf("check %s: %+v", name, c)
		}
	}
	if c, _ := rep.Get(decision.CheckLedger); !strings.Contains(c.Message, "signed by the given key") {
		t.Errorf("ledger check: %s", c.Message)
	}
	var p struct {
		Warden struct {
			Approvers []struct {
				Actor struct{ ID string } `json:"actor"`
			} `json:"approvers"`
		} `json:"warden"`
	}
	json.Unmarshal(pkg, &p)
	var ids []string
	for _, a := range p.Warden.Approvers {
		ids = append(ids, a.Actor.ID)
	}
	if !slices.Equal(ids, []string{"alice", "bob"}) {
		t.Errorf("approvers in the package: %v", ids)
	}
}

// TestMCPCommand drives warden mcp with the Go SDK client (no Node
// needed): a default identity from --as, the flags' usage errors, and a
// clean exit when the client closes stdin.
func TestMCPCommand(t *testing.T) {
	e := newMCPEnv(t)
	for _, args := range [][]string{
		{"mcp", "--dir", e.project},
		{"mcp", "--as", "alice", "--actor", "bob"},
		{"mcp", "--as", " padded"},
		{"mcp", "extra"},
	} {
		var out bytes.Buffer
		if code := Main(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &out}); code != ExitUsage {
			t.Errorf("warden %s: exit %d, want %d\n%s", strings.Join(args, " "), code, ExitUsage, out.String())
		}
	}
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"mcp", "--db", e.db, "--policy", filepath.Join(e.root, "missing.yaml")},
		Streams{In: strings.NewReader(""), Out: &out, Err: &out}); code != ExitFailure {
		t.Errorf("a missing policy: exit %d\n%s", code, out.String())
	}

	cmd := exec.Command(e.warden, "mcp", "--db", e.db, "--as", "system:ci")
	cmd.Dir = e.root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-client"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string, args map[string]any) envelope {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		return decodeEnvelope(t, name, res.Content[0].(*mcp.TextContent).Text, res.StructuredContent, res.IsError)
	}
	// No actor: the request is made as system:ci.
	env := call(controlmcp.ToolRequest, map[string]any{"goal": "nightly cleanup"})
	if !env.OK {
		t.Fatalf("request: %+v", env.Error)
	}
	id := env.Data["request_id"].(string)
	env = call(controlmcp.ToolStatus, map[string]any{"request_id": id})
	if field(env.Data, "requester", "id") != "ci" || field(env.Data, "requester", "type") != "system" {
		t.Errorf("requester %v", env.Data["requester"])
	}
	if env = call(controlmcp.ToolApprove, map[string]any{"request_id": id}); env.OK || env.Error.Code != "SELF_APPROVAL" {
		t.Errorf("approval by the default identity of its own request: %+v", env)
	}
	if env = call(controlmcp.ToolApprove, map[string]any{"request_id": id, "actor": map[string]any{"type": "human", "id": "alice"}}); !env.OK || env.Data["is_approved"] != true {
		t.Errorf("approval: %+v", env)
	}
	// A plan-less decision runs no steps.
	if env = call(controlmcp.ToolExecute, map[string]any{"request_id": id, "adapter_id": ""}); !env.OK || env.Data["steps_executed"] != 0.0 {
		t.Errorf("execute: %+v", env)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if !strings.Contains(stderr.String(), "calls without an actor act as system:ci") {
		t.Errorf("stderr: %s", stderr.String())
	}
	// The decision is in the shared database, for the CLI and warden serve.
	in, err := instance.Open(ctx, e.db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if d, err := in.Decisions.Get(ctx, id); err != nil || d.State != decision.StateCompleted {
		t.Errorf("the decision in the database: %v, %v", d, err)
	}
}

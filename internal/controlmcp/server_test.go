package controlmcp

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/decision"
)

// inputs lists each tool's input fields and its required ones (without a
// default identity). nexus-control's fields come first, exactly as its
// tools take them (reference: nexus-control §9.1); Warden's additions
// follow.
var inputs = map[string]struct{ fields, required []string }{
	ToolRequest: {[]string{"goal", "actor", "mode", "plan", "template_name", "min_approvals", "allowed_modes", "require_adapter_capabilities", "max_steps", "labels",
		"approvers", "expires_at"}, []string{"goal", "actor"}},
	ToolApprove:            {[]string{"request_id", "actor", "comment", "expires_at"}, []string{"request_id", "actor"}},
	ToolExecute:            {[]string{"request_id", "adapter_id", "actor", "dry_run"}, []string{"request_id", "adapter_id", "actor"}},
	ToolStatus:             {[]string{"request_id", "include_events"}, []string{"request_id"}},
	ToolInspect:            {[]string{"decision_id", "render", "include_events", "include_compiled_router_request"}, []string{"decision_id"}},
	ToolTemplateCreate:     {[]string{"name", "actor", "description", "min_approvals", "allowed_modes", "require_adapter_capabilities", "max_steps", "labels", "approvers", "allow_loosening"}, []string{"name", "actor"}},
	ToolTemplateGet:        {[]string{"name", "include_events"}, []string{"name"}},
	ToolTemplateList:       {[]string{"limit", "offset", "label_filter"}, nil},
	ToolExportBundle:       {[]string{"decision_id", "include_template_snapshot", "include_router_link", "render"}, []string{"decision_id"}},
	ToolImportBundle:       {[]string{"bundle", "verify_digest", "conflict_mode", "replay_after_import"}, []string{"bundle"}},
	ToolExportAuditPackage: {[]string{"decision_id", "embed_router_bundle", "router_bundle", "router_bundle_digest", "verify_router_bundle_digest", "render"}, []string{"decision_id"}},
	ToolRevoke:             {[]string{"request_id", "actor", "reason"}, []string{"request_id", "actor"}},
	ToolReject:             {[]string{"request_id", "actor", "reason"}, []string{"request_id", "reason", "actor"}},
	ToolList:               {[]string{"limit", "cursor", "states", "labels", "requester", "template_name", "session_id"}, nil},
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestToolDefinitions lists the tools through the client: nexus-control's
// eleven names and Warden's three, each with an input schema that is an
// object refusing unknown fields, with the fields and required fields of
// the table above and a type for every field, and the envelope as output
// schema.
func TestToolDefinitions(t *testing.T) {
	for _, def := range []bool{false, true} {
		var opts []func(*Options)
		if def {
			opts = append(opts, withDefault("operator"))
		}
		f := newFixture(t, opts...)
		res, err := f.cs.ListTools(f.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tool := range res.Tools {
			got = append(got, tool.Name)
			raw, _ := json.Marshal(tool.InputSchema)
			var s struct {
				Type       string                    `json:"type"`
				Properties map[string]map[string]any `json:"properties"`
				Required   []string                  `json:"required"`
				Additional *bool                     `json:"additionalProperties"`
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			want, ok := inputs[tool.Name]
			if !ok {
				t.Errorf("unexpected tool %s", tool.Name)
				continue
			}
			if s.Type != "object" || s.Additional == nil || *s.Additional {
				t.Errorf("%s: input schema is not a closed object: %s", tool.Name, raw)
			}
			var fields []string
			for k, p := range s.Properties {
				fields = append(fields, k)
				if p["type"] == nil {
					t.Errorf("%s.%s has no type", tool.Name, k)
				}
				if p["description"] == nil {
					t.Errorf("%s.%s has no description", tool.Name, k)
				}
			}
			if diff := cmp.Diff(sorted(want.fields), sorted(fields)); diff != "" {
				t.Errorf("%s fields (-want +got):\n%s", tool.Name, diff)
			}
			required := want.required
			if def {
				required = slices.DeleteFunc(slices.Clone(required), func(s string) bool { return s == "actor" })
			}
			if diff := cmp.Diff(sorted(required), sorted(s.Required)); diff != "" {
				t.Errorf("%s required, default identity %v (-want +got):\n%s", tool.Name, def, diff)
			}
			if tool.OutputSchema == nil || tool.Description == "" || tool.Title == "" || tool.Annotations == nil {
				t.Errorf("%s: missing output schema, description, title or annotations", tool.Name)
			}
		}
		// The SDK lists tools by name.
		if diff := cmp.Diff(sorted(ToolNames), got); diff != "" {
			t.Errorf("tools (-want +got):\n%s", diff)
		}
	}
	if len(ToolNames) != 14 || !slices.Contains(ToolNames, "nexus-control.export_audit_package") {
		t.Errorf("ToolNames: %v", ToolNames)
	}
}

// TestSchemaEnforced: every input the schema refuses is refused with
// INVALID_INPUT naming the field, in the message and in details.errors,
// before anything is recorded.
func TestSchemaEnforced(t *testing.T) {
	f := newFixture(t)
	id := f.req(1)
	cases := []struct {
		tool   string
		args   map[string]any
		fields []string
	}{
		{ToolRequest, map[string]any{"actor": human("a")}, []string{"goal"}},
		{ToolRequest, map[string]any{"goal": "g"}, []string{"actor"}},
		{ToolRequest, map[string]any{"goal": "", "actor": human("a")}, []string{"goal"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": map[string]any{"type": "robot", "id": ""}}, []string{"actor.type", "actor.id"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": map[string]any{"id": "a"}}, []string{"actor.type"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "mode": "yolo"}, []string{"mode"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "min_approvals": 0}, []string{"min_approvals"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "min_approvals": "two"}, []string{"min_approvals"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "min_approvals": 1.5}, []string{"min_approvals"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "allowed_modes": []string{}}, []string{"allowed_modes"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "allowed_modes": []string{"apply", "apply"}}, []string{"allowed_modes"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "allowed_modes": []string{"fast"}}, []string{"allowed_modes[0]"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "max_steps": 0}, []string{"max_steps"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "labels": "prod"}, []string{"labels"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "plan": 42}, []string{"plan"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "plan": []any{map[string]any{"input": map[string]any{}}}}, []string{"plan[0].tool"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "expires_at": "tomorrow"}, []string{"expires_at"}},
		{ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "priority": "high"}, []string{"priority"}},
		{ToolApprove, map[string]any{"actor": human("alice")}, []string{"request_id"}},
		{ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": 7}, []string{"comment"}},
		{ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "expires_at": "soon"}, []string{"expires_at"}},
		{ToolExecute, map[string]any{"request_id": id, "actor": human("op")}, []string{"adapter_id"}},
		{ToolExecute, map[string]any{"request_id": id, "adapter_id": "x", "actor": human("op"), "dry_run": "yes"}, []string{"dry_run"}},
		{ToolStatus, map[string]any{}, []string{"request_id"}},
		{ToolStatus, map[string]any{"request_id": id, "include_events": "true"}, []string{"include_events"}},
		{ToolInspect, map[string]any{"request_id": id}, []string{"decision_id", "request_id"}},
		{ToolTemplateCreate, map[string]any{"name": "bad name!", "actor": human("a")}, []string{"name"}},
		{ToolTemplateCreate, map[string]any{"name": "t", "actor": human("a"), "min_approvals": -1}, []string{"min_approvals"}},
		{ToolTemplateGet, map[string]any{}, []string{"name"}},
		{ToolTemplateList, map[string]any{"limit": 0}, []string{"limit"}},
		{ToolTemplateList, map[string]any{"limit": 1001}, []string{"limit"}},
		{ToolTemplateList, map[string]any{"offset": -1}, []string{"offset"}},
		{ToolRevoke, map[string]any{"request_id": id}, []string{"actor"}},
		{ToolReject, map[string]any{"request_id": id, "actor": human("alice")}, []string{"reason"}},
		{ToolReject, map[string]any{"request_id": id, "actor": human("alice"), "reason": ""}, []string{"reason"}},
		{ToolList, map[string]any{"states": []string{"waiting"}}, []string{"states[0]"}},
		{ToolExportBundle, map[string]any{}, []string{"decision_id"}},
		{ToolImportBundle, map[string]any{}, []string{"bundle"}},
		{ToolExportAuditPackage, map[string]any{"decision_id": id, "render": "no"}, []string{"render"}},
	}
	for _, c := range cases {
		r := f.fail("INVALID_INPUT", c.tool, c.args)
		wantFields(t, r, c.fields...)
	}
	// Nothing was recorded by the refused requests: only the one decision.
	page, err := f.store.List(f.ctx, decision.Filter{})
	if err != nil || len(page.Decisions) != 1 {
		t.Errorf("decisions after refused requests: %v, %v", page, err)
	}
	if st := f.ok(ToolStatus, map[string]any{"request_id": id}); num(st["event_count"]) != 2 {
		t.Errorf("events after refused calls: %v", st["event_count"])
	}
}

// TestServiceFieldErrors: what only the service can judge (a blank goal,
// a mode the policy does not allow, a plan longer than max_steps, an
// expiry in the past) is refused with the field named too.
func TestServiceFieldErrors(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		args   map[string]any
		fields []string
	}{
		{map[string]any{"goal": "   "}, []string{"goal"}},
		{map[string]any{"goal": "g", "mode": "apply", "allowed_modes": []string{"dry_run"}}, []string{"mode"}},
		{map[string]any{"goal": "g", "max_steps": 1, "plan": []any{
			map[string]any{"tool": "file:read", "input": map[string]any{"path": "a"}},
			map[string]any{"tool": "file:read", "input": map[string]any{"path": "b"}}}}, []string{"plan"}},
		{map[string]any{"goal": "g", "expires_at": "2020-01-01T00:00:00Z"}, []string{"expires_at"}},
		{map[string]any{"goal": "g", "actor": human(" padded ")}, []string{"actor.id"}},
		{map[string]any{"goal": "g", "min_approvals": 3, "approvers": []string{"alice", "bob"}}, []string{"min_approvals"}},
	}
	for _, c := range cases {
		args := map[string]any{"actor": human("creator")}
		for k, v := range c.args {
			args[k] = v
		}
		wantFields(t, f.fail("INVALID_INPUT", ToolRequest, args), c.fields...)
	}
	id := f.req(1)
	wantFields(t, f.fail("INVALID_INPUT", ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "expires_at": "2020-01-01T00:00:00Z"}), "expires_at")
	wantFields(t, f.fail("INVALID_INPUT", ToolApprove, map[string]any{"request_id": "bad\nid", "actor": human("alice")}), "decision_id")
}

// TestDefaultIdentity: with a default identity, calls without an actor
// act as it; without one, the actor is required.
func TestDefaultIdentity(t *testing.T) {
	f := newFixture(t, withDefault("operator"))
	id := f.ok(ToolRequest, map[string]any{"goal": "rotate keys"})["request_id"].(string)
	st := f.ok(ToolStatus, map[string]any{"request_id": id})
	if get(st, "requester", "id") != "operator" || get(st, "requester", "type") != "human" {
		t.Errorf("requester %v", st["requester"])
	}
	// The default identity requested it, so it may not approve it.
	f.fail("SELF_APPROVAL", ToolApprove, map[string]any{"request_id": id})
	// An actor in the input wins over the default.
	f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice")})
	run := f.ok(ToolExecute, map[string]any{"request_id": id, "adapter_id": ""})
	st = f.ok(ToolStatus, map[string]any{"request_id": id})
	if get(st, "executions", 0, "requested_by", "id") != "operator" || run["state"] != "completed" {
		t.Errorf("execution %v", st["executions"])
	}

	g := newFixture(t)
	for _, tool := range []string{ToolRequest, ToolTemplateCreate} {
		args := map[string]any{"goal": "g", "name": "t"}
		if tool == ToolRequest {
			delete(args, "name")
		} else {
			delete(args, "goal")
		}
		wantFields(t, g.fail("INVALID_INPUT", tool, args), "actor")
	}

	if _, err := New(f.svc, Options{DefaultActor: decision.Actor{Type: "robot", ID: "r"}}); err == nil {
		t.Error("a default actor of type robot was accepted")
	}
}

// failingStore fails every load with an error that is not Warden's.
type failingStore struct{ decision.Store }

func (failingStore) Load(context.Context, string, []string) (*decision.Decision, error) {
	return nil, errors.New("disk on fire at /var/secret/path")
}

// TestInternalErrorsHidden: an error that is not a Warden error reaches
// the client as INTERNAL "internal error", without its text.
func TestInternalErrorsHidden(t *testing.T) {
	svc := decision.New(decision.Config{Store: failingStore{decision.NewMemStore()}})
	srv, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := srv.Call(context.Background(), ToolStatus, json.RawMessage(`{"request_id":"x"}`))
	r := checkEnvelope(t, ToolStatus, res)
	if r.OK || r.Error.Code != "INTERNAL" || r.Error.Message != "internal error" || strings.Contains(res.Content[0].(*mcp.TextContent).Text, "secret") {
		t.Errorf("internal error: %+v", r.Error)
	}
	if r := checkEnvelope(t, "nope", srv.Call(context.Background(), "nope", nil)); r.Error.Code != "NOT_FOUND" {
		t.Errorf("unknown tool: %+v", r.Error)
	}
}

// TestUnknownIDs: every tool that takes a decision id answers
// DECISION_NOT_FOUND for one that does not exist, and the template tools
// TEMPLATE_NOT_FOUND for an unknown name.
func TestUnknownIDs(t *testing.T) {
	f := newFixture(t)
	const id = "00000000-0000-4000-8000-000000000000"
	for tool, args := range map[string]map[string]any{
		ToolApprove:            {"request_id": id, "actor": human("alice")},
		ToolExecute:            {"request_id": id, "adapter_id": "a", "actor": human("op")},
		ToolStatus:             {"request_id": id},
		ToolInspect:            {"decision_id": id},
		ToolRevoke:             {"request_id": id, "actor": human("alice")},
		ToolReject:             {"request_id": id, "actor": human("alice"), "reason": "no"},
		ToolExportBundle:       {"decision_id": id},
		ToolExportAuditPackage: {"decision_id": id},
	} {
		r := f.fail("DECISION_NOT_FOUND", tool, args)
		if !strings.Contains(r.Error.Message, id) {
			t.Errorf("%s: message %q does not name the id", tool, r.Error.Message)
		}
	}
	f.fail("TEMPLATE_NOT_FOUND", ToolTemplateGet, map[string]any{"name": "nope"})
	f.fail("TEMPLATE_NOT_FOUND", ToolRequest, map[string]any{"goal": "g", "actor": human("a"), "template_name": "nope"})
}

// TestConcurrency: parallel approvals by distinct identities all count,
// and of two executes at once exactly one runs and the other gets
// INVALID_STATE, each through its own client session.
func TestConcurrency(t *testing.T) {
	f := newFixture(t)
	const n = 12
	id := f.req(n)
	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		st, ct := mcp.NewInMemoryTransports()
		ss, err := f.srv.MCP().Connect(f.ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ss.Close() })
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c"}, nil).Connect(f.ctx, ct, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		sessions[i] = cs
	}
	call := func(cs *mcp.ClientSession, name string, args map[string]any) *result {
		res, err := cs.CallTool(f.ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Error(err)
			return nil
		}
		return checkEnvelope(t, name, res)
	}
	var wg sync.WaitGroup
	for i, cs := range sessions {
		wg.Go(func() {
			r := call(cs, ToolApprove, map[string]any{"request_id": id, "actor": human("approver-" + string(rune('a'+i)))})
			if r != nil && !r.OK {
				t.Errorf("approval %d: %+v", i, r.Error)
			}
		})
	}
	wg.Wait()
	st := f.ok(ToolStatus, map[string]any{"request_id": id})
	if num(st["active_approvals"]) != n || st["is_approved"] != true || st["state"] != "approved" {
		t.Fatalf("after %d parallel approvals: %v %v %v", n, st["active_approvals"], st["is_approved"], st["state"])
	}

	f.exec.RunID = "the-run"
	results := make([]*result, 2)
	for i := range results {
		wg.Go(func() {
			results[i] = call(sessions[i], ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
		})
	}
	wg.Wait()
	var codes []string
	for _, r := range results {
		if r.OK {
			codes = append(codes, "ok")
		} else {
			codes = append(codes, r.Error.Code)
		}
	}
	sort.Strings(codes)
	if !slices.Equal(codes, []string{"INVALID_STATE", "ok"}) {
		t.Errorf("two executes at once: %v", codes)
	}
	if calls := f.exec.Calls(); len(calls) != 1 {
		t.Errorf("the executor ran %d times", len(calls))
	}
}

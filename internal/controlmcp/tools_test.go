package controlmcp

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/decision"
)

// TestRequest: the result has nexus-control's keys; defaults, a plan of
// actions, Warden's approvers and expiry are recorded.
func TestRequest(t *testing.T) {
	f := newFixture(t)
	d := f.ok(ToolRequest, map[string]any{"goal": "rotate keys", "actor": human("creator")})
	want := map[string]any{"request_id": d["request_id"], "state": "pending_approval", "min_approvals": 1.0, "current_approvals": 0.0}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	st := f.ok(ToolStatus, map[string]any{"request_id": d["request_id"]})
	if st["requested_mode"] != "dry_run" || !jsonEqual(get(st, "policy", "allowed_modes"), []string{"dry_run"}) || st["plan"] != nil {
		t.Errorf("defaults: %v %v %v", st["requested_mode"], st["policy"], st["plan"])
	}

	exp := t0.Add(time.Hour).Format(time.RFC3339)
	plan := []any{map[string]any{"tool": "file:write", "input": map[string]any{"path": "a.txt", "content": "x"}}, map[string]any{"tool": "command:run", "input": nil}}
	d = f.ok(ToolRequest, map[string]any{
		"goal": "deploy", "actor": system("ci"), "mode": "apply", "plan": plan, "min_approvals": 2,
		"require_adapter_capabilities": []string{"timeout"}, "max_steps": 5, "labels": []string{"prod", "deploy"},
		"approvers": []string{"alice", "bob", "carol"}, "expires_at": exp, "template_name": nil,
	})
	if d["expires_at"] != exp || d["min_approvals"] != 2.0 {
		t.Errorf("request: %v", d)
	}
	st = f.ok(ToolStatus, map[string]any{"request_id": d["request_id"]})
	for path, want := range map[string]any{
		"requested_mode": "apply", "requester.type": "system", "requester.id": "ci", "policy.max_steps": 5.0,
		"policy.min_approvals": 2.0, "expires_at": exp, "state": "pending_approval",
	} {
		var keys []any
		for _, k := range strings.Split(path, ".") {
			keys = append(keys, k)
		}
		if got := get(st, keys...); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if !jsonEqual(st["plan"], plan) || !jsonEqual(get(st, "policy", "approvers"), []string{"alice", "bob", "carol"}) ||
		!jsonEqual(st["labels"], []string{"prod", "deploy"}) || !jsonEqual(get(st, "policy", "allowed_modes"), []string{"dry_run", "apply"}) {
		t.Errorf("status: plan %v, policy %v, labels %v", st["plan"], st["policy"], st["labels"])
	}
	// A string plan is a description.
	d = f.ok(ToolRequest, map[string]any{"goal": "g", "actor": human("c"), "plan": "step 1\nstep 2", "max_steps": nil})
	if st := f.ok(ToolStatus, map[string]any{"request_id": d["request_id"]}); st["plan"] != "step 1\nstep 2" {
		t.Errorf("plan %v", st["plan"])
	}
}

// TestApprove covers every outcome of approve: counting, comment and
// expiry, and each refusal with its code.
func TestApprove(t *testing.T) {
	f := newFixture(t)
	id := f.req(2, map[string]any{"approvers": []string{"alice", "bob", "carol", "creator"}})
	got := f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": "LGTM", "expires_at": t0.Add(time.Hour).Format(time.RFC3339)})
	want := map[string]any{"request_id": id, "state": "pending_approval", "current_approvals": 1.0, "required_approvals": 2.0, "is_approved": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first approval (-want +got):\n%s", diff)
	}
	f.fail("ALREADY_APPROVED", ToolApprove, map[string]any{"request_id": id, "actor": human("alice")})
	// Identity is the id alone.
	f.fail("ALREADY_APPROVED", ToolApprove, map[string]any{"request_id": id, "actor": system("alice")})
	// Warden differs: the requester never approves its own decision, even
	// when it is among the approvers.
	r := f.fail("SELF_APPROVAL", ToolApprove, map[string]any{"request_id": id, "actor": human("creator")})
	if !strings.Contains(r.Error.Message, "creator") {
		t.Errorf("self-approval message %q", r.Error.Message)
	}
	f.fail("NOT_AN_APPROVER", ToolApprove, map[string]any{"request_id": id, "actor": human("mallory")})
	got = f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("bob"), "comment": nil, "expires_at": nil})
	if got["state"] != "approved" || got["is_approved"] != true || got["current_approvals"] != 2.0 {
		t.Errorf("second approval: %v", got)
	}
	// Alice's approval expires: the decision is pending again, and she
	// may approve again.
	f.clock.Advance(2 * time.Hour)
	st := f.ok(ToolStatus, map[string]any{"request_id": id})
	if st["state"] != "pending_approval" || st["active_approvals"] != 1.0 || st["total_approvals"] != 2.0 {
		t.Errorf("after expiry: %v %v %v", st["state"], st["active_approvals"], st["total_approvals"])
	}
	if got := f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice")}); got["is_approved"] != true {
		t.Errorf("re-approval after expiry: %v", got)
	}
	// Once executed, a decision takes no more approvals.
	f.execute(id)
	r = f.fail("INVALID_STATE", ToolApprove, map[string]any{"request_id": id, "actor": human("carol")})
	if get(r.Error.Details, "state") != "completed" {
		t.Errorf("details %v", r.Error.Details)
	}
	// An expired decision takes none either.
	id2 := f.req(1, map[string]any{"expires_at": f.clock.Now().Add(time.Minute).Format(time.RFC3339Nano)})
	f.clock.Advance(2 * time.Minute)
	f.fail("EXPIRED", ToolApprove, map[string]any{"request_id": id2, "actor": human("alice")})
}

// TestExecute: an unapproved decision is refused with POLICY_VIOLATION
// naming what is missing; an approved one runs once, and a second execute
// gets INVALID_STATE; a failed run is recorded and returned as
// ROUTER_ERROR; modes and capabilities are checked.
func TestExecute(t *testing.T) {
	f := newFixture(t)
	id := f.req(2)
	f.approve(id, "alice")
	r := f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	if !strings.Contains(r.Error.Message, "1 of the 2 required approvals") {
		t.Errorf("message %q", r.Error.Message)
	}
	wantFields(t, r, "approvals")
	if len(f.exec.Calls()) != 0 {
		t.Fatal("the executor ran for an unapproved decision")
	}
	f.approve(id, "bob")
	f.exec.RunID, f.exec.Steps = "run-abc", 3
	got := f.execute(id)
	if got["run_id"] != "run-abc" || got["mode"] != "apply" || got["steps_executed"] != 3.0 || got["request_id"] != id ||
		!strings.HasPrefix(got["request_digest"].(string), "sha256:") || !strings.HasPrefix(got["response_digest"].(string), "sha256:") ||
		got["state"] != "completed" || got["outcome"] != "ok" || got["adapter_id"] != "test-adapter" {
		t.Errorf("execute: %v", got)
	}
	r = f.fail("INVALID_STATE", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	if !strings.Contains(r.Error.Message, "at most once") || len(f.exec.Calls()) != 1 {
		t.Errorf("second execute: %q, %d runs", r.Error.Message, len(f.exec.Calls()))
	}
	st := f.ok(ToolStatus, map[string]any{"request_id": id})
	ex := get(st, "executions", 0)
	if len(st["executions"].([]any)) != 1 || get(ex, "run_id") != "run-abc" || get(ex, "dry_run") != false || get(ex, "request_digest") != got["request_digest"] {
		t.Errorf("executions %v", st["executions"])
	}

	// dry_run overrides the requested mode, within the allowed modes.
	id = f.req(1)
	f.approve(id, "alice")
	got = f.ok(ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op"), "dry_run": true})
	if got["mode"] != "dry_run" || f.exec.Calls()[1].Mode != "dry_run" {
		t.Errorf("dry run override: %v", got)
	}
	id = f.req(1, map[string]any{"mode": "dry_run", "allowed_modes": []string{"dry_run"}})
	f.approve(id, "alice")
	wantFields(t, f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op"), "dry_run": false}), "mode")

	// Capabilities: required ones the adapter lacks, or cannot report.
	id = f.req(1, map[string]any{"require_adapter_capabilities": []string{"timeout", "external"}})
	f.approve(id, "alice")
	r = f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	if !strings.Contains(r.Error.Message, "cannot report") {
		t.Errorf("unknown capabilities: %q", r.Error.Message)
	}
	f.exec.Caps = []string{"timeout"}
	r = f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	if !strings.Contains(r.Error.Message, "lacks external") {
		t.Errorf("missing capability: %q", r.Error.Message)
	}
	f.exec.Caps = nil

	// A failing executor: recorded, ROUTER_ERROR with the run, and the
	// decision is not executed again.
	id = f.req(1)
	f.approve(id, "alice")
	f.exec.Err = errors.New("Connection timeout")
	r = f.fail("ROUTER_ERROR", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	f.exec.Err = nil
	if !strings.Contains(r.Error.Message, "Connection timeout") || r.Error.Details["error_code"] != "ROUTER_ERROR" {
		t.Errorf("router error: %+v", r.Error)
	}
	st = f.ok(ToolStatus, map[string]any{"request_id": id})
	if st["state"] != "failed" || get(st, "executions", 0, "error_code") != "ROUTER_ERROR" || get(st, "executions", 0, "outcome") != "failed" {
		t.Errorf("after failure: %v %v", st["state"], st["executions"])
	}
	f.fail("INVALID_STATE", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})

	// A rejected decision never executes.
	id = f.req(1)
	f.approve(id, "alice")
	f.ok(ToolReject, map[string]any{"request_id": id, "actor": human("bob"), "reason": "not today"})
	f.fail("INVALID_STATE", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
}

// TestNoExecutor: a service without an executor answers NO_EXECUTOR.
func TestNoExecutor(t *testing.T) {
	f := newFixture(t)
	srv, err := New(decisionServiceWithout(f), Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	id := f.req(1)
	f.approve(id, "alice")
	r := checkEnvelope(t, ToolExecute, srv.Call(f.ctx, ToolExecute, []byte(`{"request_id":"`+id+`","adapter_id":"","actor":{"type":"human","id":"op"}}`)))
	if r.OK || r.Error.Code != "NO_EXECUTOR" {
		t.Errorf("no executor: %+v", r.Error)
	}
}

// TestStatusAndInspect: status with and without events; inspect with its
// rendering, events and compiled router request, before and after
// execution.
func TestStatusAndInspect(t *testing.T) {
	f := newFixture(t)
	id := f.req(2, map[string]any{"max_steps": 10, "require_adapter_capabilities": []string{"timeout"}, "labels": []string{"prod"}})
	f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": "Looks good"})
	st := f.ok(ToolStatus, map[string]any{"request_id": id})
	if _, ok := st["events"]; ok {
		t.Error("events without include_events")
	}
	st = f.ok(ToolStatus, map[string]any{"request_id": id, "include_events": true})
	events := st["events"].([]any)
	if len(events) != 3 || get(events, 2, "type") != "APPROVAL_GRANTED" || get(events, 2, "payload", "comment") != "Looks good" ||
		get(events, 0, "event_id") != "evt_"+id+"_0" || get(events, 1, "prev") != get(events, 0, "digest") || st["head_digest"] != get(events, 2, "digest") {
		t.Errorf("events: %v", events)
	}

	in := f.ok(ToolInspect, map[string]any{"decision_id": id})
	if get(in, "decision", "state") != "pending_approval" || get(in, "approval", "approved_count") != 1.0 || get(in, "approval", "missing") != 1.0 ||
		get(in, "approval", "is_approved") != false || get(in, "approval", "approvers", 0, "actor") != "alice" ||
		get(in, "approval", "approvers", 0, "comment") != "Looks good" || get(in, "integrity", "verified") != true {
		t.Errorf("inspect: %v", in)
	}
	if get(in, "lifecycle", "blocking_reasons", 0, "code") != "MISSING_APPROVALS" {
		t.Errorf("lifecycle %v", in["lifecycle"])
	}
	rendered, _ := in["rendered"].(string)
	for _, s := range []string{"## Decision", "## Approval", "## Policy", "## Timeline", "## Integrity", "Looks good"} {
		if !strings.Contains(rendered, s) {
			t.Errorf("rendered lacks %q:\n%s", s, rendered)
		}
	}
	rr := in["compiled_router_request"]
	if get(rr, "recorded") != false || get(rr, "allow_apply") != true || get(rr, "max_steps") != 10.0 || get(rr, "adapter_id") != nil ||
		!strings.HasPrefix(get(rr, "digest").(string), "sha256:") || !jsonEqual(get(rr, "require_capabilities"), []string{"timeout"}) {
		t.Errorf("compiled router request %v", rr)
	}
	if _, ok := in["events"]; ok {
		t.Error("events without include_events")
	}
	in = f.ok(ToolInspect, map[string]any{"decision_id": id, "render": false, "include_events": true, "include_compiled_router_request": false})
	if _, ok := in["rendered"]; ok {
		t.Error("rendered with render false")
	}
	if _, ok := in["compiled_router_request"]; ok {
		t.Error("compiled_router_request with the flag false")
	}
	if evs, _ := in["events"].([]any); len(evs) != 3 || get(evs, 0, "event_id") != "evt_"+id+"_0" {
		t.Errorf("inspect events %v", in["events"])
	}

	f.approve(id, "bob")
	f.exec.Caps = []string{"timeout"}
	run := f.execute(id)
	in = f.ok(ToolInspect, map[string]any{"decision_id": id})
	rr = in["compiled_router_request"]
	if get(rr, "recorded") != true || get(rr, "digest") != run["request_digest"] || get(rr, "adapter_id") != "test-adapter" {
		t.Errorf("after execution, compiled router request %v, run %v", rr, run)
	}
	if get(in, "execution", "run_id") != run["run_id"] || get(in, "execution", "outcome") != "ok" || get(in, "decision", "state") != "completed" {
		t.Errorf("execution %v", in["execution"])
	}
}

// TestRevokeAndReject: revocation by the approver only, re-approval after
// it, and rejection by an approver or the requester with a reason.
func TestRevokeAndReject(t *testing.T) {
	f := newFixture(t)
	id := f.req(1)
	f.approve(id, "alice")
	f.fail("NOT_APPROVED", ToolRevoke, map[string]any{"request_id": id, "actor": human("bob")})
	got := f.ok(ToolRevoke, map[string]any{"request_id": id, "actor": human("alice"), "reason": "need to review more"})
	want := map[string]any{"request_id": id, "state": "pending_approval", "current_approvals": 0.0, "required_approvals": 1.0, "is_approved": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revoke (-want +got):\n%s", diff)
	}
	f.fail("NOT_APPROVED", ToolRevoke, map[string]any{"request_id": id, "actor": human("alice")})
	// Re-approval after a revocation is allowed, and counts.
	if got := f.approve(id, "alice"); got["is_approved"] != true {
		t.Errorf("re-approval: %v", got)
	}
	f.execute(id)
	f.fail("INVALID_STATE", ToolRevoke, map[string]any{"request_id": id, "actor": human("alice")})

	id = f.req(1, map[string]any{"approvers": []string{"alice"}})
	f.fail("NOT_AN_APPROVER", ToolReject, map[string]any{"request_id": id, "actor": human("mallory"), "reason": "no"})
	got = f.ok(ToolReject, map[string]any{"request_id": id, "actor": human("alice"), "reason": "too risky"})
	if got["state"] != "rejected" || got["reason"] != "too risky" || get(got, "rejected_by", "id") != "alice" || got["rejected_at"] == nil {
		t.Errorf("reject: %v", got)
	}
	f.fail("INVALID_STATE", ToolApprove, map[string]any{"request_id": id, "actor": human("alice")})
	f.fail("INVALID_STATE", ToolReject, map[string]any{"request_id": id, "actor": human("alice"), "reason": "again"})
	in := f.ok(ToolInspect, map[string]any{"decision_id": id})
	if get(in, "lifecycle", "blocking_reasons", 0, "code") != "REJECTED" {
		t.Errorf("lifecycle %v", in["lifecycle"])
	}
	// The requester may withdraw its own decision.
	id = f.req(1)
	if got := f.ok(ToolReject, map[string]any{"request_id": id, "actor": human("creator"), "reason": "withdrawn"}); got["state"] != "rejected" {
		t.Errorf("withdrawal: %v", got)
	}
}

// TestTemplates: create, TEMPLATE_ALREADY_EXISTS, get with its event,
// list with label filter, limit and offset, and requests from templates
// with overrides that may only tighten.
func TestTemplates(t *testing.T) {
	f := newFixture(t)
	got := f.ok(ToolTemplateCreate, map[string]any{"name": "prod-deploy", "actor": human("alice"), "description": "production deploys",
		"min_approvals": 2, "allowed_modes": []string{"dry_run", "apply"}, "require_adapter_capabilities": []string{"timeout"},
		"max_steps": 50, "labels": []string{"prod"}})
	if got["template_name"] != "prod-deploy" || got["description"] != "production deploys" || !strings.HasPrefix(got["digest"].(string), "sha256:") || got["created_at"] == nil {
		t.Errorf("create: %v", got)
	}
	r := f.fail("TEMPLATE_ALREADY_EXISTS", ToolTemplateCreate, map[string]any{"name": "prod-deploy", "actor": human("bob")})
	if !strings.Contains(r.Error.Message, "prod-deploy") {
		t.Errorf("exists: %q", r.Error.Message)
	}
	// Same content, another name: the same digest (it covers the content
	// only).
	same := f.ok(ToolTemplateCreate, map[string]any{"name": "prod-copy", "actor": human("bob"), "description": "other words",
		"min_approvals": 2, "allowed_modes": []string{"apply", "dry_run"}, "require_adapter_capabilities": []string{"timeout"},
		"max_steps": 50, "labels": []string{"prod"}})
	if same["digest"] != got["digest"] {
		t.Errorf("digests of the same content differ: %v %v", same["digest"], got["digest"])
	}
	f.ok(ToolTemplateCreate, map[string]any{"name": "dev", "actor": human("alice"), "labels": []string{"dev"}, "max_steps": nil})

	g := f.ok(ToolTemplateGet, map[string]any{"name": "prod-deploy"})
	if get(g, "template", "name") != "prod-deploy" || g["digest"] != got["digest"] || get(g, "snapshot", "name") != "prod-deploy" ||
		get(g, "template", "created_by", "id") != "alice" || g["events"] != nil {
		t.Errorf("get: %v", g)
	}
	g = f.ok(ToolTemplateGet, map[string]any{"name": "prod-deploy", "include_events": true})
	if evs, _ := g["events"].([]any); len(evs) != 1 || get(evs, 0, "event_type") != "TEMPLATE_CREATED" || get(evs, 0, "actor", "id") != "alice" {
		t.Errorf("get with events: %v", g["events"])
	}

	l := f.ok(ToolTemplateList, nil)
	if l["count"] != 3.0 || l["offset"] != 0.0 || l["limit"] != 100.0 || l["next_offset"] != nil {
		t.Errorf("list: %v", l)
	}
	l = f.ok(ToolTemplateList, map[string]any{"label_filter": "prod"})
	var names []string
	for _, tm := range l["templates"].([]any) {
		names = append(names, get(tm, "name").(string))
	}
	if !slices.Equal(names, []string{"prod-copy", "prod-deploy"}) {
		t.Errorf("label filter prod: %v", names)
	}
	// Labels are compared exactly: no substring, case or wildcard match.
	for _, label := range []string{"rod", "PROD", "%", "_rod"} {
		if l := f.ok(ToolTemplateList, map[string]any{"label_filter": label}); l["count"] != 0.0 {
			t.Errorf("label filter %q matched %v", label, l["templates"])
		}
	}
	l = f.ok(ToolTemplateList, map[string]any{"limit": 1, "offset": 1, "label_filter": nil})
	if l["count"] != 1.0 || get(l, "templates", 0, "name") != "prod-copy" || l["next_offset"] != 2.0 {
		t.Errorf("limit 1 offset 1: %v", l)
	}
	if l := f.ok(ToolTemplateList, map[string]any{"offset": 5}); l["count"] != 0.0 {
		t.Errorf("offset past the end: %v", l)
	}

	// Requests from the template.
	d := f.ok(ToolRequest, map[string]any{"goal": "deploy", "actor": human("creator"), "mode": "apply", "template_name": "prod-deploy"})
	if d["min_approvals"] != 2.0 || d["template_name"] != "prod-deploy" || d["template_digest"] != got["digest"] || d["overrides_applied"] != nil {
		t.Errorf("from template: %v", d)
	}
	d = f.ok(ToolRequest, map[string]any{"goal": "deploy", "actor": human("creator"), "mode": "apply", "template_name": "prod-deploy", "min_approvals": 3, "labels": []string{"override-label"}})
	if d["min_approvals"] != 3.0 || !jsonEqual(d["overrides_applied"], map[string]any{"min_approvals": 3, "labels": []string{"override-label"}}) {
		t.Errorf("with overrides: %v", d)
	}
	in := f.ok(ToolInspect, map[string]any{"decision_id": d["request_id"]})
	if get(in, "template", "name") != "prod-deploy" || get(in, "template", "overrides_applied", "min_approvals") != 3.0 ||
		!strings.Contains(in["rendered"].(string), "## Template") {
		t.Errorf("inspect template: %v", in["template"])
	}
	// Warden differs: overrides may only tighten.
	r = f.fail("INVALID_INPUT", ToolRequest, map[string]any{"goal": "deploy", "actor": human("creator"), "mode": "apply", "template_name": "prod-deploy", "min_approvals": 1, "max_steps": 100})
	wantFields(t, r, "min_approvals", "max_steps")
	// A template defined elsewhere may allow self-approval; a request made
	// over MCP never does.
	if _, err := f.svc.CreateTemplate(f.ctx, &decision.TemplateSpec{Name: "solo", AllowSelfApproval: true}, decision.Actor{Type: "human", ID: "admin"}); err != nil {
		t.Fatal(err)
	}
	solo := f.ok(ToolRequest, map[string]any{"goal": "g", "actor": human("creator"), "template_name": "solo"})
	if !jsonEqual(solo["overrides_applied"], map[string]any{"allow_self_approval": false}) {
		t.Errorf("overrides %v", solo["overrides_applied"])
	}
	f.fail("SELF_APPROVAL", ToolApprove, map[string]any{"request_id": solo["request_id"], "actor": human("creator")})

	r = f.fail("INVALID_INPUT", ToolRequest, map[string]any{"goal": "deploy", "actor": human("creator"), "mode": "apply", "template_name": "dev"})
	wantFields(t, r, "mode")
	if !strings.Contains(r.Error.Message, "allowed modes") {
		t.Errorf("mode not allowed: %q", r.Error.Message)
	}
}

// TestList: decisions newest first, by state now, labels, requester and
// template, a page at a time.
func TestList(t *testing.T) {
	f := newFixture(t)
	f.ok(ToolTemplateCreate, map[string]any{"name": "tpl", "actor": human("a"), "allowed_modes": []string{"dry_run", "apply"}})
	a := f.req(1, map[string]any{"labels": []string{"prod", "db"}})
	f.clock.Advance(time.Second)
	b := f.req(1, map[string]any{"labels": []string{"prod"}, "actor": human("other")})
	f.approve(b, "alice")
	f.clock.Advance(time.Second)
	c := f.executed("run-c", map[string]any{"template_name": "tpl"})
	f.clock.Advance(time.Second)
	e := f.req(1, map[string]any{"expires_at": f.clock.Now().Add(time.Minute).Format(time.RFC3339Nano)})
	f.clock.Advance(2 * time.Minute)

	ids := func(args map[string]any) []string {
		t.Helper()
		l := f.ok(ToolList, args)
		var out []string
		for _, d := range l["decisions"].([]any) {
			out = append(out, get(d, "decision_id").(string))
		}
		if l["count"] != float64(len(out)) {
			t.Errorf("count %v for %d decisions", l["count"], len(out))
		}
		return out
	}
	for _, c := range []struct {
		args map[string]any
		want []string
	}{
		{nil, []string{e, c, b, a}},
		{map[string]any{"states": []string{"pending_approval"}}, []string{a}},
		{map[string]any{"states": []string{"approved"}}, []string{b}},
		{map[string]any{"states": []string{"completed", "expired"}}, []string{e, c}},
		{map[string]any{"labels": []string{"prod"}}, []string{b, a}},
		{map[string]any{"labels": []string{"prod", "db"}}, []string{a}},
		{map[string]any{"requester": "other"}, []string{b}},
		{map[string]any{"template_name": "tpl"}, []string{c}},
	} {
		if got := ids(c.args); !slices.Equal(got, c.want) {
			t.Errorf("list %v: %v, want %v", c.args, got, c.want)
		}
	}
	l := f.ok(ToolList, map[string]any{"limit": 3})
	if l["count"] != 3.0 || l["next_cursor"] == nil {
		t.Fatalf("first page: %v", l)
	}
	if got := ids(map[string]any{"limit": 3, "cursor": l["next_cursor"]}); !slices.Equal(got, []string{a}) {
		t.Errorf("second page: %v", got)
	}
	l = f.ok(ToolList, map[string]any{"labels": []string{"prod"}})
	s := get(l, "decisions", 0)
	if get(s, "state") != "approved" || get(s, "approvals") != "1/1" || get(s, "requester", "id") != "other" {
		t.Errorf("summary %v", s)
	}
}

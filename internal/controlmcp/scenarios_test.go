package controlmcp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The scenarios of nexus-control's suites that concern its tools
// (reference/nexus-control.md §10.1, §10.4–§10.9), run through the MCP
// tools with Warden's intended outcomes. "Warden differs" marks where
// Warden deliberately does otherwise. The service-level versions of these
// scenarios live with the decision package; these check that the tools
// carry them through: inputs, results, codes.

// §10.1: the approval threshold.
func TestScenarioApprovalThreshold(t *testing.T) {
	t.Run("SingleApprovalInsufficientForTwo", func(t *testing.T) {
		f := newFixture(t)
		got := f.approve(f.req(2), "alice")
		if got["current_approvals"] != 1.0 || got["required_approvals"] != 2.0 || got["is_approved"] != false {
			t.Errorf("%v", got)
		}
	})
	t.Run("TwoApprovalsMeetThreshold", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.approve(id, "alice")
		if got := f.approve(id, "bob"); got["current_approvals"] != 2.0 || got["is_approved"] != true {
			t.Errorf("%v", got)
		}
	})
	t.Run("SameActorCannotApproveTwice", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.approve(id, "alice")
		r := f.fail("ALREADY_APPROVED", ToolApprove, map[string]any{"request_id": id, "actor": human("alice")})
		if !strings.Contains(r.Error.Message, "already approved") {
			t.Errorf("%q", r.Error.Message)
		}
	})
	t.Run("RevokedApprovalCanBeReapproved", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1)
		f.approve(id, "alice")
		got := f.ok(ToolRevoke, map[string]any{"request_id": id, "actor": human("alice"), "reason": "need to review more"})
		if got["current_approvals"] != 0.0 {
			t.Errorf("revoke: %v", got)
		}
		if st := f.ok(ToolStatus, map[string]any{"request_id": id}); st["active_approvals"] != 0.0 {
			t.Errorf("status: %v", st["active_approvals"])
		}
		// nexus-control's suite stops here; the re-approval is allowed.
		if got := f.approve(id, "alice"); got["is_approved"] != true {
			t.Errorf("re-approval: %v", got)
		}
	})
	t.Run("ThreeOfFive", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(3)
		f.approve(id, "alice")
		f.approve(id, "bob")
		if st := f.ok(ToolStatus, map[string]any{"request_id": id}); st["active_approvals"] != 2.0 || st["is_approved"] != false {
			t.Errorf("two of three: %v %v", st["active_approvals"], st["is_approved"])
		}
		if got := f.approve(id, "charlie"); got["is_approved"] != true {
			t.Errorf("three: %v", got)
		}
	})
	t.Run("ApprovalWithComment", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1)
		f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": "Reviewed the plan, looks good"})
		st := f.ok(ToolStatus, map[string]any{"request_id": id, "include_events": true})
		var comments []any
		for _, e := range st["events"].([]any) {
			if get(e, "type") == "APPROVAL_GRANTED" {
				comments = append(comments, get(e, "payload", "comment"))
			}
		}
		if len(comments) != 1 || comments[0] != "Reviewed the plan, looks good" {
			t.Errorf("comments %v", comments)
		}
	})
	t.Run("MixedHumanAndSystemApprovers", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.approve(id, "alice")
		got := f.ok(ToolApprove, map[string]any{"request_id": id, "actor": system("security-scanner"), "comment": "no findings"})
		if got["is_approved"] != true {
			t.Errorf("%v", got)
		}
	})
	t.Run("CannotApproveAfterExecution", func(t *testing.T) {
		f := newFixture(t)
		id := f.executed("run-1")
		r := f.fail("INVALID_STATE", ToolApprove, map[string]any{"request_id": id, "actor": human("bob")})
		if !strings.Contains(r.Error.Message, "cannot approve") {
			t.Errorf("%q", r.Error.Message)
		}
	})
	t.Run("ApprovalStateInStatus", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.approve(id, "alice")
		st := f.ok(ToolStatus, map[string]any{"request_id": id})
		if st["active_approvals"] != 1.0 || st["total_approvals"] != 1.0 || get(st, "policy", "min_approvals") != 2.0 || st["state"] != "pending_approval" {
			t.Errorf("%v", st)
		}
	})
	// Warden differs: nexus-control lets the requester approve its own
	// request.
	t.Run("NoSelfApproval", func(t *testing.T) {
		f := newFixture(t)
		f.fail("SELF_APPROVAL", ToolApprove, map[string]any{"request_id": f.req(1), "actor": human("creator")})
	})
}

// §10.4: execute links the run.
func TestScenarioExecute(t *testing.T) {
	t.Run("CallsExecutor", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1, map[string]any{"goal": "rotate API keys", "max_steps": 10})
		f.approve(id, "alice")
		f.exec.RunID = "run-abc"
		if got := f.execute(id); got["run_id"] != "run-abc" {
			t.Errorf("%v", got)
		}
		calls := f.exec.Calls()
		if len(calls) != 1 || calls[0].Goal != "rotate API keys" || calls[0].AdapterID != "test-adapter" || calls[0].Mode != "apply" || calls[0].MaxSteps != 10 {
			t.Errorf("executor calls %+v", calls)
		}
	})
	t.Run("RecordsRunIDAndDigests", func(t *testing.T) {
		f := newFixture(t)
		id := f.executed("run-xyz-789")
		st := f.ok(ToolStatus, map[string]any{"request_id": id})
		if get(st, "executions", 0, "run_id") != "run-xyz-789" || st["state"] != "completed" {
			t.Errorf("%v", st)
		}
		// Warden differs: digests carry their algorithm, "sha256:" and 64
		// hex digits.
		ex := get(st, "executions", 0)
		for _, k := range []string{"request_digest", "response_digest"} {
			if d, _ := get(ex, k).(string); len(d) != 71 || !strings.HasPrefix(d, "sha256:") {
				t.Errorf("%s %q", k, d)
			}
		}
	})
	t.Run("FailsWithoutApproval", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.approve(id, "alice")
		f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	})
	t.Run("FailsForDisallowedMode", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1, map[string]any{"mode": "dry_run", "allowed_modes": []string{"dry_run"}})
		f.approve(id, "alice")
		r := f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op"), "dry_run": false})
		if !strings.Contains(r.Error.Message, "not allowed") {
			t.Errorf("%q", r.Error.Message)
		}
	})
	t.Run("DryRunOverride", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1)
		f.approve(id, "alice")
		got := f.ok(ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op"), "dry_run": true})
		if got["mode"] != "dry_run" || f.exec.Calls()[0].Mode != "dry_run" {
			t.Errorf("%v", got)
		}
	})
	t.Run("HandlesRouterFailure", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1)
		f.approve(id, "alice")
		f.exec.Err = errors.New("Connection timeout")
		r := f.fail("ROUTER_ERROR", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
		if !strings.Contains(r.Error.Message, "Connection timeout") {
			t.Errorf("%q", r.Error.Message)
		}
		st := f.ok(ToolStatus, map[string]any{"request_id": id})
		if st["state"] != "failed" || get(st, "executions", 0, "error_code") != "ROUTER_ERROR" {
			t.Errorf("%v", st)
		}
	})
	t.Run("ValidatesAdapterCapabilities", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1, map[string]any{"require_adapter_capabilities": []string{"timeout", "external"}})
		f.approve(id, "alice")
		f.exec.Caps = []string{"timeout"}
		f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "my-adapter", "actor": human("op")})
	})
	// Warden differs: an adapter that cannot report its capabilities is
	// refused when the policy requires some, rather than skipping the
	// check; without required capabilities it runs.
	t.Run("UnknownCapabilities", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1, map[string]any{"require_adapter_capabilities": []string{"timeout"}})
		f.approve(id, "alice")
		f.fail("POLICY_VIOLATION", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
		f.executed("run-2")
	})
	t.Run("FullFlow", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2, map[string]any{"goal": "deploy", "plan": "1. build\n2. ship", "labels": []string{"prod", "deploy"}})
		f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": "ok by me"})
		f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("bob"), "comment": "ship it"})
		f.exec.RunID, f.exec.Steps = "deploy-run-001", 3
		got := f.execute(id)
		if got["run_id"] != "deploy-run-001" || got["steps_executed"] != 3.0 {
			t.Errorf("%v", got)
		}
		st := f.ok(ToolStatus, map[string]any{"request_id": id})
		if st["state"] != "completed" || st["goal"] != "deploy" || st["event_count"] != 7.0 {
			t.Errorf("%v", st)
		}
	})
	// Warden differs: a decision executes at most once.
	t.Run("AtMostOnce", func(t *testing.T) {
		f := newFixture(t)
		id := f.executed("run-1")
		f.fail("INVALID_STATE", ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
	})
}

// §10.5 and §10.7: inspect and the lifecycle it shows.
func TestScenarioInspectAndLifecycle(t *testing.T) {
	inspect := func(f *fixture, id string, more ...map[string]any) map[string]any {
		args := map[string]any{"decision_id": id}
		for _, m := range more {
			for k, v := range m {
				args[k] = v
			}
		}
		return f.ok(ToolInspect, args)
	}
	t.Run("PendingApprovedExecutedFailed", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": "Looks good"})
		in := inspect(f, id)
		if get(in, "decision", "state") != "pending_approval" || get(in, "approval", "approved_count") != 1.0 || get(in, "approval", "missing") != 1.0 ||
			get(in, "approval", "approvers", 0, "comment") != "Looks good" || !strings.Contains(in["rendered"].(string), "✗") {
			t.Errorf("pending: %v", in)
		}
		f.approve(id, "bob")
		in = inspect(f, id)
		if get(in, "decision", "state") != "approved" || get(in, "approval", "missing") != 0.0 || !strings.HasPrefix(get(in, "verdict", "text").(string), "Approved") {
			t.Errorf("approved: %v", in)
		}
		f.exec.RunID = "run-xyz-123"
		f.execute(id)
		in = inspect(f, id)
		if get(in, "decision", "state") != "completed" || get(in, "execution", "requested") != true || get(in, "execution", "run_id") != "run-xyz-123" ||
			get(in, "execution", "outcome") != "ok" || get(in, "lifecycle", "blocking_reasons", 0, "code") != "ALREADY_EXECUTED" ||
			get(in, "lifecycle", "blocking_reasons", 0, "details", "run_id") != "run-xyz-123" || get(in, "lifecycle", "progress", "execution_outcome") != "success" {
			t.Errorf("executed: %v", in)
		}

		id = f.req(1)
		f.approve(id, "alice")
		f.exec.Err = errors.New("Router crashed")
		f.call(ToolExecute, map[string]any{"request_id": id, "adapter_id": "a", "actor": human("op")})
		f.exec.Err = nil
		in = inspect(f, id)
		if get(in, "decision", "state") != "failed" || get(in, "execution", "outcome") != "failed" || !strings.Contains(get(in, "execution", "error_message").(string), "Router crashed") ||
			get(in, "lifecycle", "blocking_reasons", 0, "code") != "EXECUTION_FAILED" || get(in, "lifecycle", "progress", "execution_outcome") != "failed" {
			t.Errorf("failed: %v", in)
		}
	})
	t.Run("PolicySectionAndTimeline", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1, map[string]any{"require_adapter_capabilities": []string{"timeout"}, "max_steps": 10, "labels": []string{"prod"}})
		f.approve(id, "alice")
		in := inspect(f, id)
		if !jsonEqual(in["policy"], map[string]any{"min_approvals": 1, "allowed_modes": []string{"dry_run", "apply"}, "require_adapter_capabilities": []string{"timeout"}, "max_steps": 10}) {
			t.Errorf("policy %v", in["policy"])
		}
		var types []any
		for _, e := range get(in, "lifecycle", "timeline").([]any) {
			types = append(types, get(e, "event_type"))
		}
		if !jsonEqual(types, []string{"DECISION_CREATED", "POLICY_ATTACHED", "APPROVAL_GRANTED", "THRESHOLD_MET"}) {
			t.Errorf("timeline %v", types)
		}
	})
	t.Run("NoPolicyIsUnreachable", func(t *testing.T) {
		// Warden differs: a request writes its policy in the same atomic
		// write, so no decision made through the tools is ever a draft.
		f := newFixture(t)
		if in := inspect(f, f.req(2)); get(in, "lifecycle", "blocking_reasons", 0, "code") != "MISSING_APPROVALS" ||
			!jsonEqual(get(in, "lifecycle", "blocking_reasons", 0, "details"), map[string]any{"required": 2, "current": 0, "missing": 2}) {
			t.Errorf("%v", in["lifecycle"])
		}
	})
	t.Run("ApprovalExpired", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1)
		f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "expires_at": f.clock.Now().Add(time.Hour).Format(time.RFC3339)})
		f.clock.Advance(2 * time.Hour)
		in := inspect(f, id)
		if get(in, "lifecycle", "blocking_reasons", 0, "code") != "APPROVAL_EXPIRED" || get(in, "lifecycle", "blocking_reasons", 0, "details", "expired_count") != 1.0 ||
			get(in, "approval", "approvers", 0, "status") != "expired" {
			t.Errorf("%v", in["lifecycle"])
		}
	})
	t.Run("RenderedSections", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(2)
		f.ok(ToolApprove, map[string]any{"request_id": id, "actor": human("alice"), "comment": "Reviewed blast radius, ok."})
		r := inspect(f, id)["rendered"].(string)
		for _, s := range []string{"## Decision", "## Lifecycle", "1/2 approvals", "MISSING_APPROVALS", "## Approvals", "## Policy", "## Timeline", "## Integrity", "sha256:", "Reviewed blast radius, ok."} {
			if !strings.Contains(r, s) {
				t.Errorf("rendered lacks %q:\n%s", s, r)
			}
		}
		if _, ok := inspect(f, id, map[string]any{"render": false})["rendered"]; ok {
			t.Error("rendered with render false")
		}
	})
	t.Run("TimelineTruncated", func(t *testing.T) {
		f := newFixture(t)
		id := f.req(1)
		for range 15 {
			f.approve(id, "alice")
			f.ok(ToolRevoke, map[string]any{"request_id": id, "actor": human("alice")})
		}
		l := inspect(f, id)["lifecycle"]
		if get(l, "timeline_truncated") != true || len(get(l, "timeline").([]any)) != 20 || get(l, "timeline_total").(float64) <= 20 {
			t.Errorf("truncation: %v %v", get(l, "timeline_truncated"), get(l, "timeline_total"))
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		f := newFixture(t)
		r := f.fail("DECISION_NOT_FOUND", ToolInspect, map[string]any{"decision_id": "nonexistent"})
		if !strings.Contains(strings.ToLower(r.Error.Message), "not found") {
			t.Errorf("%q", r.Error.Message)
		}
	})
}

// §10.6: the template tools, and requests from templates.
func TestScenarioTemplates(t *testing.T) {
	f := newFixture(t)
	created := f.ok(ToolTemplateCreate, map[string]any{"name": "prod-deploy", "actor": human("alice"), "min_approvals": 2,
		"allowed_modes": []string{"dry_run", "apply"}, "require_adapter_capabilities": []string{"timeout"}, "max_steps": 50, "labels": []string{"prod"}})
	for _, k := range []string{"template_name", "description", "digest", "created_at"} {
		if _, ok := created[k]; !ok {
			t.Errorf("create lacks %s: %v", k, created)
		}
	}
	r := f.fail("TEMPLATE_ALREADY_EXISTS", ToolTemplateCreate, map[string]any{"name": "prod-deploy", "actor": human("alice")})
	if !strings.Contains(r.Error.Message, "already exists") {
		t.Errorf("%q", r.Error.Message)
	}
	f.ok(ToolTemplateCreate, map[string]any{"name": "dry-run-only", "actor": human("alice")})
	if l := f.ok(ToolTemplateList, nil); l["count"] != 2.0 || len(l["templates"].([]any)) != 2 {
		t.Errorf("list %v", l)
	}
	g := f.ok(ToolTemplateGet, map[string]any{"name": "prod-deploy"})
	if get(g, "template", "name") != "prod-deploy" || g["digest"] == nil || g["snapshot"] == nil {
		t.Errorf("get %v", g)
	}
	f.fail("TEMPLATE_NOT_FOUND", ToolTemplateGet, map[string]any{"name": "nonexistent"})
	if g := f.ok(ToolTemplateGet, map[string]any{"name": "prod-deploy", "include_events": true}); len(g["events"].([]any)) != 1 {
		t.Errorf("events %v", g["events"])
	}
	// Warden differs: the name pattern nexus-control's schema declares is
	// enforced.
	wantFields(t, f.fail("INVALID_INPUT", ToolTemplateCreate, map[string]any{"name": "bad name!", "actor": human("alice")}), "name")

	d := f.ok(ToolRequest, map[string]any{"goal": "g", "actor": human("c"), "mode": "apply", "template_name": "prod-deploy"})
	if d["min_approvals"] != 2.0 || d["template_name"] != "prod-deploy" || d["template_digest"] == nil {
		t.Errorf("from template %v", d)
	}
	d = f.ok(ToolRequest, map[string]any{"goal": "g", "actor": human("c"), "mode": "apply", "template_name": "prod-deploy", "min_approvals": 3})
	if d["min_approvals"] != 3.0 || !jsonEqual(d["overrides_applied"], map[string]any{"min_approvals": 3}) {
		t.Errorf("override %v", d)
	}
	f.fail("TEMPLATE_NOT_FOUND", ToolRequest, map[string]any{"goal": "g", "actor": human("c"), "template_name": "nonexistent"})
	r = f.fail("INVALID_INPUT", ToolRequest, map[string]any{"goal": "g", "actor": human("c"), "mode": "apply", "template_name": "dry-run-only"})
	if !strings.Contains(r.Error.Message, "not among the allowed modes") {
		t.Errorf("%q", r.Error.Message)
	}
	in := f.ok(ToolInspect, map[string]any{"decision_id": d["request_id"]})
	if get(in, "template", "name") != "prod-deploy" || get(in, "template", "overrides_applied", "min_approvals") != 3.0 {
		t.Errorf("inspect template %v", in["template"])
	}
	// A request without a template has none.
	if in := f.ok(ToolInspect, map[string]any{"decision_id": f.req(1)}); in["template"] != nil || strings.Contains(in["rendered"].(string), "## Template") {
		t.Errorf("template without one: %v", in["template"])
	}
	// End to end: template, request, two approvals, approved.
	id := f.ok(ToolRequest, map[string]any{"goal": "rotate", "actor": human("c"), "mode": "apply", "template_name": "prod-deploy"})["request_id"]
	if got := f.approve(id.(string), "alice"); got["is_approved"] != false {
		t.Errorf("%v", got)
	}
	if got := f.approve(id.(string), "bob"); got["is_approved"] != true {
		t.Errorf("%v", got)
	}
	if in := f.ok(ToolInspect, map[string]any{"decision_id": id}); get(in, "decision", "state") != "approved" || get(in, "policy", "max_steps") != 50.0 {
		t.Errorf("%v", in)
	}
}

// §10.8 and §10.9, tool groups: export/import and audit packages end to
// end, from one server to another.
func TestScenarioExchangeEndToEnd(t *testing.T) {
	src := newFixture(t)
	src.ok(ToolTemplateCreate, map[string]any{"name": "prod-deploy", "actor": human("a"), "allowed_modes": []string{"dry_run", "apply"}, "min_approvals": 2})
	id := src.req(2, map[string]any{"template_name": "prod-deploy"})
	src.approve(id, "alice")
	src.approve(id, "bob")
	exp := src.ok(ToolExportBundle, map[string]any{"decision_id": id})
	if !strings.Contains(exp["rendered"].(string), "# Decision bundle") {
		t.Errorf("rendered %v", exp["rendered"])
	}
	dst := newFixture(t)
	got := dst.ok(ToolImportBundle, map[string]any{"bundle": exp["bundle"]})
	if get(got, "replay", "ok") != true || len(get(got, "replay", "blocking_reasons").([]any)) != 0 {
		t.Errorf("import %v", got)
	}
	if st := dst.ok(ToolStatus, map[string]any{"request_id": id}); st["is_approved"] != true || st["active_approvals"] != 2.0 || get(st, "template", "name") != "prod-deploy" {
		t.Errorf("imported %v", st)
	}
	src.fail("DECISION_EXISTS", ToolImportBundle, map[string]any{"bundle": exp["bundle"]})
	// The imported decision executes on the new server and its audit
	// package is exported there.
	dst.exec.RunID = "run-001"
	dst.execute(id)
	pkg := dst.ok(ToolExportAuditPackage, map[string]any{"decision_id": id})
	if !strings.HasPrefix(pkg["digest"].(string), "sha256:") || !strings.Contains(pkg["rendered"].(string), "## Binding") {
		t.Errorf("package %v", pkg)
	}
	src.fail("NO_ROUTER_LINK", ToolExportAuditPackage, map[string]any{"decision_id": id})
	// A pending decision's bundle starts the lifecycle over elsewhere.
	p := src.req(2)
	got = newFixture(t).ok(ToolImportBundle, map[string]any{"bundle": src.ok(ToolExportBundle, map[string]any{"decision_id": p})["bundle"]})
	if get(got, "replay", "blocking_reasons", 0, "code") != "MISSING_APPROVALS" {
		t.Errorf("pending import %v", got["replay"])
	}
}

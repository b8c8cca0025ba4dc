package decision

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// fields returns the fields an INVALID_INPUT error names, in order.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	we, ok := err.(*warden.Error)
	if !ok || we.Code != warden.CodeInvalidInput {
		t.Fatalf("error %v is not INVALID_INPUT", err)
	}
	var out []string
	for _, e := range we.Details["errors"].([]any) {
		out = append(out, e.(map[string]any)["field"].(string))
	}
	return out
}

func TestRequestValidation(t *testing.T) {
	now := t0
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	ok := func() *Request { return &Request{Goal: "rotate keys", Actor: human("alice")} }
	for _, c := range []struct {
		name string
		mod  func(r *Request)
		want []string
	}{
		{"minimal", func(*Request) {}, nil},
		{"everything", func(r *Request) {
			r.ID, r.Mode, r.Plan = "my-id", Apply, json.RawMessage(`[{"tool":"file:write","input":{"path":"a"}},{"tool":"command:run"}]`)
			r.MinApprovals, r.AllowedModes, r.RequireCapabilities, r.MaxSteps = intp(2), []Mode{Apply}, []string{"timeout"}, intp(2)
			r.Labels, r.Approvers, r.AllowSelfApproval, r.ExpiresAt = []string{"prod"}, []string{"bob", "carol"}, boolp(false), &future
			r.SessionID, r.Action = "s-1", &warden.Action{Tool: "file:write", Input: map[string]any{"path": "a"}}
		}, nil},
		{"no goal", func(r *Request) { r.Goal = " \n" }, []string{"goal"}},
		{"goal too long", func(r *Request) { r.Goal = strings.Repeat("g", MaxGoalLen+1) }, []string{"goal"}},
		{"goal not utf-8", func(r *Request) { r.Goal = "\xff" }, []string{"goal"}},
		{"no actor", func(r *Request) { r.Actor = Actor{} }, []string{"actor.type", "actor.id"}},
		{"actor with space", func(r *Request) { r.Actor = human(" alice") }, []string{"actor.id"}},
		{"actor with control", func(r *Request) { r.Actor = human("al\x00ice") }, []string{"actor.id"}},
		{"bad mode", func(r *Request) { r.Mode = "yolo" }, []string{"mode"}},
		{"mode not allowed", func(r *Request) { r.Mode, r.AllowedModes = Apply, []Mode{DryRun} }, []string{"mode"}},
		{"zero approvals", func(r *Request) { r.MinApprovals = intp(0) }, []string{"min_approvals"}},
		{"too many approvals", func(r *Request) { r.MinApprovals = intp(MaxMinApprovals + 1) }, []string{"min_approvals"}},
		{"no modes", func(r *Request) { r.AllowedModes = []Mode{} }, []string{"allowed_modes"}},
		{"unknown and repeated modes", func(r *Request) { r.AllowedModes = []Mode{DryRun, "x", DryRun} }, []string{"allowed_modes[1]", "allowed_modes[2]"}},
		{"empty capability", func(r *Request) { r.RequireCapabilities = []string{""} }, []string{"require_adapter_capabilities[0]"}},
		{"repeated label", func(r *Request) { r.Labels = []string{"a", "b", "a"} }, []string{"labels[2]"}},
		{"zero steps", func(r *Request) { r.MaxSteps = intp(0) }, []string{"max_steps"}},
		{"too many steps", func(r *Request) { r.MaxSteps = intp(MaxSteps + 1) }, []string{"max_steps"}},
		{"plan over max_steps", func(r *Request) { r.Plan, r.MaxSteps = json.RawMessage(`["a","b"]`), intp(1) }, []string{"plan[0]", "plan[1]", "plan"}},
		{"plan not an action", func(r *Request) { r.Plan = json.RawMessage(`[{"tool":"t","extra":1}]`) }, []string{"plan[0]"}},
		{"plan action bad input", func(r *Request) { r.Plan = json.RawMessage(`[{"tool":"t","input":[]}]`) }, []string{"plan[0].input"}},
		{"plan number", func(r *Request) { r.Plan = json.RawMessage(`42`) }, []string{"plan"}},
		{"plan empty list", func(r *Request) { r.Plan = json.RawMessage(`[]`) }, []string{"plan"}},
		{"plan bad JSON", func(r *Request) { r.Plan = json.RawMessage(`{"a":`) }, []string{"plan"}},
		{"plan string", func(r *Request) { r.Plan = json.RawMessage(`"step 1\nstep 2"`) }, nil},
		{"plan null", func(r *Request) { r.Plan = json.RawMessage(`null`) }, nil},
		{"unreachable threshold", func(r *Request) { r.MinApprovals, r.Approvers = intp(2), []string{"alice", "bob"} }, []string{"min_approvals"}},
		{"reachable with self-approval", func(r *Request) {
			r.MinApprovals, r.Approvers, r.AllowSelfApproval = intp(2), []string{"alice", "bob"}, boolp(true)
		}, nil},
		{"repeated approver", func(r *Request) { r.Approvers = []string{"bob", "bob"} }, []string{"approvers[1]"}},
		{"expired", func(r *Request) { r.ExpiresAt = &past }, []string{"expires_at"}},
		{"expires now", func(r *Request) { r.ExpiresAt = &now }, []string{"expires_at"}},
		{"bad id", func(r *Request) { r.ID = strings.Repeat("x", MaxIDLen+1) }, []string{"decision_id"}},
		{"bad action", func(r *Request) { r.Action = &warden.Action{Input: map[string]any{"n": float64(1 << 62)}} }, []string{"action.tool", "action.input"}},
		{"template not given", func(r *Request) { r.Template = "t" }, []string{"template_name"}},
		{"several at once", func(r *Request) { r.Goal, r.Mode, r.MinApprovals = "", "x", intp(-1) }, []string{"goal", "mode", "min_approvals"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ok()
			c.mod(r)
			err := r.Validate(nil, now)
			if diff := cmp.Diff(c.want, fields(t, err)); diff != "" {
				t.Errorf("fields (-want +got):\n%s\nerror: %v", diff, err)
			}
			if err != nil {
				for _, f := range c.want {
					if !strings.Contains(err.Error(), f+": ") {
						t.Errorf("message %q does not name %s", err, f)
					}
				}
			}
		})
	}
}

func TestRequestDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		r    Request
		want Policy
	}{
		{"dry run", Request{}, Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}, RequireCapabilities: []string{}}},
		{"apply", Request{Mode: Apply}, Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun, Apply}, RequireCapabilities: []string{}}},
		{"empty approvers", Request{Approvers: []string{}}, Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}, RequireCapabilities: []string{}}},
	} {
		c.r.Goal, c.r.Actor = "g", human("alice")
		created, pol, err := c.r.resolve(nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, pol.Policy); diff != "" {
			t.Errorf("%s: policy (-want +got):\n%s", c.name, diff)
		}
		want := &CreatedPayload{Goal: "g", RequestedMode: DryRun, Labels: []string{}}
		if c.r.Mode == Apply {
			want.RequestedMode = Apply
		}
		if diff := cmp.Diff(want, created); diff != "" {
			t.Errorf("%s: created (-want +got):\n%s", c.name, diff)
		}
	}
	// A gate's decision carries the digest of its exact call: the same as
	// the gateway's, sha256 over JCS({tool, input}).
	r := &Request{Goal: "g", Actor: human("a"), Action: &warden.Action{Tool: "file:write", Input: map[string]any{"path": "x"}}}
	created, _, err := r.resolve(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := canon.DigestJSON(map[string]any{"tool": "file:write", "input": map[string]any{"path": "x"}})
	if created.ActionDigest != want {
		t.Errorf("action digest %s, want %s", created.ActionDigest, want)
	}
}

func TestDecodeRequest(t *testing.T) {
	r, err := DecodeRequest([]byte(`{"goal":"g","actor":{"type":"human","id":"a"},"mode":"apply","min_approvals":2,
		"allowed_modes":["apply"],"max_steps":null,"labels":["x"],"plan":[{"tool":"t"}],"template_name":"tpl",
		"expires_at":"2027-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Goal != "g" || *r.MinApprovals != 2 || r.MaxSteps != nil || r.Template != "tpl" || string(r.Plan) != `[{"tool":"t"}]` || r.ExpiresAt.Year() != 2027 {
		t.Errorf("%+v", r)
	}
	for _, in := range []string{
		`{"goal":"g","votes":3}`,
		`{"goal":1}`,
		`{"goal":"g"} {}`,
		`[]`,
		`{"min_approvals":1.5}`,
	} {
		_, err := DecodeRequest([]byte(in))
		if warden.ErrorCode(err) != warden.CodeInvalidInput {
			t.Errorf("%s: %v, want INVALID_INPUT", in, err)
		}
	}
}

func TestTemplateValidation(t *testing.T) {
	for _, c := range []struct {
		spec TemplateSpec
		want []string
	}{
		{TemplateSpec{Name: "ok_name-1"}, nil},
		{TemplateSpec{Name: ""}, []string{"name"}},
		{TemplateSpec{Name: "bad name!"}, []string{"name"}},
		{TemplateSpec{Name: "_x"}, []string{"name"}},
		{TemplateSpec{Name: "x", Description: strings.Repeat("d", MaxDescriptionLen+1)}, []string{"description"}},
		{TemplateSpec{Name: "x", MinApprovals: intp(0), AllowedModes: []Mode{}, MaxSteps: intp(-3)}, []string{"min_approvals", "allowed_modes", "max_steps"}},
		{TemplateSpec{Name: "x", Labels: []string{"a", "a"}}, []string{"labels[1]"}},
	} {
		_, err := NewTemplate(&c.spec, human("alice"), t0)
		if diff := cmp.Diff(c.want, fields(t, err)); diff != "" {
			t.Errorf("%+v: fields (-want +got):\n%s", c.spec, diff)
		}
	}
	if _, err := NewTemplate(&TemplateSpec{Name: "x"}, Actor{}, t0); err == nil {
		t.Error("template without an actor")
	}
}

package decision

import (
	"testing"

	"github.com/wardenhq/warden/internal/warden"
)

// FuzzRequest feeds arbitrary JSON to request decoding and validation,
// without a template and against one. Validation never panics; what it
// refuses is an INVALID_INPUT error that names its fields; and what it
// accepts, the decision's own replay accepts too: its events build,
// verify and replay to a pending decision with a valid policy.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"goal":"rotate keys","actor":{"type":"human","id":"alice"}}`,
		`{"goal":"g","actor":{"type":"system","id":"ci"},"mode":"apply","min_approvals":2,"allowed_modes":["dry_run","apply"],
		  "require_adapter_capabilities":["timeout"],"max_steps":3,"labels":["prod"],"approvers":["bob","carol"],
		  "plan":[{"tool":"file:write","input":{"path":"a"}}],"expires_at":"2030-01-01T00:00:00Z"}`,
		`{"goal":"g","actor":{"type":"human","id":"a"},"template_name":"strict","min_approvals":1}`,
		`{"goal":"g","actor":{"type":"human","id":"a"},"template_name":"strict","allowed_modes":["apply"],"approvers":[]}`,
		`{"goal":"g","actor":{"type":"human","id":"a"},"plan":"step 1","action":{"tool":"t","input":{"x":[1,2]}}}`,
		`{"goal":"","actor":{"type":"robot","id":""},"mode":"x","allowed_modes":[],"max_steps":0,"plan":[]}`,
		`{"goal":"g","actor":{"type":"human","id":"a"},"min_approvals":3,"approvers":["a","b","c"],"allow_self_approval":true}`,
	} {
		f.Add([]byte(s))
	}
	strict, err := NewTemplate(&TemplateSpec{Name: "strict", MinApprovals: intp(2), AllowedModes: []Mode{DryRun, Apply},
		RequireCapabilities: []string{"timeout"}, MaxSteps: intp(5), Labels: []string{"prod"}, Approvers: []string{"a", "b", "c"}}, human("admin"), t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			if warden.ErrorCode(err) != warden.CodeInvalidInput {
				t.Fatalf("DecodeRequest: %v", err)
			}
			return
		}
		for _, tpl := range []*Template{nil, strict} {
			q := *r
			if tpl != nil {
				q.Template = tpl.Name
			}
			created, pol, err := q.resolve(tpl, t0)
			if err != nil {
				if len(fields(t, err)) == 0 {
					t.Fatalf("refused without naming a field: %v", err)
				}
				continue
			}
			d := newDraft("fuzz")
			events, err := extend(d, []draft{{DecisionCreated, q.Actor, created}, {PolicyAttached, q.Actor, pol}}, t0)
			if err != nil {
				t.Fatalf("accepted request does not replay: %v\n%s", err, data)
			}
			replayed, err := Replay("fuzz", events)
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			if replayed.State != StatePending || !replayed.Policy.Allows(replayed.Mode) || replayed.Policy.MinApprovals < 1 {
				t.Fatalf("replayed %+v", replayed)
			}
			if tpl != nil && pol.MinApprovals < tpl.MinApprovals {
				t.Fatalf("template loosened: min_approvals %d < %d", pol.MinApprovals, tpl.MinApprovals)
			}
		}
	})
}

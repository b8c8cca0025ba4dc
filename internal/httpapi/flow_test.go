package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/auth"
)

// The full approval flow over det-acp's endpoints: a gated write needs two
// distinct approvers; the agent's identical retry is then allowed once.
func TestApprovalFlowDetACP(t *testing.T) {
	e := newEnv(t)
	s := e.must(201, request{method: "POST", path: "/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "sessionId")
	write := map[string]any{"action": map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/report.md"}}}
	eval := func(body any) any {
		return e.must(200, request{method: "POST", path: "/sessions/" + sid + "/evaluate", token: e.agent(), body: body})
	}

	first := eval(write)
	if str(first, "decision") != "gate" || str(first, "approvalId") == "" {
		t.Fatalf("first evaluation: %v", first)
	}
	apr, gatedAction := str(first, "approvalId"), str(first, "actionId")

	// Retried while pending: still gated, on the same approval.
	again := eval(write)
	if str(again, "decision") != "gate" || str(again, "approvalId") != apr {
		t.Fatalf("retry while pending: %v", again)
	}

	one := e.must(200, request{method: "POST", path: "/sessions/" + sid + "/approve", token: e.alice(),
		body: map[string]any{"actionId": gatedAction, "respondedBy": "bob", "reason": "diff looks fine"}})
	if get(one, "approvals") != 1.0 || str(one, "state") != "pending" || str(one, "respondedBy") != "alice" {
		t.Fatalf("first approval: %v", one)
	}
	if r := eval(write); str(r, "decision") != "gate" {
		t.Fatalf("after one of two approvals: %v", r)
	}
	// The second approver names the retried action; it is the same approval.
	two := e.must(200, request{method: "POST", path: "/sessions/" + sid + "/approve", token: e.bob(),
		body: map[string]any{"actionId": str(again, "actionId")}})
	if get(two, "approvals") != 2.0 || str(two, "state") != "approved" || str(two, "respondedBy") != "bob" || str(two, "approvalId") != apr {
		t.Fatalf("second approval: %v", two)
	}

	allowed := eval(write)
	if str(allowed, "decision") != "allow" || str(allowed, "approvalId") != apr || !slices.Contains(reasons(allowed), "Approved by alice, bob") {
		t.Fatalf("retry after approval: %v", allowed)
	}
	e.must(200, request{method: "POST", path: "/sessions/" + sid + "/record", token: e.agent(),
		body: map[string]any{"actionId": str(allowed, "actionId"), "result": map[string]any{"success": true}}})

	// Single use: the next identical call needs a new approval.
	next := eval(write)
	if str(next, "decision") != "gate" || str(next, "approvalId") == apr {
		t.Fatalf("second retry after a single-use approval: %v", next)
	}
	// A changed input is another action.
	other := eval(map[string]any{"action": map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/other.md"}}})
	if str(other, "decision") != "gate" || str(other, "approvalId") == str(next, "approvalId") {
		t.Fatalf("changed input: %v", other)
	}

	rep := e.must(200, request{method: "GET", path: "/sessions/" + sid + "/report", token: e.agent()})
	if get(rep, "report", "approved") != 1.0 || get(rep, "report", "totalActions") != 6.0 {
		t.Errorf("report: %v", get(rep, "report"))
	}
}

func reasons(v any) []string {
	var out []string
	for _, r := range get(v, "reasons").([]any) {
		out = append(out, r.(string))
	}
	return out
}

// The same flow over /v1, with an approval granted for the session.
func TestApprovalFlowV1(t *testing.T) {
	e := newEnv(t)
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "data", "id")
	write := map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/report.md"}}
	eval := func() any {
		return get(e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(), body: write}), "data")
	}
	first := eval()
	apr := str(first, "approvalId")
	if str(first, "decision") != "gate" || apr == "" {
		t.Fatalf("first evaluation: %v", first)
	}
	pending := e.must(200, request{method: "GET", path: "/v1/approvals", token: e.alice()})
	if ids := get(pending, "data", "approvals"); len(ids.([]any)) != 1 || str(ids, 0, "id") != apr {
		t.Fatalf("pending: %v", pending)
	}
	a1 := e.must(200, request{method: "POST", path: "/v1/approvals/" + apr + "/approve", token: e.alice(), body: map[string]any{"comment": "ok"}})
	if str(a1, "data", "state") != "pending" {
		t.Fatalf("after one vote: %v", a1)
	}
	if d := eval(); str(d, "decision") != "gate" {
		t.Fatalf("after one of two approvals: %v", d)
	}
	a2 := e.must(200, request{method: "POST", path: "/v1/approvals/" + apr + "/approve", token: e.bob(), body: map[string]any{"for_session": true}})
	if str(a2, "data", "state") != "approved" || get(a2, "data", "forSession") != true || str(a2, "data", "votes", 1, "approver") != "bob" {
		t.Fatalf("after two votes: %v", a2)
	}
	if left := e.must(200, request{method: "GET", path: "/v1/approvals?session=" + sid, token: e.alice()}); len(get(left, "data", "approvals").([]any)) != 0 {
		t.Fatalf("still pending after approval: %v", left)
	}
	// Granted for the session: every identical retry passes.
	for i := range 3 {
		if d := eval(); str(d, "decision") != "allow" || str(d, "approvalId") != apr {
			t.Fatalf("retry %d after approval: %v", i, d)
		}
	}
	got := e.must(200, request{method: "GET", path: "/v1/approvals/" + apr, token: e.agent()})
	if str(got, "data", "state") != "approved" {
		t.Errorf("approval after use for the session: %v", got)
	}
	rep := e.must(200, request{method: "GET", path: "/v1/sessions/" + sid + "/report", token: e.agent()})
	if get(rep, "data", "approved") != 3.0 {
		t.Errorf("report: %v", rep)
	}
}

// Eight agents evaluate while two approvers approve, all over HTTP: every
// gate ends with both votes, every retry is allowed exactly once, and
// nothing fails on the server.
func TestConcurrentAgentsAndApprovers(t *testing.T) {
	e := newEnv(t)
	const agents, gatesEach = 8, 4
	var tokens, sessions []string
	for i := range agents {
		tok := e.issue(fmt.Sprintf("worker-%d", i), auth.RoleAgent)
		s := e.must(201, request{method: "POST", path: "/v1/sessions", token: tok, body: map[string]any{"policy": suitePolicy}})
		tokens, sessions = append(tokens, tok), append(sessions, str(s, "data", "id"))
	}
	var (
		wg       sync.WaitGroup
		done     atomic.Bool
		mu       sync.Mutex
		failures []string
		votes    atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	call := func(rq request) (response, bool) {
		res, err := e.try(rq)
		if err != nil {
			fail("%s %s: %v", rq.method, rq.path, err)
			return res, false
		}
		if res.status >= 500 {
			fail("%s %s: %d %s", rq.method, rq.path, res.status, res.raw)
			return res, false
		}
		return res, true
	}

	for _, approver := range []string{e.alice(), e.bob()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				res, ok := call(request{method: "GET", path: "/v1/approvals", token: approver})
				if !ok {
					return
				}
				list, _ := get(res.json, "data", "approvals").([]any)
				for i := range list {
					r, ok := call(request{method: "POST", path: "/v1/approvals/" + str(list, i, "id") + "/approve", token: approver})
					switch {
					case !ok:
						return
					case r.status == 200:
						votes.Add(1)
					case codeOf(r) != "ALREADY_APPROVED" && codeOf(r) != "INVALID_STATE":
						// Either is expected: the list may be stale by the time
						// the vote arrives.
						fail("approve: %d %s", r.status, r.raw)
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}

	var agentsWG sync.WaitGroup
	for i := range agents {
		agentsWG.Add(1)
		go func() {
			defer agentsWG.Done()
			path := "/v1/sessions/" + sessions[i] + "/evaluate"
			for n := range gatesEach {
				write := map[string]any{"tool": "file:write", "input": map[string]any{"path": fmt.Sprintf("/data/out/%d-%d", i, n)}}
				first, ok := call(request{method: "POST", path: path, token: tokens[i], body: write})
				if !ok || str(first.json, "data", "decision") != "gate" {
					fail("agent %d: first evaluation %s", i, first.raw)
					return
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					// Reads keep flowing while the gate waits.
					call(request{method: "POST", path: path, token: tokens[i], body: map[string]any{"tool": "file:read", "input": map[string]any{"path": "/data/in"}}})
					r, ok := call(request{method: "POST", path: path, token: tokens[i], body: write})
					if !ok {
						return
					}
					if str(r.json, "data", "decision") == "allow" {
						if str(r.json, "data", "approvalId") != str(first.json, "data", "approvalId") {
							fail("agent %d: allowed by another approval: %s", i, r.raw)
						}
						break
					}
					if time.Now().After(deadline) {
						fail("agent %d: gate %d never approved: %s", i, n, r.raw)
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
				// Single use: the next identical call is gated again.
				if r, ok := call(request{method: "POST", path: path, token: tokens[i], body: write}); ok && str(r.json, "data", "decision") != "gate" {
					fail("agent %d: approval used twice: %s", i, r.raw)
				}
			}
		}()
	}
	agentsWG.Wait()
	done.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failures:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	for i, sid := range sessions {
		rep := e.must(200, request{method: "GET", path: "/v1/sessions/" + sid + "/report?actions=true", token: tokens[i]})
		if got := get(rep, "data", "approved"); got != float64(gatesEach) {
			t.Errorf("session %d approved %v actions, want %d", i, got, gatesEach)
		}
	}
	// Each gate was approved by exactly alice and bob (the re-gates after
	// use may still have collected votes when the agents stopped).
	if v := votes.Load(); v < 2*agents*gatesEach {
		t.Errorf("%d votes counted, want at least %d", v, 2*agents*gatesEach)
	}
	for _, sid := range sessions {
		res := e.must(200, request{method: "GET", path: "/v1/sessions/" + sid + "/report?actions=true", token: e.admin()})
		for _, a := range get(res, "data", "actions").([]any) {
			if str(a, "decision") != "allow" || str(a, "tool") != "file:write" {
				continue
			}
			apr := e.must(200, request{method: "GET", path: "/v1/approvals/" + str(a, "approvalId"), token: e.admin()})
			var who []string
			for _, v := range get(apr, "data", "votes").([]any) {
				who = append(who, str(v, "approver"))
			}
			slices.Sort(who)
			if str(apr, "data", "state") != "consumed" || !slices.Equal(who, []string{"alice", "bob"}) {
				t.Errorf("approval %s: state %s, votes %v", str(a, "approvalId"), str(apr, "data", "state"), who)
			}
		}
	}
}

package httpapi_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/httpapi"
)

// An admin creates, lists and revokes tokens over the API; the secret is
// in the creation's answer only, and it works until it is revoked.
func TestTokenRoutes(t *testing.T) {
	e := newEnv(t)
	created := e.must(201, request{method: "POST", path: "/v1/tokens", token: e.admin(),
		body: map[string]any{"name": "ci-agent", "role": "agent", "groups": []string{"release", "ops"}}})
	secret, id := str(created, "data", "secret"), str(created, "data", "token", "id")
	if !strings.HasPrefix(secret, "wdn_") || !strings.HasPrefix(id, "tok_") {
		t.Fatalf("create: %v", created)
	}
	want := map[string]any{"id": id, "name": "ci-agent", "role": "agent", "groups": []any{"release", "ops"}, "revoked": false}
	tok := get(created, "data", "token").(map[string]any)
	if tok["created"] == nil {
		t.Fatalf("no created time: %v", tok)
	}
	delete(tok, "created")
	if d := cmp.Diff(want, tok); d != "" {
		t.Errorf("created token (-want +got):\n%s", d)
	}

	// The new token acts as ci-agent.
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: secret, body: map[string]any{"policy": suitePolicy}})
	if str(s, "data", "owner") != "ci-agent" {
		t.Fatalf("session owner: %v", s)
	}

	res := e.send(request{method: "GET", path: "/v1/tokens", token: e.admin()})
	if res.status != 200 || strings.Contains(string(res.raw), secret) || strings.Contains(string(res.raw), "hash") {
		t.Fatalf("list: %d %s", res.status, res.raw)
	}
	var names []string
	for _, x := range get(res.json, "data", "tokens").([]any) {
		names = append(names, str(x, "name")+"/"+str(x, "role"))
	}
	if d := cmp.Diff([]string{"agent-1/agent", "agent-2/agent", "alice/approver", "bob/approver", "root/admin", "ci-agent/agent"}, names); d != "" {
		t.Errorf("listed tokens (-want +got):\n%s", d)
	}

	revoked := e.must(200, request{method: "POST", path: "/v1/tokens/" + id + "/revoke", token: e.admin()})
	if str(revoked, "data", "id") != id || get(revoked, "data", "revoked") != true {
		t.Fatalf("revoke: %v", revoked)
	}
	res = e.send(request{method: "GET", path: "/v1/sessions", token: secret})
	if res.status != 401 || codeOf(res) != "UNAUTHORIZED" || !strings.Contains(messageOf(res), "revoked") {
		t.Fatalf("a revoked token: %d %s", res.status, res.raw)
	}
	// Revoking again succeeds; the list shows it revoked.
	e.must(200, request{method: "POST", path: "/v1/tokens/" + id + "/revoke", token: e.admin()})
	list := e.must(200, request{method: "GET", path: "/v1/tokens", token: e.admin()})
	if get(list, "data", "tokens", 5, "revoked") != true {
		t.Errorf("list after revoke: %v", list)
	}
}

// Only admins reach the token routes; bad requests are named, never 500.
func TestTokenRoutesRefuse(t *testing.T) {
	f := newFixture(t)
	a, al, adm := f.agent(), f.alice(), f.admin()
	tokID := f.ids["bob/approver"]
	body := `{"name": "x", "role": "agent"}`
	f.check(t, []errCase{
		{"agent lists", "GET", "/v1/tokens", a, nil, "", 403, "FORBIDDEN", "needs an admin token"},
		{"approver lists", "GET", "/v1/tokens", al, nil, "", 403, "FORBIDDEN", "needs an admin token"},
		{"agent creates", "POST", "/v1/tokens", a, body, "", 403, "FORBIDDEN", "needs an admin token"},
		{"approver creates", "POST", "/v1/tokens", al, body, "", 403, "FORBIDDEN", "needs an admin token"},
		{"agent revokes", "POST", "/v1/tokens/" + tokID + "/revoke", a, nil, "", 403, "FORBIDDEN", "needs an admin token"},
		{"approver revokes", "POST", "/v1/tokens/" + tokID + "/revoke", al, nil, "", 403, "FORBIDDEN", "needs an admin token"},

		{"no name", "POST", "/v1/tokens", adm, `{"role": "agent"}`, "", 400, "INVALID_INPUT", `field "name" is required`},
		{"blank name", "POST", "/v1/tokens", adm, `{"name": "  ", "role": "agent"}`, "", 400, "INVALID_INPUT", `field "name" is required`},
		{"padded name", "POST", "/v1/tokens", adm, `{"name": " x", "role": "agent"}`, "", 400, "INVALID_INPUT", "name"},
		{"no role", "POST", "/v1/tokens", adm, `{"name": "x"}`, "", 400, "INVALID_INPUT", `field "role" is required`},
		{"bad role", "POST", "/v1/tokens", adm, `{"name": "x", "role": "root"}`, "", 400, "INVALID_INPUT", `field "role" must be agent, approver or admin, not "root"`},
		{"role not a string", "POST", "/v1/tokens", adm, `{"name": "x", "role": 1}`, "", 400, "INVALID_INPUT", `field "role" must be a string`},
		{"empty group", "POST", "/v1/tokens", adm, `{"name": "x", "role": "approver", "groups": [""]}`, "", 400, "INVALID_INPUT", "group"},
		{"groups not a list", "POST", "/v1/tokens", adm, `{"name": "x", "role": "approver", "groups": "ops"}`, "", 400, "INVALID_INPUT", `field "groups" must be a list`},
		{"unknown field", "POST", "/v1/tokens", adm, `{"name": "x", "role": "agent", "secret": "wdn_x"}`, "", 400, "INVALID_INPUT", `unknown field "secret"`},
		{"unknown token", "POST", "/v1/tokens/tok_nope/revoke", adm, nil, "", 404, "NOT_FOUND", `token "tok_nope" not found`},
		{"delete is not revoke", "DELETE", "/v1/tokens/" + tokID, adm, nil, "", 404, "NOT_FOUND", ""},
		{"get one", "PUT", "/v1/tokens", adm, nil, "", 405, "METHOD_NOT_ALLOWED", "GET"},
	})
	// Nothing was revoked or created by the refused requests.
	list := f.must(200, request{method: "GET", path: "/v1/tokens", token: adm})
	if n := len(get(list, "data", "tokens").([]any)); n != 5 {
		t.Errorf("%d tokens after refused requests, want 5: %v", n, list)
	}
	f.must(200, request{method: "GET", path: "/v1/approvals", token: f.bob()})
}

// A server without a token store answers the token routes with NOT_FOUND,
// not a 500.
func TestTokenRoutesWithoutTokens(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.NoAuth = true; c.Tokens = nil })
	for _, rq := range []request{
		{method: "GET", path: "/v1/tokens"},
		{method: "POST", path: "/v1/tokens", body: map[string]any{"name": "x", "role": "agent"}},
		{method: "POST", path: "/v1/tokens/tok_x/revoke"},
	} {
		res := e.send(rq)
		if res.status != 404 || codeOf(res) != "NOT_FOUND" || !strings.Contains(messageOf(res), "keeps no tokens") {
			t.Errorf("%s %s: %d %s", rq.method, rq.path, res.status, res.raw)
		}
	}
}

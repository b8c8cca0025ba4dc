package mcpproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/auth"
)

// versions are the protocol versions the proxy negotiates.
var versions = []string{"2025-06-18", "2025-11-25", "2026-07-28"}

// serveHTTP serves e's proxy over transport (TransportHTTP or
// TransportSSE), wrapped by wrap if it is not nil, and returns the
// endpoint agents connect to.
func serveHTTP(t *testing.T, e *env, transport string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := e.proxy.Handler(transport)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if transport == TransportSSE {
		return srv.URL + PathSSE
	}
	return srv.URL + PathHTTP
}

// bearer returns an HTTP client that sends the token with every request.
func bearer(secret string) *http.Client {
	return headerClient(map[string]string{"Authorization": "Bearer " + secret})
}

// httpAgent connects an agent named "http-agent" over t, negotiating
// version ("" for the SDK's latest).
func httpAgent(t *testing.T, ct mcp.Transport, version string) (*mcp.ClientSession, error) {
	t.Helper()
	// Not a context with a deadline: the SSE client's event stream lives
	// as long as the context it was connected with.
	client := mcp.NewClient(&mcp.Implementation{Name: "http-agent", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), ct, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// listAndCall lists the tools over cs and calls echo, which must succeed.
func listAndCall(t *testing.T, cs *mcp.ClientSession, arg string) {
	t.Helper()
	tools := toolNames(t, cs)
	for _, want := range []string{"echo", "deploy", StatusTool} {
		if tools[want] == nil {
			t.Errorf("tools/list lacks %s", want)
		}
	}
	if !tools["deploy"].Meta[RequiresUserInteraction].(bool) {
		t.Error("the gated tool is not marked over HTTP")
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": arg}})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if res.IsError || text(res) != "fs:"+arg {
		t.Fatalf("call: %v %q", res.IsError, text(res))
	}
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": ".env"}})
	if err != nil || !res.IsError || !strings.HasPrefix(text(res), "Action denied by policy: ") {
		t.Fatalf("a denied call over HTTP: %v %v", err, res)
	}
}

// lastActor is the actor of the session's latest action.
func lastActor(t *testing.T, e *env) string {
	t.Helper()
	acts := e.report().Actions
	if len(acts) == 0 {
		t.Fatal("no actions recorded")
	}
	return acts[len(acts)-1].Actor
}

func TestStreamableHTTPVersions(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
			endpoint := serveHTTP(t, e, TransportHTTP, nil)
			cs, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.InitializeResult().ProtocolVersion; got != v {
				t.Fatalf("negotiated %s, want %s", got, v)
			}
			if si := cs.InitializeResult().ServerInfo; si == nil || si.Name != "warden" {
				t.Errorf("server info %+v", si)
			}
			listAndCall(t, cs, v)
			if a := lastActor(t, e); a != "http-agent" {
				t.Errorf("actor %q, want the client's name", a)
			}
			// A second agent over the same handler is independent.
			cs2, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, v)
			if err != nil {
				t.Fatal(err)
			}
			listAndCall(t, cs2, v+"-2")
			if rep := e.report(); rep.Allowed != 2 || rep.Denied != 2 {
				t.Errorf("allowed %d, denied %d", rep.Allowed, rep.Denied)
			}
		})
	}
}

// TestStreamableHTTPListChanged: an agent on a session (protocol before
// 2026-07-28) hears about a backend's new tool over its standalone stream.
func TestStreamableHTTPListChanged(t *testing.T) {
	f := newFake("fs")
	e := newEnv(t, envOpts{}, connectFake(t, f))
	endpoint := serveHTTP(t, e, TransportHTTP, nil)
	changed := make(chan struct{}, 10)
	client := mcp.NewClient(&mcp.Implementation{Name: "http-agent", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// The standalone stream may open after Connect returns; a tool added
	// before it would be missed, so wait until a call has gone through.
	listAndCall(t, cs, "x")
	time.Sleep(100 * time.Millisecond)
	f.server.AddTool(&mcp.Tool{Name: "added", InputSchema: objectSchemaOf()}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return textResult("new"), nil
	})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no list_changed over HTTP")
	}
	if toolNames(t, cs)["added"] == nil {
		t.Error("the added tool is not listed")
	}
}

func TestLegacySSE(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	endpoint := serveHTTP(t, e, TransportSSE, nil)
	cs, err := httpAgent(t, &mcp.SSEClientTransport{Endpoint: endpoint}, "2025-06-18")
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.InitializeResult().ProtocolVersion; got != "2025-06-18" {
		t.Errorf("negotiated %s", got)
	}
	listAndCall(t, cs, "sse")
	if a := lastActor(t, e); a != "http-agent" {
		t.Errorf("actor %q", a)
	}
	// The SSE handler serves only its own path.
	resp, err := http.Get(strings.TrimSuffix(endpoint, PathSSE) + PathHTTP)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s on the SSE handler: %d", PathHTTP, resp.StatusCode)
	}
}

// initializeBody is a raw initialize request.
const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// post sends initializeBody to endpoint with the Authorization header
// authz ("" for none) and returns the response status, its
// WWW-Authenticate header and its body.
func post(t *testing.T, endpoint, authz string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(initializeBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

// tokens issues an agent, an approver, an admin and a revoked agent token
// in e's database.
func tokens(t *testing.T, e *env) (agent, approver, admin, revoked string) {
	t.Helper()
	ctx := context.Background()
	issue := func(name string, role auth.Role) (string, auth.Token) {
		secret, tok, err := auth.Issue(ctx, e.in.Tokens, name, role, nil)
		if err != nil {
			t.Fatal(err)
		}
		return secret, tok
	}
	agent, _ = issue("ci-agent", auth.RoleAgent)
	approver, _ = issue("alice", auth.RoleApprover)
	admin, _ = issue("root", auth.RoleAdmin)
	revoked, tok := issue("old-agent", auth.RoleAgent)
	if err := e.in.Tokens.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	return agent, approver, admin, revoked
}

func TestAuthenticateRequired(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	agent, approver, admin, revoked := tokens(t, e)
	endpoint := serveHTTP(t, e, TransportHTTP, Authenticate(e.in.Tokens, true))
	unknown := auth.SecretPrefix + strings.Repeat("A", 32)
	refusals := []struct {
		name, authz string
		status      int
		body        string
	}{
		{"no header", "", http.StatusUnauthorized, "missing bearer token"},
		{"wrong scheme", "Basic " + agent, http.StatusUnauthorized, "must be Bearer"},
		{"scheme only", "Bearer", http.StatusUnauthorized, "must be Bearer"},
		{"malformed token", "Bearer not-a-token", http.StatusUnauthorized, "invalid token"},
		{"unknown token", "Bearer " + unknown, http.StatusUnauthorized, "no such token"},
		{"revoked token", "Bearer " + revoked, http.StatusUnauthorized, "revoked"},
		{"approver token", "Bearer " + approver, http.StatusForbidden, "alice (approver) may not use the MCP proxy"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			status, challenge, body := post(t, endpoint, r.authz)
			if status != r.status || !strings.Contains(body, r.body) {
				t.Errorf("status %d body %q, want %d with %q", status, body, r.status, r.body)
			}
			if r.status == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("401 without a Bearer WWW-Authenticate challenge: %q", challenge)
			}
		})
	}
	// A refused agent cannot connect with the SDK either.
	if _, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1, HTTPClient: bearer(approver)}, ""); err == nil {
		t.Error("an approver token connected")
	}
	if rep := e.report(); len(rep.Actions) != 0 {
		t.Fatalf("refused requests were recorded: %+v", rep.Actions)
	}
	// An agent token works, on every protocol version, and its identity is
	// the actor of the calls it makes, whatever the client calls itself.
	for _, v := range versions {
		t.Run("agent "+v, func(t *testing.T) {
			cs, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1, HTTPClient: bearer(agent)}, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.InitializeResult().ProtocolVersion; got != v {
				t.Fatalf("negotiated %s", got)
			}
			listAndCall(t, cs, v)
			if a := lastActor(t, e); a != "ci-agent" {
				t.Errorf("actor %q, want the token's identity ci-agent", a)
			}
		})
	}
	// An admin token may use the proxy too.
	cs, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1, HTTPClient: bearer(admin)}, "2025-06-18")
	if err != nil {
		t.Fatal(err)
	}
	listAndCall(t, cs, "admin")
	if a := lastActor(t, e); a != "root" {
		t.Errorf("actor %q, want root", a)
	}
}

// TestAuthenticatedActorOnAGatedCall: the approval a held call waits for
// names the token's identity as its requester.
func TestAuthenticatedActorOnAGatedCall(t *testing.T) {
	e := newEnv(t, envOpts{gateWait: 200 * time.Millisecond}, connectFake(t, newFake("fs")))
	agent, _, _, _ := tokens(t, e)
	endpoint := serveHTTP(t, e, TransportHTTP, Authenticate(e.in.Tokens, true))
	cs, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1, HTTPClient: bearer(agent)}, "2026-07-28")
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "deploy", Arguments: map[string]any{"target": "prod"}})
	if err != nil || !res.IsError {
		t.Fatalf("a gated call that times out: %v %v", err, res)
	}
	a := pendingApproval(t, e.in.Gateway, e.proxy.SessionID())
	if a.Requester != "ci-agent" {
		t.Errorf("requester %q, want ci-agent", a.Requester)
	}
}

func TestAuthenticateOptional(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	agent, approver, _, revoked := tokens(t, e)
	endpoint := serveHTTP(t, e, TransportHTTP, Authenticate(e.in.Tokens, false))
	// No header: the request passes, and the actor is the client's name.
	if status, _, body := post(t, endpoint, ""); status != http.StatusOK {
		t.Errorf("no header: %d %q", status, body)
	}
	cs, err := httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, "2025-11-25")
	if err != nil {
		t.Fatal(err)
	}
	listAndCall(t, cs, "anon")
	if a := lastActor(t, e); a != "http-agent" {
		t.Errorf("actor %q", a)
	}
	// A token that is given is still checked.
	for _, r := range []struct {
		authz  string
		status int
	}{
		{"Bearer " + auth.SecretPrefix + strings.Repeat("b", 32), http.StatusUnauthorized},
		{"Bearer " + revoked, http.StatusUnauthorized},
		{"Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"Bearer " + approver, http.StatusForbidden},
	} {
		if status, _, body := post(t, endpoint, r.authz); status != r.status {
			t.Errorf("%s: %d %q, want %d", r.authz, status, body, r.status)
		}
	}
	// A valid one names the actor.
	cs, err = httpAgent(t, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1, HTTPClient: bearer(agent)}, "2025-06-18")
	if err != nil {
		t.Fatal(err)
	}
	listAndCall(t, cs, "tok")
	if a := lastActor(t, e); a != "ci-agent" {
		t.Errorf("actor %q, want ci-agent", a)
	}
}

func TestAuthenticateSSE(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	agent, approver, _, _ := tokens(t, e)
	endpoint := serveHTTP(t, e, TransportSSE, Authenticate(e.in.Tokens, true))
	if _, err := httpAgent(t, &mcp.SSEClientTransport{Endpoint: endpoint}, ""); err == nil {
		t.Error("an SSE agent without a token connected")
	}
	if _, err := httpAgent(t, &mcp.SSEClientTransport{Endpoint: endpoint, HTTPClient: bearer(approver)}, ""); err == nil {
		t.Error("an SSE agent with an approver token connected")
	}
	cs, err := httpAgent(t, &mcp.SSEClientTransport{Endpoint: endpoint, HTTPClient: bearer(agent)}, "")
	if err != nil {
		t.Fatal(err)
	}
	listAndCall(t, cs, "sse")
	if a := lastActor(t, e); a != "ci-agent" {
		t.Errorf("actor %q, want ci-agent", a)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:3101": true, "127.0.0.2:1": true, "localhost:3101": true, "[::1]:3101": true, "::1": true,
		"0.0.0.0:3101": false, ":3101": false, "[::]:3101": false, "10.0.0.1:3101": false, "example.com:80": false,
		"localhost.example.com:1": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestSSESessionKeptToItsToken: a message posted to an SSE session with a
// token other than the one that opened it is refused.
func TestSSESessionKeptToItsToken(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	agent, _, admin, _ := tokens(t, e)
	other, _, err := auth.Issue(context.Background(), e.in.Tokens, "other-agent", auth.RoleAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := serveHTTP(t, e, TransportSSE, Authenticate(e.in.Tokens, true))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	req.Header.Set("Authorization", "Bearer "+agent)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", endpoint, resp.StatusCode)
	}
	// The first event names the session's message endpoint.
	buf := make([]byte, 512)
	var first string
	for !strings.Contains(first, "\n\n") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("reading the endpoint event: %v (%q)", err, first)
		}
		first += string(buf[:n])
	}
	_, path, ok := strings.Cut(first, "data: ")
	if !ok || !strings.Contains(path, "sessionid=") {
		t.Fatalf("first event %q", first)
	}
	path = strings.TrimSpace(path)
	msgURL := strings.TrimSuffix(endpoint, PathSSE) + path
	postAs := func(secret string) int {
		req, _ := http.NewRequest(http.MethodPost, msgURL, strings.NewReader(initializeBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, secret := range map[string]string{"another agent": other, "an admin": admin} {
		if st := postAs(secret); st != http.StatusForbidden {
			t.Errorf("%s posted to the session: %d", name, st)
		}
	}
	if st := postAs(agent); st != http.StatusAccepted {
		t.Errorf("the session's own token: %d", st)
	}
}

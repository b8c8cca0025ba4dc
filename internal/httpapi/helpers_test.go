package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/httpapi"
)

// suitePolicy allows reads under /data, holds writes under /data/out for
// two approvals, and forbids .env files.
const suitePolicy = `version: "1.0"
name: http-suite
capabilities:
  - tool: file:read
    scope: {paths: ["/data/**"]}
  - tool: file:write
    scope: {paths: ["/data/out/**"]}
  - tool: command:run
    scope: {binaries: [echo]}
gates:
  - action: file:write
    approval: human
    min_approvals: 2
forbidden:
  - pattern: "**/.env"
`

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one API server over a MemStore gateway with its tokens.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	handler http.Handler
	gw      *gateway.Gateway
	tokens  *auth.MemStore
	logs    *syncBuffer
	secrets map[string]string // by token name and role, "name/role"
	ids     map[string]string // token ids, same keys
}

func newEnv(t testing.TB, tweak ...func(*httpapi.Config)) *env {
	t.Helper()
	e := &env{t: t, gw: gateway.New(gateway.Config{Store: gateway.NewMemStore()}), tokens: auth.NewMemStore(),
		logs: &syncBuffer{}, secrets: map[string]string{}, ids: map[string]string{}}
	cfg := httpapi.Config{Gateway: e.gw, Tokens: e.tokens, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Registry: prometheus.NewRegistry(), Version: "test"}
	for _, f := range tweak {
		f(&cfg)
	}
	h, err := httpapi.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.handler = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	e.issue("agent-1", auth.RoleAgent)
	e.issue("agent-2", auth.RoleAgent)
	e.issue("alice", auth.RoleApprover, "security")
	e.issue("bob", auth.RoleApprover)
	e.issue("root", auth.RoleAdmin)
	return e
}

// issue makes a token; tok(name, role) finds its secret.
func (e *env) issue(name string, role auth.Role, groups ...string) string {
	e.t.Helper()
	secret, tok, err := auth.Issue(context.Background(), e.tokens, name, role, groups)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secrets[name+"/"+string(role)] = secret
	e.ids[name+"/"+string(role)] = tok.ID
	return secret
}

// Shorthands for the standard tokens.
func (e *env) agent() string       { return e.secrets["agent-1/agent"] }
func (e *env) agent2() string      { return e.secrets["agent-2/agent"] }
func (e *env) alice() string       { return e.secrets["alice/approver"] }
func (e *env) bob() string         { return e.secrets["bob/approver"] }
func (e *env) admin() string       { return e.secrets["root/admin"] }
func (e *env) url(p string) string { return e.srv.URL + p }

// request is one HTTP call; a body that is a string or []byte is sent as
// is, anything else as JSON.
type request struct {
	method, path, token string
	body                any
	ctype               string // default application/json when there is a body
	header              map[string]string
}

// response is an answer, with its body decoded as generic JSON.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   any
}

func (e *env) send(rq request) response {
	e.t.Helper()
	res, err := e.try(rq)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	return res
}

// try sends rq; it may be called from any goroutine. A response that does
// not match the OpenAPI document is an error.
func (e *env) try(rq request) (response, error) {
	var body io.Reader
	ctype := rq.ctype
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		body = bytes.NewReader(data)
	}
	if body != nil && ctype == "" {
		ctype = "application/json"
	}
	req, err := http.NewRequest(rq.method, e.url(rq.path), body)
	if err != nil {
		return response{}, err
	}
	if ctype != "-" && ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.json); err != nil {
			return out, fmt.Errorf("response is not JSON: %v\n%s", err, raw)
		}
	}
	if err := checkSchema(rq.method, req.URL.Path, out); err != nil {
		return out, fmt.Errorf("the response does not match openapi.json: %v\n%s", err, raw)
	}
	return out, nil
}

// The OpenAPI document, compiled, so that every response a test sees is
// checked against what the document promises.
var openapi struct {
	sync.Mutex
	doc      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

const openapiURL = "https://warden.test/openapi.json"

// checkSchema validates a response against the schema the document gives
// for its operation and status. Paths the document does not list (the
// answers to unknown routes) are not checked.
func checkSchema(method, path string, res response) error {
	openapi.Lock()
	defer openapi.Unlock()
	if openapi.doc == nil {
		f, err := os.Open("openapi.json")
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		openapi.doc = doc.(map[string]any)
		openapi.compiler = jsonschema.NewCompiler()
		if err := openapi.compiler.AddResource(openapiURL, doc); err != nil {
			return err
		}
		openapi.schemas = map[string]*jsonschema.Schema{}
	}
	if method == http.MethodHead || len(res.raw) == 0 {
		return nil
	}
	tpl := ""
	for p := range openapi.doc["paths"].(map[string]any) {
		if matchTemplate(p, path) {
			tpl = p
		}
	}
	op, _ := get(openapi.doc, "paths", tpl, strings.ToLower(method)).(map[string]any)
	if op == nil {
		return nil
	}
	code := strconv.Itoa(res.status)
	resp := get(op, "responses", code)
	if resp == nil {
		code = "default"
		if resp = get(op, "responses", code); resp == nil {
			return errors.New("no response documented for status " + strconv.Itoa(res.status))
		}
	}
	if ref, ok := get(resp, "$ref").(string); ok {
		resp = get(openapi.doc, "components", "responses", strings.TrimPrefix(ref, "#/components/responses/"))
	}
	ctype, _, _ := strings.Cut(res.header.Get("Content-Type"), ";")
	if get(resp, "content", ctype) == nil {
		return errors.New("Content-Type " + ctype + " is not documented for status " + code)
	}
	if ctype != "application/json" {
		return nil
	}
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }
	var loc string
	if ref, ok := get(op, "responses", code, "$ref").(string); ok {
		loc = openapiURL + ref + "/content/application~1json/schema"
	} else {
		loc = openapiURL + "#/paths/" + esc(tpl) + "/" + strings.ToLower(method) + "/responses/" + code + "/content/application~1json/schema"
	}
	sch := openapi.schemas[loc]
	if sch == nil {
		var err error
		if sch, err = openapi.compiler.Compile(loc); err != nil {
			return err
		}
		openapi.schemas[loc] = sch
	}
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.raw))
	if err != nil {
		return err
	}
	return sch.Validate(body)
}

// matchTemplate reports whether path fits an OpenAPI path template.
func matchTemplate(tpl, path string) bool {
	ts, ps := strings.Split(tpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") {
			if ps[i] == "" {
				return false
			}
		} else if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// must sends rq and fails the test unless the status is want.
func (e *env) must(want int, rq request) any {
	e.t.Helper()
	res := e.send(rq)
	if res.status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", rq.method, rq.path, res.status, want, res.raw)
	}
	return res.json
}

// get walks a decoded JSON value by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

// mustJSON decodes a literal.
func mustJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

// volatile are keys whose values differ between runs: ids, times,
// durations and the server's directories.
var volatile = map[string]bool{
	"id": true, "sessionId": true, "actionId": true, "approvalId": true, "createdAt": true, "updatedAt": true,
	"timestamp": true, "terminatedAt": true, "decidedAt": true, "at": true, "durationMs": true, "runtimeMs": true,
	"startedAt": true, "root": true, "expiresAt": true, "validUntil": true,
}

// scrub replaces volatile values with "<x>" so that whole responses can
// be compared.
func scrub(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if volatile[k] && x != nil && x != "" {
				out[k] = "<x>"
			} else {
				out[k] = scrub(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = scrub(x)
		}
		return out
	}
	return v
}

package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/urlscope"
	"github.com/wardenhq/warden/internal/warden"
)

// netTestServer is an httptest server counting its requests.
type netTestServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newNetTestServer(t *testing.T, h http.HandlerFunc) *netTestServer {
	t.Helper()
	s := &netTestServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// hostPort is the server's 127.0.0.1:port.
func (s *netTestServer) hostPort() string { return strings.TrimPrefix(s.URL, "http://") }

func (s *netTestServer) port() string {
	_, p, _ := net.SplitHostPort(s.hostPort())
	return p
}

// httpPolicy allows http:request to the given domains entries.
func httpPolicy(domains ...string) string {
	q := make([]string, len(domains))
	for i, d := range domains {
		q[i] = strconv.Quote(d)
	}
	return fmt.Sprintf("name: t\ncapabilities:\n  - {tool: \"http:request\", scope: {domains: [%s]}}\n", strings.Join(q, ", "))
}

// fakeDNS answers from a table and fails for any other name.
func fakeDNS(table map[string]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
}

func doHTTP(t *testing.T, h *httpRequest, env *Env, in Input) (*httpOutput, *Outcome, error) {
	t.Helper()
	if err := h.Validate(in); err != nil {
		return nil, nil, err
	}
	oc, err := h.Execute(bg, env, in)
	if oc == nil || oc.Output == nil {
		return nil, oc, err
	}
	return oc.Output.(*httpOutput), oc, err
}

func TestHTTPGetAllowed(t *testing.T) {
	srv := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		fmt.Fprintf(w, "hello %s %s", r.Method, r.Header.Get("X-Agent"))
	})
	env := newTestEnv(t, httpPolicy(srv.hostPort()))
	h := &httpRequest{}
	out, oc, err := doHTTP(t, h, env, Input{"url": srv.URL + "/a?b=c", "headers": map[string]any{"X-Agent": "007"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != 200 || out.StatusText != "OK" || out.Body != "hello GET 007" || out.Truncated || out.Headers["x-test"] != "yes" {
		t.Errorf("output = %+v", out)
	}
	if out.URL != srv.URL+"/a?b=c" {
		t.Errorf("url = %q", out.URL)
	}
	if oc.Irreversible || oc.Undo != nil {
		t.Errorf("a GET is irreversible or has an undo record: %+v", oc)
	}
	if oc.Artifacts[0].Value != Checksum([]byte("hello GET 007")) || oc.Artifacts[1].Type != "log" {
		t.Errorf("artifacts = %+v", oc.Artifacts)
	}
	if err := h.Rollback(bg, env, oc.Undo); err != nil {
		t.Errorf("Rollback of a GET: %v", err)
	}
	// A host the policy does not list is refused before anything is sent.
	other := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	_, _, err = doHTTP(t, h, env, Input{"url": other.URL})
	cmdWantCode(t, err, warden.CodeDenied)
	if other.hits.Load() != 0 {
		t.Error("the refused server was contacted")
	}
}

func TestHTTPUnsafeMethodIrreversible(t *testing.T) {
	srv := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	})
	env := newTestEnv(t, httpPolicy(srv.hostPort()))
	h := &httpRequest{}
	out, oc, err := doHTTP(t, h, env, Input{"url": srv.URL, "method": "post", "body": "payload"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != 201 || out.Body != "POST payload" {
		t.Errorf("output = %+v", out)
	}
	if !oc.Irreversible || oc.Undo == nil {
		t.Fatalf("a POST is not irreversible: %+v", oc)
	}
	if oc.Artifacts[0].Value != Checksum([]byte("payload")) || oc.Artifacts[0].Description != "request body" {
		t.Errorf("artifacts = %+v", oc.Artifacts)
	}
	cmdWantCode(t, h.Rollback(bg, env, oc.Undo), warden.CodeNotReversible)
}

func TestHTTPRedirects(t *testing.T) {
	var target *netTestServer
	target = newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "target")
	})
	var loopHits atomic.Int32
	origin := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/away":
			http.Redirect(w, r, target.URL+"/landed", http.StatusFound)
		case r.URL.Path == "/307":
			http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
		case r.URL.Path == "/303":
			http.Redirect(w, r, "/echo", http.StatusSeeOther)
		case r.URL.Path == "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", r.Method, b)
		case strings.HasPrefix(r.URL.Path, "/loop/"):
			loopHits.Add(1)
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/loop/"))
			http.Redirect(w, r, fmt.Sprintf("/loop/%d", n+1), http.StatusFound)
		}
	})
	h := &httpRequest{}

	t.Run("to a host the policy does not list", func(t *testing.T) {
		env := newTestEnv(t, httpPolicy(origin.hostPort()))
		before := target.hits.Load()
		_, _, err := doHTTP(t, h, env, Input{"url": origin.URL + "/away"})
		cmdWantCode(t, err, warden.CodeDenied)
		if !strings.Contains(err.Error(), "redirect to "+target.URL) {
			t.Errorf("error %q does not name the redirect", err)
		}
		if target.hits.Load() != before {
			t.Error("the redirect target was contacted")
		}
	})
	t.Run("to a listed host", func(t *testing.T) {
		env := newTestEnv(t, httpPolicy(origin.hostPort(), target.hostPort()))
		out, _, err := doHTTP(t, h, env, Input{"url": origin.URL + "/away"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Body != "target" || out.Redirects != 1 || out.URL != target.URL+"/landed" {
			t.Errorf("output = %+v", out)
		}
	})
	t.Run("307 keeps the method and body", func(t *testing.T) {
		env := newTestEnv(t, httpPolicy(origin.hostPort()))
		out, _, err := doHTTP(t, h, env, Input{"url": origin.URL + "/307", "method": "PUT", "body": "data"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Body != "PUT data" {
			t.Errorf("body = %q", out.Body)
		}
	})
	t.Run("a redirect is checked with the method it will use", func(t *testing.T) {
		pol := fmt.Sprintf("name: t\ncapabilities:\n  - {tool: \"http:request\", scope: {domains: [%q], methods: [POST]}}\n", origin.hostPort())
		env := newTestEnv(t, pol)
		// 303 turns the POST into a GET, which this policy does not allow.
		_, _, err := doHTTP(t, h, env, Input{"url": origin.URL + "/303", "method": "POST", "body": "x"})
		cmdWantCode(t, err, warden.CodeDenied)
	})
	t.Run("at most 10 redirects", func(t *testing.T) {
		env := newTestEnv(t, httpPolicy(origin.hostPort()))
		loopHits.Store(0)
		_, _, err := doHTTP(t, h, env, Input{"url": origin.URL + "/loop/0"})
		cmdWantCode(t, err, warden.CodeDenied)
		if got := loopHits.Load(); got != maxRedirects+1 {
			t.Errorf("%d requests, want %d", got, maxRedirects+1)
		}
	})
}

func TestHTTPBodyCap(t *testing.T) {
	srv := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 5000)))
	})
	env := newTestEnv(t, httpPolicy(srv.hostPort()))
	h := &httpRequest{}
	out, oc, err := doHTTP(t, h, env, Input{"url": srv.URL, "maxBytes": 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Body) != 100 || !out.Truncated || oc.OutputBytes != 100 {
		t.Errorf("body %d bytes, truncated %v", len(out.Body), out.Truncated)
	}
	out, _, err = doHTTP(t, h, env, Input{"url": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Body) != 5000 || out.Truncated {
		t.Errorf("default cap: body %d bytes, truncated %v", len(out.Body), out.Truncated)
	}
	cmdWantCode(t, h.Validate(Input{"url": srv.URL, "maxBytes": MaxCapture + 1}), warden.CodeInvalidInput)

	bin := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0xff, 0x00, 0xfe}) })
	env = newTestEnv(t, httpPolicy(bin.hostPort()))
	out, _, err = doHTTP(t, h, env, Input{"url": bin.URL})
	if err != nil {
		t.Fatal(err)
	}
	if out.Body != "/wD+" || out.BodyEncoding != "base64" {
		t.Errorf("binary body = %q (%s)", out.Body, out.BodyEncoding)
	}
}

// TestHTTPPrivateAddresses: a name allowed by the policy that resolves to
// a private address reaches nothing, unless the policy lists the address
// or names the private host itself.
func TestHTTPPrivateAddresses(t *testing.T) {
	srv := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host %s", r.Host)
	})
	port := srv.port()
	dns := fakeDNS(map[string]string{
		"rebind.example.com": "127.0.0.1",
		"meta.example.com":   "169.254.169.254",
		"localtest.invalid":  "127.0.0.1",
	})
	cases := []struct {
		name    string
		url     string
		domains []string
		code    warden.Code
	}{
		{"public name to loopback", "http://rebind.example.com:" + port + "/", []string{"rebind.example.com:" + port}, warden.CodeDenied},
		{"wildcard to loopback", "http://rebind.example.com:" + port + "/", []string{"*.example.com:" + port}, warden.CodeDenied},
		{"public name to metadata", "http://meta.example.com:" + port + "/", []string{"meta.example.com:" + port}, warden.CodeDenied},
		{"loopback address listed", "http://rebind.example.com:" + port + "/", []string{"rebind.example.com:" + port, "127.0.0.1"}, ""},
		{"loopback CIDR listed", "http://rebind.example.com:" + port + "/", []string{"rebind.example.com:" + port, "127.0.0.0/8"}, ""},
		{"private name listed", "http://localtest.invalid:" + port + "/", []string{"localtest.invalid:" + port}, ""},
		{"IP literal listed", srv.URL + "/", []string{"127.0.0.1:" + port}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, httpPolicy(tc.domains...))
			before := srv.hits.Load()
			out, _, err := doHTTP(t, &httpRequest{lookup: dns}, env, Input{"url": tc.url})
			cmdWantCode(t, err, tc.code)
			if tc.code != "" {
				if srv.hits.Load() != before {
					t.Error("the server was contacted")
				}
				return
			}
			u, _ := url.Parse(tc.url)
			if out.Body != "host "+u.Host {
				t.Errorf("body = %q", out.Body)
			}
		})
	}
}

func TestHTTPDialGuard(t *testing.T) {
	lists := func(entries ...string) []*urlscope.Allowlist {
		l, err := urlscope.NewAllowlist(entries)
		if err != nil {
			t.Fatal(err)
		}
		return []*urlscope.Allowlist{l}
	}
	cases := []struct {
		host, ip string
		lists    []*urlscope.Allowlist
		refused  bool
	}{
		{"example.com", "93.184.215.14", nil, false},
		{"example.com", "127.0.0.1", nil, true},
		{"example.com", "10.1.2.3", lists("example.com"), true},
		{"example.com", "169.254.169.254", lists("*"), true},
		{"example.com", "::1", lists("example.com"), true},
		{"example.com", "::ffff:127.0.0.1", lists("example.com"), true},
		{"example.com", "fd00::1", lists("example.com"), true},
		{"example.com", "10.1.2.3", lists("example.com", "10.0.0.0/8"), false},
		{"db.internal", "10.1.2.3", lists("db.internal"), false},
		{"db.corp.internal", "10.1.2.3", lists("*.corp.internal"), false},
		{"db.internal", "10.1.2.3", lists("other.internal"), true},
		{"localhost", "127.0.0.1", lists("localhost"), false},
		{"127.0.0.1", "127.0.0.1", lists("127.0.0.1:8080"), false},
		{"127.0.0.1", "127.0.0.1", lists("localhost"), true},
	}
	for _, tc := range cases {
		g := &dialGuard{lists: tc.lists}
		why := g.refuse(tc.host, netip.MustParseAddr(tc.ip))
		if (why != "") != tc.refused {
			t.Errorf("refuse(%s, %s) = %q, want refused %v", tc.host, tc.ip, why, tc.refused)
		}
	}
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newNetTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	env := newTestEnv(t, httpPolicy(srv.hostPort()))
	start := time.Now()
	_, oc, err := doHTTP(t, &httpRequest{}, env, Input{"url": srv.URL, "timeout": 100})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if !strings.Contains(err.Error(), "timed out") || time.Since(start) > 5*time.Second {
		t.Errorf("error %q after %v", err, time.Since(start))
	}
	if oc != nil {
		t.Errorf("a GET that failed returned %+v", oc)
	}
	// A POST that reached the server before timing out cannot be undone.
	_, oc, err = doHTTP(t, &httpRequest{}, env, Input{"url": srv.URL, "method": "POST", "timeout": 100})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if oc == nil || !oc.Irreversible {
		t.Errorf("a POST that was sent is not reported irreversible: %+v", oc)
	}
}

func TestHTTPValidateAndDryRun(t *testing.T) {
	h := &httpRequest{}
	for _, tc := range []struct {
		in   Input
		code warden.Code
	}{
		{Input{"url": "https://api.example.com/x", "method": "DELETE", "headers": map[string]any{"A": "b"}, "body": "", "timeout": 10, "maxBytes": 10}, ""},
		{Input{"url": "https://api.example.com/x", "method": "get"}, ""},
		{Input{}, warden.CodeInvalidInput},
		{Input{"url": "ftp://example.com/"}, warden.CodeInvalidInput},
		{Input{"url": "http://exa mple.com/"}, warden.CodeInvalidInput},
		{Input{"url": "https://example.com", "method": "TRACE"}, warden.CodeInvalidInput},
		{Input{"url": "https://example.com", "headers": map[string]any{"Host": "internal"}}, warden.CodeInvalidInput},
		{Input{"url": "https://example.com", "headers": map[string]any{"Bad Name": "x"}}, warden.CodeInvalidInput},
		{Input{"url": "https://example.com", "headers": map[string]any{"A": "x\r\nB: y"}}, warden.CodeInvalidInput},
		{Input{"url": "https://example.com", "timeout": 0}, warden.CodeInvalidInput},
		{Input{"url": "https://example.com", "follow": true}, warden.CodeInvalidInput},
	} {
		if got := warden.ErrorCode(h.Validate(tc.in)); got != tc.code {
			t.Errorf("Validate(%v) = %q, want %q", tc.in, got, tc.code)
		}
	}
	env := newTestEnv(t, httpPolicy("api.example.com"))
	p, err := h.DryRun(bg, env, Input{"url": "https://API.example.com/a/../b", "method": "POST"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Plan{WouldDo: "POST https://api.example.com/b", Changes: []string{"POST https://api.example.com/b"}, Warnings: []string{"a POST request cannot be rolled back"}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	p, err = h.DryRun(bg, env, Input{"url": "https://api.example.com/"})
	if err != nil || len(p.Changes) != 0 || len(p.Warnings) != 0 {
		t.Errorf("GET plan = %+v, %v", p, err)
	}
	cmdWantCode(t, h.Rollback(bg, env, json.RawMessage(`{"method":"POST","url":"https://api.example.com/"}`)), warden.CodeNotReversible)
}

// dnsPolicy is det-acp's network-dns test policy.
const dnsPolicy = `
name: t
capabilities:
  - {tool: "network:dns", scope: {domains: [example.com, localhost]}}
`

// stubResolver answers network:dns lookups from fixed data.
type stubResolver struct {
	block bool // wait for the context instead of answering
}

func (s stubResolver) wait(ctx context.Context) error {
	if s.block {
		<-ctx.Done()
		return &net.DNSError{Err: "i/o timeout", IsTimeout: true}
	}
	return nil
}

func (s stubResolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	if host == "gone.example.com" {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IP{net.ParseIP("93.184.215.14"), net.ParseIP("2606:2800:21f:cb07:6820:80da:af6b:8b2c")}, nil
}
func (stubResolver) LookupCNAME(_ context.Context, host string) (string, error) {
	return "www." + host + ".", nil
}
func (stubResolver) LookupMX(context.Context, string) ([]*net.MX, error) {
	return []*net.MX{{Host: "mx1.example.com.", Pref: 10}}, nil
}
func (stubResolver) LookupTXT(context.Context, string) ([]string, error) {
	return []string{"v=spf1 -all"}, nil
}
func (stubResolver) LookupNS(context.Context, string) ([]*net.NS, error) {
	return []*net.NS{{Host: "a.iana-servers.net."}}, nil
}
func (stubResolver) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	return "", []*net.SRV{{Target: "sip.example.com.", Port: 5060, Priority: 1, Weight: 2}}, nil
}
func (stubResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return []string{"host-" + strings.ReplaceAll(addr, ".", "-") + ".example.com."}, nil
}

func lookupOut(t *testing.T, d *dnsLookup, env *Env, in Input) (*dnsOutput, *Outcome, error) {
	t.Helper()
	if err := d.Validate(in); err != nil {
		return nil, nil, err
	}
	oc, err := d.Execute(bg, env, in)
	if oc == nil {
		return nil, nil, err
	}
	return oc.Output.(*dnsOutput), oc, err
}

func TestDNSDetACP(t *testing.T) {
	env := newTestEnv(t, dnsPolicy)
	d := &dnsLookup{}
	// 1–2. Validation.
	if err := d.Validate(Input{"hostname": "example.com", "type": "A"}); err != nil {
		t.Errorf("Validate: %v", err)
	}
	cmdWantCode(t, d.Validate(Input{"hostname": ""}), warden.CodeInvalidInput)
	// 3. localhost resolves offline.
	out, oc, err := lookupOut(t, d, env, Input{"hostname": "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Hostname != "localhost" || out.Type != "A" {
		t.Errorf("output = %+v", out)
	}
	if recs, _ := out.Records.([]string); !dnsContains(recs, "127.0.0.1") {
		t.Errorf("records = %v, want 127.0.0.1 among them", out.Records)
	}
	if len(oc.Artifacts) != 2 || !strings.HasPrefix(oc.Artifacts[0].Value, "sha256:") {
		t.Errorf("artifacts = %+v", oc.Artifacts)
	}
	// 4. A name outside the scope fails: refused before any lookup.
	_, _, err = lookupOut(t, d, env, Input{"hostname": "det-acp-nonexistent-host-12345.invalid"})
	cmdWantCode(t, err, warden.CodeDenied)
	// 5. Dry run.
	p, err := d.DryRun(bg, env, Input{"hostname": "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Plan{WouldDo: "DNS A lookup for localhost"}, p); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	// 6. Rollback.
	if err := d.Rollback(bg, env, nil); err != nil {
		t.Errorf("Rollback: %v", err)
	}
}

func dnsContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestDNSScope(t *testing.T) {
	d := &dnsLookup{resolver: stubResolver{}}
	env := newTestEnv(t, dnsPolicy)
	for _, host := range []string{"other.example.org", "sub.example.com", "127.0.0.1", "EXAMPLE.com.evil.net"} {
		_, _, err := lookupOut(t, d, env, Input{"hostname": host})
		cmdWantCode(t, err, warden.CodeDenied)
	}
	// scope.hosts is honoured too.
	const hostsPolicy = `
name: t
capabilities:
  - {tool: "network:dns", scope: {hosts: ["*.example.com"]}}
`
	env = newTestEnv(t, hostsPolicy)
	if _, _, err := lookupOut(t, d, env, Input{"hostname": "api.example.com"}); err != nil {
		t.Errorf("api.example.com: %v", err)
	}
	_, _, err := lookupOut(t, d, env, Input{"hostname": "example.org"})
	cmdWantCode(t, err, warden.CodeDenied)
}

func TestDNSRecordTypes(t *testing.T) {
	const pol = `
name: t
capabilities:
  - {tool: "network:dns", scope: {hosts: [example.com, gone.example.com, 93.184.215.14]}}
`
	env := newTestEnv(t, pol)
	d := &dnsLookup{resolver: stubResolver{}}
	cases := []struct {
		in   Input
		want any
	}{
		{Input{"hostname": "example.com"}, []string{"93.184.215.14"}},
		{Input{"hostname": "Example.COM.", "type": "aaaa"}, []string{"2606:2800:21f:cb07:6820:80da:af6b:8b2c"}},
		{Input{"hostname": "example.com", "type": "CNAME"}, []string{"www.example.com"}},
		{Input{"hostname": "example.com", "type": "MX"}, []mxRecord{{Host: "mx1.example.com", Preference: 10}}},
		{Input{"hostname": "example.com", "type": "TXT"}, []string{"v=spf1 -all"}},
		{Input{"hostname": "example.com", "type": "NS"}, []string{"a.iana-servers.net"}},
		{Input{"hostname": "example.com", "type": "SRV"}, []srvRecord{{Target: "sip.example.com", Port: 5060, Priority: 1, Weight: 2}}},
		{Input{"hostname": "93.184.215.14", "type": "PTR"}, []string{"host-93-184-215-14.example.com"}},
	}
	for _, tc := range cases {
		out, _, err := lookupOut(t, d, env, tc.in)
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, out.Records); diff != "" {
			t.Errorf("%v: records (-want +got):\n%s", tc.in, diff)
		}
	}
	_, _, err := lookupOut(t, d, env, Input{"hostname": "gone.example.com"})
	cmdWantCode(t, err, warden.CodeNotFound)
	cmdWantCode(t, d.Validate(Input{"hostname": "example.com", "type": "PTR"}), warden.CodeInvalidInput)
	cmdWantCode(t, d.Validate(Input{"hostname": "example.com", "type": "SOA"}), warden.CodeInvalidInput)
	cmdWantCode(t, d.Validate(Input{"hostname": "example.com", "timeout": 60001}), warden.CodeInvalidInput)
	cmdWantCode(t, d.Validate(Input{"hostname": "example.com:53"}), warden.CodeInvalidInput)
}

func TestDNSTimeoutApplied(t *testing.T) {
	env := newTestEnv(t, dnsPolicy)
	d := &dnsLookup{resolver: stubResolver{block: true}}
	start := time.Now()
	_, _, err := lookupOut(t, d, env, Input{"hostname": "example.com", "timeout": 50})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("error = %q", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

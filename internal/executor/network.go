package executor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/urlscope"
	"github.com/wardenhq/warden/internal/warden"
)

func networkAdapters() []Adapter {
	return []Adapter{&httpRequest{}, &dnsLookup{}}
}

// Limits of http:request and network:dns.
const (
	defaultHTTPTimeout = 30 * time.Second
	maxHTTPTimeoutMS   = 600_000
	defaultHTTPBody    = 1 << 20
	// maxRedirects is how many redirects one request may follow.
	maxRedirects      = 10
	defaultDNSTimeout = 10 * time.Second
	maxDNSTimeoutMS   = 60_000
)

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// httpRequest is http:request. Input:
//
//	url       string, required: an absolute http or https URL
//	method    GET (default), POST, PUT, PATCH, DELETE, HEAD or OPTIONS
//	headers   object of strings (not Host: the host is the URL's)
//	body      string
//	timeout   milliseconds for the whole exchange, 1 to 600000, default 30000
//	maxBytes  response bytes kept, 1 to MaxCapture, default 1 MiB
//
// The URL is requested in the normalised form the policy engine judged.
// Every redirect (at most 10; 307 and 308 keep the method and body) is
// evaluated against the policy before it is followed. Every connection is
// checked at connect time, whatever the name resolved to: a private,
// loopback or link-local address is refused unless an http:request
// capability's scope.domains lists that address (or a CIDR holding it), or
// the URL names a private host (localhost, *.internal, …) that the list
// names, so a public name that resolves to 127.0.0.1 or 169.254.169.254
// (DNS rebinding) reaches nothing. Proxies from the environment are not
// used.
//
// Output: {status, statusText, headers, body, bodyEncoding, truncated, url,
// redirects}: any status is a success; headers have lower-case names and
// joined values; body is text, or base64 with bodyEncoding "base64" when it
// is not UTF-8; url is the final URL. GET, HEAD and OPTIONS leave nothing to
// undo; other methods are irreversible.
type httpRequest struct {
	// lookup resolves a host name to the addresses a connection may use;
	// nil means the system resolver. Tests give DNS answers through it.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// httpSpec is a parsed http:request input.
type httpSpec struct {
	url      string // normalised
	method   string
	headers  map[string]string
	body     string
	timeout  time.Duration
	maxBytes int64
}

// httpOutput is http:request's output.
type httpOutput struct {
	Status       int               `json:"status"`
	StatusText   string            `json:"statusText"`
	Headers      map[string]string `json:"headers"`
	Body         string            `json:"body"`
	BodyEncoding string            `json:"bodyEncoding,omitempty"`
	Truncated    bool              `json:"truncated"`
	URL          string            `json:"url"`
	Redirects    int               `json:"redirects,omitempty"`
}

// httpUndo records an irreversible request, for the rollback report.
type httpUndo struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

func (*httpRequest) Kind() string { return "http:request" }

func (*httpRequest) Validate(in Input) error {
	_, err := parseHTTP(in)
	return err
}

func parseHTTP(in Input) (*httpSpec, error) {
	if err := Known(in, "url", "method", "headers", "body", "timeout", "maxBytes"); err != nil {
		return nil, err
	}
	raw, err := String(in, "url", true)
	if err != nil {
		return nil, err
	}
	u, err := urlscope.Parse(raw)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.url: scheme %q is not http or https", u.Scheme)
	}
	s := &httpSpec{url: u.String()}
	// The engine reads the method case-insensitively; so does the adapter.
	norm := in
	if m, ok := in["method"].(string); ok {
		norm = maps.Clone(in)
		norm["method"] = strings.ToUpper(m)
	}
	if s.method, err = Enum(norm, "method", "GET", httpMethods...); err != nil {
		return nil, err
	}
	if s.headers, err = StringMap(in, "headers"); err != nil {
		return nil, err
	}
	for k, v := range s.headers {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.headers: %q is not a header name", k)
		case !httpguts.ValidHeaderFieldValue(v):
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.headers.%s: the value holds a control character", k)
		case strings.EqualFold(k, "Host"):
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.headers.%s: the host is the URL's; it cannot be set apart", k)
		}
	}
	if s.body, err = String(in, "body", false); err != nil {
		return nil, err
	}
	ms, err := Int(in, "timeout", defaultHTTPTimeout.Milliseconds(), 1, maxHTTPTimeoutMS)
	if err != nil {
		return nil, err
	}
	s.timeout = time.Duration(ms) * time.Millisecond
	if s.maxBytes, err = Int(in, "maxBytes", defaultHTTPBody, 1, MaxCapture); err != nil {
		return nil, err
	}
	return s, nil
}

// safeMethod reports a method that changes nothing on the server, by the
// HTTP contract.
func safeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

func (*httpRequest) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	s, err := parseHTTP(in)
	if err != nil {
		return nil, err
	}
	p := &Plan{WouldDo: s.method + " " + s.url}
	if !safeMethod(s.method) {
		p.Changes = []string{s.method + " " + s.url}
		p.Warnings = append(p.Warnings, fmt.Sprintf("a %s request cannot be rolled back", s.method))
	}
	if len(s.body) > defaultHTTPBody {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the body is %d bytes", len(s.body)))
	}
	return p, nil
}

func (h *httpRequest) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	s, err := parseHTTP(in)
	if err != nil {
		return nil, err
	}
	// The URL requested is the normalised one; it must pass as the raw one did.
	if err := env.Recheck(ctx, h.Kind(), in, "url", s.url); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, body)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.url: %v", err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	guard := &dialGuard{lookup: h.lookup, lists: privateAllowlists(env)}
	if guard.lookup == nil {
		guard.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would connect where the guard cannot see
		DialContext:            guard.dial,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	defer tr.CloseIdleConnections()
	redirects := 0
	client := &http.Client{Transport: tr, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return warden.Errorf(warden.CodeDenied, "refused at execution: %s redirected more than %d times", s.url, maxRedirects)
		}
		derived := maps.Clone(in)
		derived["method"] = next.Method
		if err := env.Recheck(next.Context(), h.Kind(), derived, "url", next.URL.String()); err != nil {
			var we *warden.Error
			if errors.As(err, &we) {
				return &warden.Error{Code: we.Code, Message: fmt.Sprintf("redirect to %s: %s", next.URL, we.Message), Details: we.Details, Err: we}
			}
			return err
		}
		redirects = len(via)
		return nil
	}}

	var oc *Outcome
	if !safeMethod(s.method) {
		undo, _ := json.Marshal(httpUndo{Method: s.method, URL: s.url})
		oc = &Outcome{Irreversible: true, Undo: undo}
	}
	// irreversible returns what is known of a failed unsafe request that
	// may have reached a server.
	irreversible := func() *Outcome {
		if oc != nil && sent.Load() {
			return oc
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return irreversible(), requestError(s, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBytes+1))
	if err != nil {
		return irreversible(), requestError(s, err)
	}
	truncated := int64(len(data)) > s.maxBytes
	if truncated {
		data = data[:s.maxBytes]
	}
	out := &httpOutput{
		Status: resp.StatusCode, StatusText: statusText(resp),
		Headers: map[string]string{}, Truncated: truncated,
		URL: resp.Request.URL.String(), Redirects: redirects,
	}
	for k, vs := range resp.Header {
		out.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if utf8.Valid(data) {
		out.Body = string(data)
	} else {
		out.Body, out.BodyEncoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	if oc == nil {
		oc = &Outcome{}
	}
	oc.Output = out
	oc.OutputBytes = int64(len(data))
	if s.body != "" {
		oc.Artifacts = append(oc.Artifacts, warden.Artifact{Type: "checksum", Value: Checksum([]byte(s.body)), Description: "request body"})
	}
	desc := "response body"
	if truncated {
		desc = fmt.Sprintf("response body, first %d bytes", len(data))
	}
	cut := ""
	if truncated {
		cut = ", cut"
	}
	oc.Artifacts = append(oc.Artifacts,
		warden.Artifact{Type: "checksum", Value: Checksum(data), Description: desc},
		warden.Artifact{Type: "log", Value: fmt.Sprintf("%s %s -> %d %s (%d bytes%s, %d redirects)", s.method, s.url, out.Status, out.StatusText, len(data), cut, redirects)})
	return oc, nil
}

func statusText(resp *http.Response) string {
	if t := strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode))); t != "" {
		return t
	}
	return http.StatusText(resp.StatusCode)
}

// requestError keeps a refusal as it is and names the request in any other
// failure.
func requestError(s *httpSpec, err error) error {
	var we *warden.Error
	if errors.As(err, &we) {
		return we
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &warden.Error{Code: warden.CodeInvalidState, Message: fmt.Sprintf("%s %s timed out after %dms", s.method, s.url, s.timeout.Milliseconds()), Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text would repeat the URL
	}
	return &warden.Error{Code: warden.CodeInvalidState, Message: fmt.Sprintf("%s %s: %v", s.method, s.url, err), Err: err}
}

func (*httpRequest) Rollback(_ context.Context, _ *Env, undo json.RawMessage) error {
	if len(undo) == 0 || string(undo) == "null" {
		return nil
	}
	var u httpUndo
	if err := json.Unmarshal(undo, &u); err != nil {
		return warden.Errorf(warden.CodeNotReversible, "an HTTP request that was sent cannot be taken back")
	}
	return warden.Errorf(warden.CodeNotReversible, "%s %s was sent; a request cannot be taken back", u.Method, u.URL)
}

// privateAllowlists compiles the scope.domains of every http:request
// capability: the entries that may let a connection reach a private
// address.
func privateAllowlists(env *Env) []*urlscope.Allowlist {
	var out []*urlscope.Allowlist
	for _, c := range policyCaps(env.Policy, "http:request") {
		if c.Scope.Domains == nil {
			continue
		}
		if l, err := urlscope.NewAllowlist(c.Scope.Domains); err == nil {
			out = append(out, l)
		}
	}
	return out
}

// anyPublic is an allow-list of "*", which never allows a private name:
// it tells private names from public ones by urlscope's own rules.
var anyPublic = func() *urlscope.Allowlist {
	l, err := urlscope.NewAllowlist([]string{"*"})
	if err != nil {
		panic(err)
	}
	return l
}()

// dialGuard connects only to addresses the policy lets a request reach.
type dialGuard struct {
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	lists  []*urlscope.Allowlist
}

// refuse says why a connection to ip, reached through host, is refused, or
// "". A public address passes: the host name was judged by the policy. A
// private one needs the address listed, or a private host name listed.
func (g *dialGuard) refuse(host string, ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if !urlscope.IsPrivate(ip) {
		return ""
	}
	for _, l := range g.lists {
		if ok, _ := l.AllowHost("", ip); ok {
			return ""
		}
	}
	if _, hip, err := urlscope.ParseHost(host); err == nil && !hip.IsValid() {
		if ok, _ := anyPublic.AllowHost(host, netip.Addr{}); !ok {
			for _, l := range g.lists {
				if ok, _ := l.AllowHost(host, netip.Addr{}); ok {
					return ""
				}
			}
		}
	}
	if h, _, _ := urlscope.ParseHost(host); h == ip.String() {
		return fmt.Sprintf("%s is a private or local address the policy does not list", ip)
	}
	return fmt.Sprintf("%s resolves to %s, a private or local address the policy does not list; list the address (or a CIDR holding it) in scope.domains to allow it", host, ip)
}

// dial resolves addr's host, drops the addresses refuse refuses and
// connects to the first of the others that answers. The dialer's Control
// hook checks the address really connected to once more.
func (g *dialGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = g.lookup(ctx, host); err != nil {
		return nil, err
	}
	d := &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return warden.Errorf(warden.CodeDenied, "refused at execution: cannot tell which address %s is", address)
		}
		if why := g.refuse(host, ap.Addr()); why != "" {
			return warden.Errorf(warden.CodeDenied, "refused at execution: %s", why)
		}
		return nil
	}}
	var refused []string
	var lastErr error
	for _, ip := range ips {
		if why := g.refuse(host, ip); why != "" {
			refused = append(refused, why)
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.WithZone("").Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	switch {
	case lastErr != nil:
		return nil, lastErr
	case len(refused) > 0:
		return nil, warden.Errorf(warden.CodeDenied, "refused at execution: %s", refused[0])
	}
	return nil, fmt.Errorf("%s has no address", host)
}

// dnsResolver is the part of *net.Resolver network:dns uses.
type dnsResolver interface {
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNS(ctx context.Context, name string) ([]*net.NS, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

var dnsTypes = []string{"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR"}

// dnsLookup is network:dns. Input:
//
//	hostname  string, required: a host name, or an IP address for PTR
//	type      A (default), AAAA, CNAME, MX, TXT, NS, SRV or PTR
//	timeout   milliseconds, 1 to 60000, default 10000
//
// The host, normalised as the policy engine normalises it, is evaluated
// again against scope.hosts (or scope.domains) before the lookup.
//
// Output: {hostname, type, records}: addresses or names as strings, MX as
// {host, preference}, SRV as {target, port, priority, weight}. No record
// is a NOT_FOUND error. Read-only.
type dnsLookup struct {
	// resolver answers the lookups; nil means the system resolver.
	resolver dnsResolver
}

type dnsSpec struct {
	host    string
	ip      netip.Addr
	typ     string
	timeout time.Duration
}

// dnsOutput is network:dns's output.
type dnsOutput struct {
	Hostname string `json:"hostname"`
	Type     string `json:"type"`
	Records  any    `json:"records"`
}

type mxRecord struct {
	Host       string `json:"host"`
	Preference uint16 `json:"preference"`
}

type srvRecord struct {
	Target   string `json:"target"`
	Port     uint16 `json:"port"`
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
}

func (*dnsLookup) Kind() string { return "network:dns" }

func (*dnsLookup) Validate(in Input) error {
	_, err := parseDNS(in)
	return err
}

func parseDNS(in Input) (*dnsSpec, error) {
	if err := Known(in, "hostname", "type", "timeout"); err != nil {
		return nil, err
	}
	raw, err := String(in, "hostname", true)
	if err != nil {
		return nil, err
	}
	s := &dnsSpec{}
	if s.host, s.ip, err = urlscope.ParseHost(raw); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.hostname: %v", err)
	}
	norm := in
	if t, ok := in["type"].(string); ok {
		norm = maps.Clone(in)
		norm["type"] = strings.ToUpper(t)
	}
	if s.typ, err = Enum(norm, "type", "A", dnsTypes...); err != nil {
		return nil, err
	}
	if s.typ == "PTR" && !s.ip.IsValid() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.hostname: a PTR lookup takes an IP address, got %q", raw)
	}
	ms, err := Int(in, "timeout", defaultDNSTimeout.Milliseconds(), 1, maxDNSTimeoutMS)
	if err != nil {
		return nil, err
	}
	s.timeout = time.Duration(ms) * time.Millisecond
	return s, nil
}

func (*dnsLookup) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	s, err := parseDNS(in)
	if err != nil {
		return nil, err
	}
	return &Plan{WouldDo: fmt.Sprintf("DNS %s lookup for %s", s.typ, s.host)}, nil
}

func (d *dnsLookup) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	s, err := parseDNS(in)
	if err != nil {
		return nil, err
	}
	if err := env.Recheck(ctx, d.Kind(), in, "hostname", s.host); err != nil {
		return nil, err
	}
	r := d.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	records, texts, err := lookupDNS(ctx, r, s)
	if err != nil {
		return nil, dnsError(ctx, s, err)
	}
	if len(texts) == 0 {
		return nil, warden.Errorf(warden.CodeNotFound, "no %s records for %s", s.typ, s.host)
	}
	enc, err := canon.Marshal(records)
	if err != nil {
		return nil, err
	}
	return &Outcome{
		Output:      &dnsOutput{Hostname: s.host, Type: s.typ, Records: records},
		OutputBytes: int64(len(enc)),
		Artifacts: []warden.Artifact{
			{Type: "checksum", Value: Checksum(enc), Description: "records"},
			{Type: "log", Value: cmdHead(fmt.Sprintf("%s %s: %s", s.typ, s.host, strings.Join(texts, ", ")), 2048)},
		},
	}, nil
}

// lookupDNS asks r for s's records; texts is a one-line form of each.
func lookupDNS(ctx context.Context, r dnsResolver, s *dnsSpec) (records any, texts []string, err error) {
	names := func(ns []string) ([]string, []string) {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = strings.TrimSuffix(n, ".")
		}
		return out, out
	}
	switch s.typ {
	case "A", "AAAA":
		network := map[string]string{"A": "ip4", "AAAA": "ip6"}[s.typ]
		ips, err := r.LookupIP(ctx, network, s.host)
		if err != nil {
			return nil, nil, err
		}
		out := make([]string, 0, len(ips))
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				if a = a.Unmap(); a.Is4() == (s.typ == "A") && !slices.Contains(out, a.String()) {
					out = append(out, a.String())
				}
			}
		}
		return out, out, nil
	case "CNAME":
		c, err := r.LookupCNAME(ctx, s.host)
		if err != nil {
			return nil, nil, err
		}
		rec, txt := names([]string{c})
		return rec, txt, nil
	case "MX":
		mx, err := r.LookupMX(ctx, s.host)
		if err != nil {
			return nil, nil, err
		}
		out := make([]mxRecord, len(mx))
		for i, m := range mx {
			out[i] = mxRecord{Host: strings.TrimSuffix(m.Host, "."), Preference: m.Pref}
			texts = append(texts, fmt.Sprintf("%d %s", m.Pref, out[i].Host))
		}
		return out, texts, nil
	case "TXT":
		txt, err := r.LookupTXT(ctx, s.host)
		if err != nil {
			return nil, nil, err
		}
		return txt, txt, nil
	case "NS":
		ns, err := r.LookupNS(ctx, s.host)
		if err != nil {
			return nil, nil, err
		}
		hosts := make([]string, len(ns))
		for i, n := range ns {
			hosts[i] = n.Host
		}
		rec, txt := names(hosts)
		return rec, txt, nil
	case "SRV":
		_, srv, err := r.LookupSRV(ctx, "", "", s.host)
		if err != nil {
			return nil, nil, err
		}
		out := make([]srvRecord, len(srv))
		for i, v := range srv {
			out[i] = srvRecord{Target: strings.TrimSuffix(v.Target, "."), Port: v.Port, Priority: v.Priority, Weight: v.Weight}
			texts = append(texts, fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, out[i].Target))
		}
		return out, texts, nil
	case "PTR":
		ns, err := r.LookupAddr(ctx, s.ip.String())
		if err != nil {
			return nil, nil, err
		}
		rec, txt := names(ns)
		return rec, txt, nil
	}
	return nil, nil, warden.Errorf(warden.CodeInvalidInput, "input.type: %q is not supported", s.typ)
}

// dnsError classifies a failed lookup: no such name, a timeout, or another
// failure.
func dnsError(ctx context.Context, s *dnsSpec, err error) error {
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return &warden.Error{Code: warden.CodeNotFound, Message: fmt.Sprintf("no %s records for %s", s.typ, s.host), Err: err}
	case ctx.Err() != nil || errors.As(err, &de) && de.IsTimeout:
		return &warden.Error{Code: warden.CodeInvalidState, Message: fmt.Sprintf("DNS %s lookup for %s timed out after %dms", s.typ, s.host, s.timeout.Milliseconds()), Err: err}
	}
	return &warden.Error{Code: warden.CodeInvalidState, Message: fmt.Sprintf("DNS %s lookup for %s: %v", s.typ, s.host, err), Err: err}
}

func (*dnsLookup) Rollback(context.Context, *Env, json.RawMessage) error { return nil }

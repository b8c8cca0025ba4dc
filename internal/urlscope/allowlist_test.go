package urlscope

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewAllowlistErrors(t *testing.T) {
	tests := []struct {
		entry string
		want  string // the reason
	}{
		{"", "an entry cannot be empty"},
		{"*.com", `a wildcard needs at least two labels after "*." (e.g. "*.example.com")`},
		{"*.localhost", `a wildcard needs at least two labels after "*." (e.g. "*.example.com")`},
		{"*.com.", `a wildcard needs at least two labels after "*." (e.g. "*.example.com")`},
		{"http://x/path", "a domain entry cannot have a path; write only [scheme://]host[:port]"},
		{"api.example.com/", "a domain entry cannot have a path; write only [scheme://]host[:port]"},
		{"*foo.com", `only a leading "*." wildcard is supported`},
		{"foo.*.com", `only a leading "*." wildcard is supported`},
		{"*.*.com", `only a leading "*." wildcard is supported`},
		{"**.example.com", `only a leading "*." wildcard is supported`},
		{"api.example.com?x", "a domain entry cannot have a query or fragment"},
		{"api.example.com#x", "a domain entry cannot have a query or fragment"},
		{"user@api.example.com", "a domain entry cannot have user info (user@)"},
		{"10.0.0.1/8", "the CIDR has host bits set; did you mean 10.0.0.0/8?"},
		{"10.0.0.0/33", `invalid CIDR: netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`},
		{"::ffff:10.0.0.0/104", "a CIDR must be plain IPv4 or IPv6 (no zone, no IPv4-mapped form)"},
		{"10.0.0.0/8:0", `invalid port "0" (want a decimal number 1-65535 without leading zeros)`},
		{"gopher://x.example.com", `scheme "gopher" has no default port; add one, e.g. "gopher://x.example.com:PORT"`},
		{"*.10.0.0.1", "a wildcard cannot cover an IP address; use a CIDR such as 10.0.0.0/8"},
		{" api.example.com", "invalid entry: it contains a space at offset 0"},
		{"api.example.com\n", "invalid entry: it contains a line break at offset 15"},
		{`api.example.com\`, "invalid entry: it contains a backslash at offset 15"},
		{"api.example.com:0", `invalid port "0" (want a decimal number 1-65535 without leading zeros)`},
		{"api.example.com:", `invalid port "" (want a decimal number 1-65535 without leading zeros)`},
		{"api.example.com:https", `invalid port "https" (want a decimal number 1-65535 without leading zeros)`},
		{"fe80::1%eth0", "invalid host: IPv6 zone identifiers are not allowed"},
		{"://api.example.com", `invalid scheme ""`},
		{"1x://api.example.com", `invalid scheme "1x"`},
		{"https://", "the entry has no host"},
		{":443", "the entry has no host"},
		{"1.2.3.4.5", `invalid host: "1.2.3.4.5" ends in a number but has more than 4 parts, so it is neither a name nor an IPv4 address`},
		{"a..b", "invalid host: the host has an empty label"},
		{"%61pi.example.com", "invalid host: percent-encoding in the host is not allowed"},
		{"_dmarc.example.com", `invalid host: the host contains '_' (only letters, digits, "-" and "." are allowed)`},
		{"*._x.example.com", `invalid wildcard domain: the host contains '_' (only letters, digits, "-" and "." are allowed)`},
		{"[::1]x", `unexpected "x" after the IPv6 address`},
		{"a:b:c", `invalid host and port "a:b:c"`},
	}
	for _, tt := range tests {
		_, err := NewAllowlist([]string{"ok.example.com", tt.entry})
		var ee *EntryError
		if !errors.As(err, &ee) {
			t.Errorf("NewAllowlist(%q) error = %v, want an *EntryError", tt.entry, err)
			continue
		}
		if diff := cmp.Diff(EntryError{Index: 1, Entry: tt.entry, Reason: tt.want}, *ee); diff != "" {
			t.Errorf("NewAllowlist(%q) mismatch (-want +got):\n%s", tt.entry, diff)
		}
	}
}

func TestEntryErrorMessage(t *testing.T) {
	_, err := NewAllowlist([]string{"a.example.com", "b.example.com", "*.com", "http://x/path"})
	if err == nil {
		t.Fatal("no error")
	}
	want := `[2]: "*.com": a wildcard needs at least two labels after "*." (e.g. "*.example.com")` + "\n" +
		`[3]: "http://x/path": a domain entry cannot have a path; write only [scheme://]host[:port]`
	if got := err.Error(); got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
	if got := ("domains" + (&EntryError{Index: 2, Entry: "*.com", Reason: "r"}).Error()); got != `domains[2]: "*.com": r` {
		t.Errorf("prefixed message = %q", got)
	}
}

func TestNewAllowlistValid(t *testing.T) {
	entries := []string{
		"api.example.com", "API.Example.COM.", "*.githubusercontent.com", "https://registry.npmjs.org", "*", "https://*:8443",
		"10.0.0.0/8", "[fd00::]/8", "[fd00::/8]:80", "fd00::/8", "https://10.0.0.0/8:8443", "::1", "[::1]:8080",
		"gopher://x.example.com:70", "localhost:3000", "*.corp.internal", "*.bücher.de", "0x7f.1", "wss://chat.example.com",
	}
	a, err := NewAllowlist(entries)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(entries, a.Entries()); diff != "" {
		t.Errorf("Entries mismatch (-want +got):\n%s", diff)
	}
	a.Entries()[0] = "changed"
	if a.Entries()[0] != "api.example.com" {
		t.Error("Entries shares its slice with the Allowlist")
	}
	entries[0] = "changed"
	if a.Entries()[0] != "api.example.com" {
		t.Error("NewAllowlist keeps the caller's slice")
	}
}

// testList is the policy the adversarial table and the benchmarks use.
var testList = []string{"api.example.com", "*.githubusercontent.com", "https://registry.npmjs.org"}

func TestAllowURL(t *testing.T) {
	list := []string{
		"api.example.com", "*.githubusercontent.com", "https://registry.npmjs.org", "10.0.0.0/8",
		"http://192.168.1.5:8080", "localhost:3000", "*.corp.internal", "ftp://files.example.com", "[::1]",
		"gopher://legacy.example.com:70", "https://*.svc.example.net:8443",
	}
	a, err := NewAllowlist(list)
	if err != nil {
		t.Fatal(err)
	}
	const all = "[api.example.com, *.githubusercontent.com, https://registry.npmjs.org, 10.0.0.0/8, http://192.168.1.5:8080, " +
		"localhost:3000, *.corp.internal, ftp://files.example.com, [::1], gopher://legacy.example.com:70, … 1 more]"
	tests := []struct {
		url    string
		reason string // "" when allowed
	}{
		{"https://api.example.com/v1?q=1", ""},
		{"http://api.example.com/", ""},
		{"https://api.example.com:443/", ""},
		{"http://API.EXAMPLE.COM.:80/", ""},
		{"https://raw.githubusercontent.com/a/b", ""},
		{"https://a.b.c.githubusercontent.com/", ""},
		{"https://registry.npmjs.org/react", ""},
		{"http://10.1.2.3:6379/", ""},
		{"https://10.255.255.255/", ""},
		{"http://0x0a.1/", ""},
		{"http://192.168.1.5:8080/", ""},
		{"http://localhost:3000/", ""},
		{"https://a.corp.internal/", ""},
		{"ftp://files.example.com/pub", ""},
		{"http://[::1]/", ""},
		{"https://[0:0::1]/", ""},
		{"gopher://legacy.example.com:70/", ""},
		{"https://a.svc.example.net:8443/", ""},
		{"http://api.example.com:22/", "port 22 is not allowed for api.example.com (allowed: 80)"},
		{"https://api.example.com:22/", "port 22 is not allowed for api.example.com (allowed: 443)"},
		{"http://api.example.com:443/", "port 443 is not allowed for api.example.com (allowed: 80)"},
		{"ftp://api.example.com/", `scheme "ftp" is not allowed for api.example.com (allowed: http, https)`},
		{"ws://api.example.com/", `scheme "ws" is not allowed for api.example.com (allowed: http, https)`},
		{"https://evil.com/", `domain "evil.com" is not in the allowed list ` + all},
		{"https://githubusercontent.com/", `domain "githubusercontent.com" is not in the allowed list ` + all},
		{"https://example.com/", `domain "example.com" is not in the allowed list ` + all},
		{"https://x.api.example.com/", `domain "x.api.example.com" is not in the allowed list ` + all},
		{"http://127.0.0.1/", "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{"http://[::ffff:127.0.0.1]/", "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{"http://[::2]/", "IP address ::2 is not allowed (IP literals must be listed)"},
		{"gopher://10.1.2.3:6379/", `scheme "gopher" is not allowed for 10.1.2.3 (allowed: http, https)`},
		{"http://192.168.1.5/", "port 80 is not allowed for 192.168.1.5 (allowed: 8080)"},
		{"https://192.168.1.5:8080/", `scheme "https" is not allowed for 192.168.1.5 (allowed: http)`},
		{"http://[::1]:81/", "port 81 is not allowed for ::1 (allowed: 80)"},
		{"http://localhost/", "port 80 is not allowed for localhost (allowed: 3000)"},
		{"http://foo.localhost:3000/", `domain "foo.localhost" is not allowed (private names must be listed exactly)`},
		{"https://corp.internal/", `domain "corp.internal" is not allowed (private names must be listed exactly)`},
		{"http://intranet/", `domain "intranet" is not allowed (private names must be listed exactly)`},
		{"https://user@api.example.com/", "the URL for api.example.com carries user info (user@), which is not allowed; send credentials in a header"},
		{"http://registry.npmjs.org/", `scheme "http" is not allowed for registry.npmjs.org (allowed: https)`},
		{"ftp://files.example.com:2121/", "port 2121 is not allowed for files.example.com (allowed: 21)"},
		{"gopher://legacy.example.com/", "the URL for legacy.example.com has no port and scheme \"gopher\" has no default (allowed: 70)"},
		{"https://a.svc.example.net/", "port 443 is not allowed for a.svc.example.net (allowed: 8443)"},
	}
	for _, tt := range tests {
		u, err := Parse(tt.url)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.url, err)
		}
		ok, reason := a.AllowURL(u)
		if ok != (tt.reason == "") || reason != tt.reason {
			t.Errorf("AllowURL(%q) = %v, %q; want %v, %q", tt.url, ok, reason, tt.reason == "", tt.reason)
		}
	}
}

func TestAllowURLAnyName(t *testing.T) {
	a, err := NewAllowlist([]string{"*", "https://*:8443"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url    string
		reason string
	}{
		{"https://evil.com/", ""},
		{"http://a.b.c.example.org/", ""},
		{"https://evil.com:8443/", ""},
		{"https://xn--pi-6kc.example.com/", ""},
		{"http://evil.com:8443/", "port 8443 is not allowed for evil.com (allowed: 80)"},
		{"http://localhost/", `domain "localhost" is not allowed (private names must be listed exactly)`},
		{"http://intranet/", `domain "intranet" is not allowed (private names must be listed exactly)`},
		{"http://metadata.google.internal/", `domain "metadata.google.internal" is not allowed (private names must be listed exactly)`},
		{"http://printer.local/", `domain "printer.local" is not allowed (private names must be listed exactly)`},
		{"http://router.home.arpa/", `domain "router.home.arpa" is not allowed (private names must be listed exactly)`},
		{"http://127.0.0.1/", "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{"http://8.8.8.8/", "IP address 8.8.8.8 is not allowed (IP literals must be listed)"},
		{"http://[2606:4700::1]/", "IP address 2606:4700::1 is not allowed (IP literals must be listed)"},
		{"gopher://evil.com:70/", `scheme "gopher" is not allowed for evil.com (allowed: http, https)`},
	}
	for _, tt := range tests {
		u, err := Parse(tt.url)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.url, err)
		}
		ok, reason := a.AllowURL(u)
		if ok != (tt.reason == "") || reason != tt.reason {
			t.Errorf("AllowURL(%q) = %v, %q; want %v, %q", tt.url, ok, reason, tt.reason == "", tt.reason)
		}
	}
}

// TestAllowURLHandMade checks that a URL not built by Parse is judged by
// what it would mean, never by how it is spelled.
func TestAllowURLHandMade(t *testing.T) {
	a, err := NewAllowlist([]string{"api.example.com", "*", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		u      URL
		reason string
	}{
		{URL{Scheme: "http", Host: "10.0.0.1", IP: ip("10.0.0.1"), Port: 8080}, ""},
		{URL{Scheme: "http", IP: ip("::ffff:10.0.0.1"), Port: 8080}, ""},
		{URL{Scheme: "http", Host: "10.0.0.1", IP: ip("10.0.0.1")}, "the URL for 10.0.0.1 has no port (allowed: any)"},
		{URL{Scheme: "https", Host: "API.example.com.", Port: 443, Path: "/"}, ""},
		{URL{Scheme: "https", Host: "127.0.0.1", Port: 443}, "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{URL{Scheme: "https", Host: "0x7f.1", Port: 443}, "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{URL{Scheme: "https", Host: "api.example.com", IP: ip("192.168.0.1"), Port: 443}, "IP address 192.168.0.1 is not allowed (IP literals must be listed)"},
		{URL{Scheme: "https", Host: "::1", Port: 443}, "IP address ::1 is not allowed (IP literals must be listed)"},
		{URL{Scheme: "https", Host: "LOCALHOST", Port: 443}, `domain "localhost" is not allowed (private names must be listed exactly)`},
		{URL{Scheme: "https", Host: "evil.com/x", Port: 443}, `invalid host "evil.com/x": the host contains '/' (only letters, digits, "-" and "." are allowed)`},
		{URL{Scheme: "https", Port: 443}, "the URL has no host"},
		{URL{}, "the URL has no host"},
		{URL{Scheme: "HTTPS", Host: "api.example.com", Port: 443}, `scheme "HTTPS" is not allowed for api.example.com (allowed: http, https)`},
		{URL{Scheme: "https", Host: "api.example.com"}, "the URL for api.example.com has no port (allowed: 443)"},
	}
	for _, tt := range tests {
		ok, reason := a.AllowURL(tt.u)
		if ok != (tt.reason == "") || reason != tt.reason {
			t.Errorf("AllowURL(%#v) = %v, %q; want %v, %q", tt.u, ok, reason, tt.reason == "", tt.reason)
		}
	}
}

func TestAllowNilAndEmpty(t *testing.T) {
	u, _ := Parse("https://api.example.com/")
	var nilList *Allowlist
	if ok, reason := nilList.AllowURL(u); ok || reason != `domain "api.example.com" is not in the allowed list []` {
		t.Errorf("nil AllowURL = %v, %q", ok, reason)
	}
	if ok, _ := nilList.AllowHost("api.example.com", netip.Addr{}); ok {
		t.Error("nil AllowHost allowed")
	}
	if nilList.Entries() != nil {
		t.Error("nil Entries not nil")
	}
	empty, err := NewAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, reason := empty.AllowURL(u); ok || reason != `domain "api.example.com" is not in the allowed list []` {
		t.Errorf("empty AllowURL = %v, %q", ok, reason)
	}
}

func TestAllowHost(t *testing.T) {
	a, err := NewAllowlist([]string{"api.example.com", "*.githubusercontent.com", "https://registry.npmjs.org:8443", "10.0.0.0/8", "localhost", "ftp://files.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	const all = "[api.example.com, *.githubusercontent.com, https://registry.npmjs.org:8443, 10.0.0.0/8, localhost, ftp://files.example.com]"
	tests := []struct {
		host   string
		ip     netip.Addr
		reason string
	}{
		{host: "api.example.com"},
		{host: "API.EXAMPLE.COM."},
		{host: "ａｐｉ.example.com"},
		{host: "raw.githubusercontent.com"},
		{host: "registry.npmjs.org"}, // scheme and port are not considered
		{host: "files.example.com"},
		{host: "localhost"},
		{host: "10.1.2.3"},
		{host: "0x0a.1"},
		{host: "", ip: ip("10.0.0.7")},
		{host: "api.example.com", ip: ip("10.0.0.7")}, // judged by the address
		{host: "evil.com", reason: `domain "evil.com" is not in the allowed list ` + all},
		{host: "githubusercontent.com", reason: `domain "githubusercontent.com" is not in the allowed list ` + all},
		{host: "аpi.example.com", reason: `domain "xn--pi-6kc.example.com" is not in the allowed list ` + all},
		{host: "foo.localhost", reason: `domain "foo.localhost" is not allowed (private names must be listed exactly)`},
		{host: "127.0.0.1", reason: "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{host: "2130706433", reason: "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{host: "::ffff:127.0.0.1", reason: "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{host: "api.example.com", ip: ip("127.0.0.1"), reason: "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{host: "", ip: ip("::ffff:127.0.0.1"), reason: "IP address 127.0.0.1 is not allowed (IP literals must be listed)"},
		{host: "10.0.0.1", ip: ip("127.0.0.1"), reason: `host "10.0.0.1" does not match IP address 127.0.0.1`},
		{host: "", reason: "the URL has no host"},
		{host: "api.example.com:443", reason: `invalid host "api.example.com:443": a host cannot contain ":" (no port here; IPv6 addresses must be valid)`},
		{host: "_dmarc.example.com", reason: `invalid host "_dmarc.example.com": the host contains '_' (only letters, digits, "-" and "." are allowed)`},
		{host: "api.example.com\n", reason: `invalid host "api.example.com\n": it contains a line break at offset 15`},
	}
	for _, tt := range tests {
		ok, reason := a.AllowHost(tt.host, tt.ip)
		if ok != (tt.reason == "") || reason != tt.reason {
			t.Errorf("AllowHost(%q, %v) = %v, %q; want %v, %q", tt.host, tt.ip, ok, reason, tt.reason == "", tt.reason)
		}
	}
}

func TestAllowlistLongListIsCut(t *testing.T) {
	var entries []string
	for i := range 25 {
		entries = append(entries, strings.Repeat("a", i+1)+".example.com")
	}
	a, err := NewAllowlist(entries)
	if err != nil {
		t.Fatal(err)
	}
	_, reason := a.AllowHost("evil.com", netip.Addr{})
	if !strings.HasSuffix(reason, ", … 15 more]") || len(reason) > 300 {
		t.Errorf("reason = %q", reason)
	}
}

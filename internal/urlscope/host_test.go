package urlscope

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/idna"
)

func TestParseHost(t *testing.T) {
	type result struct {
		Host string
		IP   netip.Addr
	}
	tests := []struct {
		in   string
		want result
		err  string
	}{
		{in: "api.example.com", want: result{Host: "api.example.com"}},
		{in: "API.Example.COM.", want: result{Host: "api.example.com"}},
		{in: "ａｐｉ.example.com", want: result{Host: "api.example.com"}},
		{in: "аpi.example.com", want: result{Host: "xn--pi-6kc.example.com"}},
		{in: "localhost", want: result{Host: "localhost"}},
		{in: "intranet", want: result{Host: "intranet"}},
		{in: "127.0.0.1", want: result{Host: "127.0.0.1", IP: ip("127.0.0.1")}},
		{in: "2130706433", want: result{Host: "127.0.0.1", IP: ip("127.0.0.1")}},
		{in: "0x7f.1", want: result{Host: "127.0.0.1", IP: ip("127.0.0.1")}},
		{in: "0177.0.0.1", want: result{Host: "127.0.0.1", IP: ip("127.0.0.1")}},
		{in: "::1", want: result{Host: "::1", IP: ip("::1")}},
		{in: "[::1]", want: result{Host: "::1", IP: ip("::1")}},
		{in: "::ffff:10.0.0.1", want: result{Host: "10.0.0.1", IP: ip("10.0.0.1")}},
		{in: "[::FFFF:A00:1]", want: result{Host: "10.0.0.1", IP: ip("10.0.0.1")}},
		{in: "", err: "empty"},
		{in: ".", err: "host is empty"},
		{in: "api.example.com:443", err: `cannot contain ":"`},
		{in: "[::1]:53", err: "cannot have a port"},
		{in: "[::1", err: `"[" is not closed`},
		{in: "fe80::1%eth0", err: "zone"},
		{in: "[fe80::1%25eth0]", err: "zone"},
		{in: "[10.0.0.1]", err: "only hold an IPv6"},
		{in: "%61pi.example.com", err: "percent-encoding"},
		{in: "_dmarc.example.com", err: `contains '_'`},
		{in: "evil.com/x", err: `contains '/'`},
		{in: "user@evil.com", err: `contains '@'`},
		{in: "evil.com\n", err: "line break"},
		{in: "evil.com ", err: "space"},
		{in: `evil.com\`, err: "backslash"},
		{in: "1.2.3.4.5", err: "more than 4 parts"},
		{in: "example.123", err: "neither a name nor an IPv4 address"},
		{in: strings.Repeat("a", maxLen+1), err: "longer than"},
	}
	for _, tt := range tests {
		h, a, err := ParseHost(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseHost(%q) = %q, %v, %v; want error containing %q", tt.in, h, a, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHost(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, result{h, a}, addrComparer); diff != "" {
			t.Errorf("ParseHost(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestFastPathMatchesIDNA pins the ASCII shortcut in parseName to what the
// IDNA Lookup profile returns.
func TestFastPathMatchesIDNA(t *testing.T) {
	for _, s := range []string{
		"a", "A", "api.example.com", "API.EXAMPLE.COM", "a-b.c-d", "x1.y2", "0a.b", "a.", "a-1-b",
		"ab-.c", "-ab.c", "ab--cd", "a.b--", "xn--bcher-kva.de", "XN--BCHER-KVA.DE", "a.c--d", "--", "-",
		"a_b", "a*b", "xn--a.com", "xn--pi-6kc.example.com", "ab.c--d",
	} {
		checkFastPath(t, s)
	}
}

// checkFastPath requires parseName to accept an ASCII name only if IDNA
// does, and to return what IDNA returns.
func checkFastPath(t *testing.T, s string) {
	t.Helper()
	if !isASCII(s) {
		return
	}
	got, addr, err := parseName(s)
	if err != nil || addr.IsValid() {
		return
	}
	want, ierr := idna.Lookup.ToASCII(s)
	if ierr != nil {
		t.Fatalf("parseName(%q) = %q but IDNA refuses it: %v", s, got, ierr)
	}
	if want = strings.TrimSuffix(want, "."); got != want {
		t.Fatalf("parseName(%q) = %q, IDNA %q", s, got, want)
	}
}

func TestIsPrivateName(t *testing.T) {
	for _, h := range []string{"localhost", "intranet", "foo.localhost", "printer.local", "metadata.google.internal", "router.home.arpa", "1.0.0.127.in-addr.arpa", "nas.lan", "x.corp", "a.test", "a.invalid", "a.example", "x.onion", "a.localdomain"} {
		if !isPrivateName(h) {
			t.Errorf("isPrivateName(%q) = false", h)
		}
	}
	for _, h := range []string{"example.com", "localhost.com", "local.example.com", "internal.net", "api.example.com"} {
		if isPrivateName(h) {
			t.Errorf("isPrivateName(%q) = true", h)
		}
	}
}

package urlscope

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var addrComparer = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// web builds the URL Parse should return for a name on a default port.
func web(scheme, host, path string) URL {
	return URL{Scheme: scheme, Host: host, Port: defaultPort(scheme), Path: path}
}

// lit builds the URL Parse should return for an IP literal on a default port.
func lit(scheme, addr, path string) URL {
	u := web(scheme, addr, path)
	u.IP = ip(addr)
	return u
}

func TestParse(t *testing.T) {
	withPort := func(u URL, p int) URL { u.Port, u.ExplicitPort = p, true; return u }
	withUser := func(u URL) URL { u.Userinfo = true; return u }
	tests := []struct {
		in   string
		want URL
		err  string // substring of the error; "" for success
	}{
		// Legitimate spellings.
		{in: "https://api.example.com/v1?q=1", want: web("https", "api.example.com", "/v1?q=1")},
		{in: "HTTPS://API.EXAMPLE.COM./x", want: web("https", "api.example.com", "/x")},
		{in: "https://api.example.com", want: web("https", "api.example.com", "/")},
		{in: "https://api.example.com?x", want: web("https", "api.example.com", "/?x")},
		{in: "https://api.example.com/?", want: web("https", "api.example.com", "/")},
		{in: "https://api.example.com/a#frag?x", want: web("https", "api.example.com", "/a")},
		{in: "https://api.example.com#@evil.com", want: web("https", "api.example.com", "/")},
		{in: "http://a.b/?a[]=1&b=<x>", want: web("http", "a.b", "/?a[]=1&b=%3Cx%3E")},
		{in: "ws://chat.example.com/s", want: web("ws", "chat.example.com", "/s")},
		{in: "wss://chat.example.com:443/", want: withPort(web("wss", "chat.example.com", "/"), 443)},
		{in: "ftp://files.example.com/pub", want: web("ftp", "files.example.com", "/pub")},
		{in: "gopher://evil.com/", want: URL{Scheme: "gopher", Host: "evil.com", Path: "/"}},
		{in: "gopher://evil.com:70/", want: URL{Scheme: "gopher", Host: "evil.com", Port: 70, ExplicitPort: true, Path: "/"}},
		{in: "svn+ssh://h.example.com/r", want: URL{Scheme: "svn+ssh", Host: "h.example.com", Path: "/r"}},
		// Ports.
		{in: "https://api.example.com:443/", want: withPort(web("https", "api.example.com", "/"), 443)},
		{in: "https://api.example.com:22/", want: withPort(web("https", "api.example.com", "/"), 22)},
		{in: "http://api.example.com:65535", want: withPort(web("http", "api.example.com", "/"), 65535)},
		{in: "http://a.com:0/", err: `invalid port "0"`},
		{in: "http://a.com:65536/", err: `invalid port "65536"`},
		{in: "http://a.com:080/", err: `invalid port "080"`},
		{in: "http://a.com:/", err: `invalid port ""`},
		{in: "http://a.com:8o/", err: `invalid port "8o"`},
		{in: "http://a.com:-1/", err: `invalid port "-1"`},
		{in: "http://a.com:443:80/", err: "invalid host and port"},
		// User info: flagged, and the host is what follows the "@".
		{in: "https://api.example.com@evil.com/", want: withUser(web("https", "evil.com", "/"))},
		{in: "https://user:pw@api.example.com/", want: withUser(web("https", "api.example.com", "/"))},
		{in: "https://api.example.com:443@evil.com/", want: withUser(web("https", "evil.com", "/"))},
		{in: "https://api.example.com%2f@evil.com/", want: withUser(web("https", "evil.com", "/"))},
		{in: "https://@evil.com/", want: withUser(web("https", "evil.com", "/"))},
		{in: "http://a@b@evil.com/", err: `more than one "@"`},
		{in: "https://evil.com/@api.example.com", want: web("https", "evil.com", "/@api.example.com")},
		// Backslashes, whitespace, control characters.
		{in: `https://evil.com\@api.example.com`, err: "backslash"},
		{in: `https:\\evil.com`, err: "backslash"},
		{in: "http://evil.com /", err: "space"},
		{in: " http://evil.com/", err: "space"},
		{in: "http://evil.com/\t", err: "control character 0x09"},
		{in: "http://evil.com\n.api.example.com/", err: "line break"},
		{in: "http://evil.com/\r\nHost: x", err: "line break"},
		{in: "http://evil.com\x00.api.example.com/", err: "NUL"},
		{in: "http://evil.com/\x7f", err: "control character 0x7f"},
		{in: "http://evil.com/\u00a0", err: "U+00A0"},
		{in: "http://evil.com/\u3000", err: "U+3000"},
		{in: "http://evil.com/\u2028", err: "U+2028"},
		{in: "http://api.exa\u200bmple.com/", err: "U+200B"},
		{in: "http://api.exa\u00admple.com/", err: "U+00AD"},
		{in: "http://moc.\u202eevil.com/", err: "U+202E"},
		{in: "http://\ufeffapi.example.com/", err: "U+FEFF"},
		{in: "http://evil.com/\x85", err: "not valid UTF-8"},
		{in: "http://\xff/", err: "not valid UTF-8"},
		// Size.
		{in: "", err: "empty"},
		{in: "https://a.com/" + strings.Repeat("a", maxLen-14), want: web("https", "a.com", "/"+strings.Repeat("a", maxLen-14))},
		{in: "https://a.com/" + strings.Repeat("a", maxLen-13), err: "longer than 8192 bytes"},
		// Scheme and authority shape.
		{in: "//evil.com/", err: "no scheme"},
		{in: "evil.com/x", err: "no scheme"},
		{in: "://evil.com", err: "no scheme"},
		{in: "1http://evil.com", err: "no scheme"},
		{in: "ht_tp://evil.com", err: "no scheme"},
		{in: "http:evil.com", err: `expected "//" after "http:"`},
		{in: "http:/evil.com", err: `expected "//" after "http:"`},
		{in: "http:///evil.com", err: "no host"},
		{in: "http://", err: "no host"},
		{in: "http://:80/", err: "no host"},
		{in: "http://user@/", err: "no host"},
		{in: "file:///etc/passwd", err: "no host"},
		{in: "file://localhost/etc/passwd", want: URL{Scheme: "file", Host: "localhost", Path: "/etc/passwd"}},
		{in: "javascript:alert(1)", err: "no host"},
		{in: "data:text/html,<script>", err: "no host"},
		{in: "mailto:a@evil.com", err: "no host"},
		// Host spelling.
		{in: "https://ａｐｉ.example.com/", want: web("https", "api.example.com", "/")},
		{in: "https://api。example。com/", want: web("https", "api.example.com", "/")},
		{in: "https://аpi.example.com/", want: web("https", "xn--pi-6kc.example.com", "/")},
		{in: "https://XN--PI-6KC.example.com/", want: web("https", "xn--pi-6kc.example.com", "/")},
		{in: "https://bücher.de/", want: web("https", "xn--bcher-kva.de", "/")},
		{in: "https://faß.de/", want: web("https", "xn--fa-hia.de", "/")},
		{in: "http://ⓛocalhost/", want: web("http", "localhost", "/")},
		{in: "http://localhost/", want: web("http", "localhost", "/")},
		{in: "http://LocalHost.:8080/", want: withPort(web("http", "localhost", "/"), 8080)},
		{in: "http://foo.localhost/", want: web("http", "foo.localhost", "/")},
		{in: "https://%61pi.example.com/", err: "percent-encoding in the host"},
		{in: "https://api.example.com%2f.evil.com/", err: "percent-encoding in the host"},
		{in: "https://api.example.com../", err: "empty label"},
		{in: "https://.api.example.com/", err: "empty label"},
		{in: "https://a..b/", err: "empty label"},
		{in: "https://./", err: "host is empty"},
		{in: "https://_dmarc.example.com/", err: `contains '_'`},
		{in: "https://a*.example.com/", err: `contains '*'`},
		{in: "https://a!b.com/", err: `contains '!'`},
		{in: "https://a$b.com/", err: `contains '$'`},
		{in: "https://-a.com/", err: "invalid domain name"},
		{in: "https://a-.com/", err: "invalid domain name"},
		{in: "https://ab--c.com/", err: "invalid domain name"},
		{in: "https://xn--a.com/", err: "invalid domain name"},
		{in: "https://a／b.com/", err: "invalid domain name"},
		{in: "https://evil.com＠api.example.com/", err: "invalid domain name"},
		{in: "https://" + strings.Repeat("a", 64) + ".com/", err: "longer than 63"},
		{in: "https://" + strings.Repeat("a.", 127) + "co/", err: "longer than 253"},
		{in: "https://" + strings.Repeat("a.", 125) + "co./", want: web("https", strings.Repeat("a.", 125)+"co", "/")},
		{in: "https://[api.example.com]/", err: "invalid IPv6 address"},
		{in: "https://a[b].com/", err: `contains '['`},
		// IPv4 in every spelling.
		{in: "http://127.0.0.1/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://127.0.0.1./", want: lit("http", "127.0.0.1", "/")},
		{in: "http://2130706433/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0x7f000001/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0X7F000001/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://017700000001/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0177.0.0.1/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0177.0.0.01/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://127.1/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://127.0.1/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0x7f.1/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0x7f.0x0.0x0.0x1/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0xa9fea9fe/", want: lit("http", "169.254.169.254", "/")},
		{in: "http://169.254.43518/", want: lit("http", "169.254.169.254", "/")},
		{in: "http://１２７．０．０．１/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://0/", want: lit("http", "0.0.0.0", "/")},
		{in: "http://4294967295/", want: lit("http", "255.255.255.255", "/")},
		{in: "http://127.0.0.1:8080/", want: withPort(lit("http", "127.0.0.1", "/"), 8080)},
		{in: "http://4294967296/", err: "neither a name nor an IPv4 address"},
		{in: "http://1.2.3.4.5/", err: "more than 4 parts"},
		{in: "http://256.0.0.1/", err: "over 255"},
		{in: "http://1.256.1/", err: "over 255"},
		{in: "http://1.2.65536/", err: "last part is too large"},
		{in: "http://1.16777216/", err: "last part is too large"},
		{in: "http://08.0.0.1/", err: "neither a name nor an IPv4 address"},
		{in: "http://0x/", err: "neither a name nor an IPv4 address"},
		{in: "http://0xg.1/", err: "neither a name nor an IPv4 address"},
		{in: "http://example.123/", err: "neither a name nor an IPv4 address"},
		{in: "http://evil.0x7f/", err: "neither a name nor an IPv4 address"},
		{in: "http://1.2.3.4.nip.io/", want: web("http", "1.2.3.4.nip.io", "/")},
		{in: "http://123.example.com/", want: web("http", "123.example.com", "/")},
		// IPv6.
		{in: "http://[::1]/", want: lit("http", "::1", "/")},
		{in: "http://[::1]:8080/", want: withPort(lit("http", "::1", "/"), 8080)},
		{in: "http://[0:0:0:0:0:0:0:1]/", want: lit("http", "::1", "/")},
		{in: "http://[::ffff:127.0.0.1]/", want: lit("http", "127.0.0.1", "/")},
		{in: "http://[0:0:0:0:0:ffff:7f00:1]/", want: lit("http", "127.0.0.1", "/")},
		{in: "HTTP://[::FFFF:7F00:1]:8080/X", want: withPort(lit("http", "127.0.0.1", "/X"), 8080)},
		{in: "http://[::127.0.0.1]/", want: lit("http", "::7f00:1", "/")},
		{in: "http://[2001:DB8::1]/", want: lit("http", "2001:db8::1", "/")},
		{in: "http://[fe80::1%25eth0]/", err: "zone"},
		{in: "http://[fe80::1%eth0]/", err: "zone"},
		{in: "http://[::ffff:0177.0.0.1]/", err: "invalid IPv6 address"},
		{in: "http://[127.0.0.1]/", err: "only hold an IPv6 address"},
		{in: "http://[::1/", err: `"[" without "]"`},
		{in: "http://[::1]x/", err: `unexpected "x"`},
		{in: "http://[::1]:/", err: `invalid port ""`},
		{in: "http://::1/", err: "must be in brackets"},
		{in: "http://[]/", err: "invalid IPv6 address"},
		// Paths.
		{in: "http://a.com/b/../../c/./d?x=%2e%2e#f", want: web("http", "a.com", "/c/d?x=%2e%2e")},
		{in: "http://a.com/%2e%2e/admin", want: web("http", "a.com", "/admin")},
		{in: "http://a.com/x/.%2E/admin", want: web("http", "a.com", "/admin")},
		{in: "http://a.com/x/..", want: web("http", "a.com", "/")},
		{in: "http://a.com/x/.", want: web("http", "a.com", "/x/")},
		{in: "http://a.com/.well-known/x", want: web("http", "a.com", "/.well-known/x")},
		{in: "http://a.com/%61dmin/%2f%2F", want: web("http", "a.com", "/admin/%2F%2F")},
		{in: "http://a.com/é?ü=1", want: web("http", "a.com", "/%C3%A9?%C3%BC=1")},
		{in: "http://a.com/[x]{y}|^`\"", want: web("http", "a.com", "/%5Bx%5D%7By%7D%7C%5E%60%22")},
		{in: "http://a.com//x", want: web("http", "a.com", "//x")},
		{in: "http://a.com/a;b=c/@:!$&'()*+,=~", want: web("http", "a.com", "/a;b=c/@:!$&'()*+,=~")},
		{in: "http://a.com/%zz", err: "invalid percent-escape"},
		{in: "http://a.com/%4", err: "invalid percent-escape"},
		{in: "http://a.com/?%zz", err: "invalid percent-escape"},
		{in: "http://a.com/%00", err: "encoded control character %00"},
		{in: "http://a.com/%0d%0aHost:x", err: "encoded control character %0D"},
		{in: "http://a.com/%7f", err: "encoded control character %7F"},
		{in: "http://a.com/?q=%00", err: "encoded NUL"},
		{in: "http://a.com/?q=%0a", want: web("http", "a.com", "/?q=%0a")},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, addrComparer); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseErrorQuotesInput(t *testing.T) {
	_, err := Parse("http://a b/" + strings.Repeat("x", 1000))
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, `invalid URL "http://a b/`) || len(msg) > 200 {
		t.Errorf("error %q: want the input quoted and cut short", msg)
	}
	_, err = Parse("http://a\x00b/")
	if err == nil || strings.IndexByte(err.Error(), 0) >= 0 {
		t.Errorf("error %q: want the NUL escaped", err)
	}
}

func TestURLString(t *testing.T) {
	tests := []struct {
		u    URL
		want string
	}{
		{web("https", "api.example.com", "/x?y"), "https://api.example.com/x?y"},
		{URL{Scheme: "https", Host: "api.example.com", Port: 443, ExplicitPort: true, Path: "/"}, "https://api.example.com/"},
		{URL{Scheme: "https", Host: "api.example.com", Port: 8443, Path: "/"}, "https://api.example.com:8443/"},
		{URL{Scheme: "http", Host: "a.com", Port: 443, Path: "/"}, "http://a.com:443/"},
		{URL{Scheme: "gopher", Host: "a.com", Port: 70, Path: "/"}, "gopher://a.com:70/"},
		{URL{Scheme: "gopher", Host: "a.com"}, "gopher://a.com/"},
		{lit("http", "::1", "/"), "http://[::1]/"},
		{URL{Scheme: "http", Host: "2001:db8::1", IP: ip("2001:db8::1"), Port: 8080, Path: "/a"}, "http://[2001:db8::1]:8080/a"},
		{URL{Scheme: "https", Host: "evil.com", Port: 443, Path: "/", Userinfo: true}, "https://evil.com/"},
	}
	for _, tt := range tests {
		if got := tt.u.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.u, got, tt.want)
		}
	}
}

// TestParseRoundTrip checks that String gives back text Parse reads as the
// same URL, for every success case of the table above and more.
func TestParseRoundTrip(t *testing.T) {
	for _, raw := range []string{
		"HTTPS://API.EXAMPLE.COM./x/../y/%2e/%7e?a=<b>#c",
		"http://[::ffff:7f00:1]:8080/%C3%A9",
		"https://user@bücher.de:443/a//b",
		"ws://0x7f.1:80/",
		"gopher://a.com:70/_x",
	} {
		u, err := Parse(raw)
		if err != nil {
			t.Fatalf("Parse(%q): %v", raw, err)
		}
		checkRoundTrip(t, raw, u)
	}
}

// checkRoundTrip requires Parse(u.String()) to equal u, except for the two
// facts String does not carry: user info, and an explicit default port.
func checkRoundTrip(t *testing.T, raw string, u URL) {
	t.Helper()
	s := u.String()
	v, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q) ok, but Parse(String() = %q): %v", raw, s, err)
	}
	want := u
	want.Userinfo = false
	if want.ExplicitPort && want.Port == defaultPort(want.Scheme) {
		want.ExplicitPort = false
	}
	if diff := cmp.Diff(want, v, addrComparer); diff != "" {
		t.Fatalf("Parse(%q) then Parse(%q) mismatch (-first +second):\n%s", raw, s, diff)
	}
	if v.String() != s {
		t.Fatalf("String not stable: %q then %q", s, v.String())
	}
}

package urlscope

import (
	"net/netip"
	"strings"
	"testing"
)

// bypasses are URLs an attacker may send to reach something other than
// testList allows. Each must fail to parse or be denied.
var bypasses = []string{
	// User info and delimiters that move the host.
	"https://api.example.com@evil.com/",
	"https://API.EXAMPLE.COM@evil.com/",
	"https://api.example.com:443@evil.com/",
	"https://ａｐｉ.example.com@evil.com/",
	"https://raw.githubusercontent.com@evil.com/",
	"https://registry.npmjs.org@evil.com/",
	"https://api.example.com%40evil.com/",
	"https://api.example.com%252f@evil.com/",
	"https://a@api.example.com@evil.com/",
	"https://user:pass@api.example.com/",
	"https://evil.com#@api.example.com",
	"https://evil.com?@api.example.com",
	"https://evil.com/api.example.com",
	"https://evil.com/.api.example.com",
	"https://evil.com;api.example.com/",
	"https://evil.com&api.example.com/",
	`https://evil.com\@api.example.com`,
	`https://evil.com\.api.example.com`,
	`https:\\api.example.com\@evil.com`,
	`https:/\evil.com`,
	// Look-alike and suffix tricks.
	"https://api.example.com.evil.com/",
	"https://api.example.com-evil.com/",
	"https://api-example.com/",
	"https://evilapi.example.com/",
	"https://x.api.example.com/",
	"https://api.example.co/",
	"https://api.example.com../",
	"https://api.example.com_.evil.com/",
	"https://api.example.com\u3002evil.com/",
	"https://api.example.com．evil.com/",
	"https://аpi.example.com/",
	"https://api.exаmple.com/",
	"https://xn--pi-6kc.example.com/",
	"https://api.ex\u00adample.com/",
	"https://api.example.com\u200b/",
	"https://\u202emoc.elpmaxe.ipa/",
	"https://[api.example.com]/",
	"https://githubusercontent.com/",
	"https://githubusercontent.com.evil.com/",
	"https://raw.githubusercontent.com.evil.com/",
	"https://evilgithubusercontent.com/",
	"https://npmjs.org/",
	"https://evil.registry.npmjs.org/",
	// Percent-encoding and raw bytes in the host.
	"https://%61pi.example.com/",
	"https://api%2eexample.com/",
	"https://api.example.com%00.evil.com/",
	"https://api.example.com%2f.evil.com/",
	"https://api.example.com\x00.evil.com/",
	"https://api.example.com\n.evil.com/",
	"https://api.example.com\t@evil.com/",
	"https://api.example.com\r\nHost: evil.com",
	" https://api.example.com@evil.com/",
	"https://api.example.com/\x00",
	"https://\xffapi.example.com/",
	"https://api.example.com/" + strings.Repeat("a", maxLen),
	// Ports.
	"http://api.example.com:22/",
	"https://api.example.com:8443/",
	"https://api.example.com:0443/",
	"https://api.example.com:443:22/",
	"https://api.example.com:/",
	"https://api.example.com:+443/",
	"https://api.example.com:65979/",
	"https://api.example.com:4294967739/",
	"HTTPS://API.EXAMPLE.COM:22",
	"https://raw.githubusercontent.com:8080/",
	"https://registry.npmjs.org:8443/",
	"http://api.example.com:443/",
	// Schemes and shapes.
	"ftp://api.example.com/",
	"gopher://api.example.com:70/_SET",
	"file://api.example.com/etc/passwd",
	"file:///etc/passwd",
	"ws://api.example.com/",
	"wss://api.example.com/",
	"javascript:alert(1)//api.example.com",
	"data:text/html,api.example.com",
	"//api.example.com/",
	"api.example.com/x",
	"http:api.example.com",
	"http:/api.example.com",
	"http:///api.example.com",
	"http://registry.npmjs.org/react",
	// IP literals in every spelling, and private names.
	"http://127.0.0.1/",
	"http://2130706433/",
	"http://0x7f000001/",
	"http://017700000001/",
	"http://0177.0.0.1/",
	"http://127.1/",
	"http://0x7f.1/",
	"http://127.0.0.1.:80/",
	"http://１２７．０．０．１/",
	"http://0/",
	"http://[::1]/",
	"http://[::]/",
	"http://[::ffff:127.0.0.1]/",
	"http://[0:0:0:0:0:ffff:7f00:1]/",
	"http://[::ffff:7f00:1]/",
	"http://[::127.0.0.1]/",
	"http://[fe80::1%25eth0]/",
	"http://[64:ff9b::7f00:1]/",
	"http://169.254.169.254/latest/meta-data/",
	"http://0xa9fea9fe/",
	"http://[::ffff:a9fe:a9fe]/",
	"http://localhost/",
	"http://LOCALHOST./",
	"http://foo.localhost/",
	"http://ⓛocalhost/",
	"http://metadata.google.internal/",
	"http://intranet/",
	"http://api.example.com.127.0.0.1.nip.io/",
}

// legitimate are URLs testList must allow.
var legitimate = []string{
	"https://api.example.com/v1?q=1",
	"HTTPS://API.EXAMPLE.COM./x",
	"https://raw.githubusercontent.com/a/b",
	"https://registry.npmjs.org/react",
	"http://api.example.com/",
	"https://api.example.com:443/",
	"https://ａｐｉ.example.com/", // IDNA maps fullwidth letters to the same host
	"https://a.b.githubusercontent.com/x",
	"https://registry.npmjs.org:443/react",
	"https://Registry.NPMJS.org./react",
	"https://api.example.com/@evil.com",
	"https://api.example.com/?next=https://evil.com/",
	"https://api.example.com#@evil.com",
	"https://api.example.com/a/../b/%2e%2e/c",
}

func TestAdversarialURLs(t *testing.T) {
	if len(bypasses) < 50 {
		t.Fatalf("only %d bypass attempts", len(bypasses))
	}
	a, err := NewAllowlist(testList)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range bypasses {
		u, err := Parse(raw)
		if err != nil {
			continue // the engine denies what does not parse
		}
		if ok, _ := a.AllowURL(u); ok {
			t.Errorf("bypass: %q allowed as %s", raw, u)
		}
	}
	for _, raw := range legitimate {
		u, err := Parse(raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", raw, err)
			continue
		}
		if ok, reason := a.AllowURL(u); !ok {
			t.Errorf("legitimate %q denied: %s", raw, reason)
		}
	}
}

func TestAdversarialHosts(t *testing.T) {
	a, err := NewAllowlist(testList)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{
		"evil.com", "api.example.com.evil.com", "аpi.example.com", "githubusercontent.com", "127.0.0.1", "2130706433",
		"0x7f.1", "::1", "[::ffff:127.0.0.1]", "localhost", "foo.localhost", "api.example.com:443", "api.example.com\n",
		"%61pi.example.com", "api.example.com..", "evil.com@api.example.com", "api.example.com/evil", "*.example.com", "*",
	} {
		host, addr, err := ParseHost(h)
		if err != nil {
			continue
		}
		if ok, _ := a.AllowHost(host, addr); ok {
			t.Errorf("DNS bypass: %q allowed as %q %v", h, host, addr)
		}
		if ok, _ := a.AllowHost(h, netip.Addr{}); ok {
			t.Errorf("DNS bypass: raw %q allowed", h)
		}
	}
	for _, h := range []string{"api.example.com", "API.example.com.", "raw.githubusercontent.com", "registry.npmjs.org"} {
		if ok, reason := a.AllowHost(h, netip.Addr{}); !ok {
			t.Errorf("legitimate host %q denied: %s", h, reason)
		}
	}
}

// TestConcurrentUse runs the compiled lists from many goroutines, for the
// race detector.
func TestConcurrentUse(t *testing.T) {
	a, err := NewAllowlist(testList)
	if err != nil {
		t.Fatal(err)
	}
	g, err := CompileGlob("https://*.evil.com/**")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, raw := range append(bypasses[:40:40], legitimate...) {
				u, err := Parse(raw)
				if err != nil {
					continue
				}
				a.AllowURL(u)
				a.AllowHost(u.Host, u.IP)
				g.Match(u, raw)
			}
		}()
	}
	for range 4 {
		<-done
	}
}

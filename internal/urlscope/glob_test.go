package urlscope

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileGlob(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string // compiled patterns
		err     string
	}{
		{pattern: "https://*.evil.com/**", want: []string{"https://*.evil.com/**", "https://evil.com/**"}},
		{pattern: "**/admin/**", want: []string{"**/admin/**"}},
		{pattern: "http://169.254.169.254/**", want: []string{"http://169.254.169.254/**"}},
		{pattern: "HTTP://EVIL.COM./Admin", want: []string{"http://evil.com/admin"}},
		{pattern: "http://0x7f.1/**", want: []string{"http://127.0.0.1/**"}},
		{pattern: "http://2130706433:8080/**", want: []string{"http://127.0.0.1:8080/**"}},
		{pattern: "http://[::1]/**", want: []string{`http://\[::1\]/**`}},
		{pattern: "http://[::FFFF:127.0.0.1]:80/**", want: []string{"http://127.0.0.1:80/**"}},
		{pattern: "https://bücher.de/**", want: []string{"https://xn--bcher-kva.de/**"}},
		{pattern: "https://*.bücher.de/**", want: []string{"https://*.xn--bcher-kva.de/**", "https://xn--bcher-kva.de/**"}},
		{pattern: "evil.com/**", want: []string{"evil.com/**"}},
		{pattern: "ＥＶＩＬ.com/**", want: []string{"evil.com/**"}},
		{pattern: "*.evil.com/**", want: []string{"*.evil.com/**", "evil.com/**"}},
		{pattern: "*://evil.com/**", want: []string{"*://evil.com/**"}},
		{pattern: "https://{a,b}.evil.com/**", want: []string{"https://{a,b}.evil.com/**"}},
		{pattern: "https://*.*.evil.com/**", want: []string{"https://*.*.evil.com/**"}},
		{pattern: "v1.2/**", want: []string{"v1.2/**"}}, // not a host: kept as a path
		{pattern: `https://evil.com/a\*b`, want: []string{`https://evil.com/a\*b`}},
		{pattern: `https://evil.com/a\`, err: "bad glob syntax"},
		{pattern: "", err: "it is empty"},
		{pattern: "**/[", err: "bad glob syntax"},
		{pattern: "https://evil.com/{a,b", err: "bad glob syntax"},
		{pattern: " https://evil.com/**", err: "space"},
		{pattern: "https://evil.com/**\n", err: "line break"},
		{pattern: "http://999.1.1.1/**", err: "over 255"},
		{pattern: "http://[fe80::1%25eth0]/**", err: "zone"},
		{pattern: "http://evil..com/**", err: "empty label"},
		{pattern: "https://*.a／b.com/**", err: "invalid domain label"},
	}
	for _, tt := range tests {
		g, err := CompileGlob(tt.pattern)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("CompileGlob(%q) error = %v, want one containing %q", tt.pattern, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("CompileGlob(%q): %v", tt.pattern, err)
			continue
		}
		if diff := cmp.Diff(tt.want, g.patterns); diff != "" {
			t.Errorf("CompileGlob(%q) mismatch (-want +got):\n%s", tt.pattern, diff)
		}
		if g.String() != tt.pattern {
			t.Errorf("String() = %q, want %q", g.String(), tt.pattern)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern string
		raw     string
		want    bool
	}{
		{"https://*.evil.com/**", "https://a.evil.com/x", true},
		{"https://*.evil.com/**", "https://a.b.evil.com/", true},
		{"https://*.evil.com/**", "https://evil.com/", true},
		{"https://*.evil.com/**", "HTTPS://A.EVIL.COM./X", true},
		{"https://*.evil.com/**", "https://a.evil.com:8443/x", true},
		{"https://*.evil.com/**", "https://a.evil.com:443/x", true},
		{"https://*.evil.com/**", "https://user@a.evil.com/x", true},
		{"https://*.evil.com/**", "https://a.evil.com@good.com/x", false},
		{"https://*.evil.com/**", "http://a.evil.com/x", false},
		{"https://*.evil.com/**", "https://notevil.com/x", false},
		{"https://*.evil.com/**", "https://evil.com.good.com/x", false},
		{"http://evil.com/**", "https://evil.com/m", false}, // a scheme in the pattern is kept
		{"evil.com/**", "https://evil.com/m", true},
		{"evil.com/**", "ftp://EVIL.com:2121/m", true},
		{"evil.com", "https://evil.com/", true},
		{"evil.com", "https://evil.com", true},
		{"evil.com", "https://evil.com/x", false},
		{"https://evil.com", "https://evil.com/", true},
		{"https://evil.com:8443/**", "https://evil.com:8443/x", true},
		{"https://evil.com:443/**", "https://evil.com/x", true},
		{"https://evil.com:*/**", "https://evil.com/x", true},
		{"**/admin/**", "https://x.com/admin/", true},
		{"**/admin/**", "https://x.com/admin", true},
		{"**/admin/**", "https://x.com/a/b/admin/c", true},
		{"**/admin/**", "https://x.com/ADMIN/c", true},
		{"**/admin/**", "https://x.com/%61dmin/c", true},
		{"**/admin/**", "https://x.com/%2561dmin/c", false}, // double encoding is a different name
		{"**/admin/**", "https://x.com/public/../admin/", true},
		{"**/admin/**", "https://x.com/public/%2e%2e/admin/", true},
		{"**/admin/**", "https://x.com/public%2f..%2fadmin/x", true},
		{"**/admin/**", "https://x.com/admin?x=1", true},
		{"**/admin/**", "https://x.com/admin#frag", true},
		{"**/admin/**", "https://x.com/administrator", false},
		{"**/admin/**", "https://x.com/?q=/admin/", true}, // the raw text matches: fail closed
		{"https://x.com/admin/**", "https://x.com//admin/x", true},
		{"https://x.com/admin/**", "https://x.com/a%2Fdmin/x", false},
		{"https://x.com/admin", "https://x.com/admin?debug=1", true},
		{"http://169.254.169.254/**", "http://169.254.169.254/latest/meta-data/", true},
		{"http://169.254.169.254/**", "http://0xa9fea9fe/latest", true},
		{"http://169.254.169.254/**", "http://169.254.43518/", true},
		{"http://169.254.169.254/**", "http://[::ffff:a9fe:a9fe]/", true},
		{"http://169.254.169.254/**", "http://0251.0376.0251.0376/", true},
		{"http://169.254.169.254/**", "http://169.254.169.254", true},
		{"http://169.254.169.254/**", "http://169.254.169.253/", false},
		{"http://[::1]/**", "http://[0:0::1]/x", true},
		{"http://127.0.0.1/**", "http://127.1/x", true},
		{"https://bücher.de/**", "https://BÜCHER.de/x", true},
		{"https://bücher.de/**", "https://xn--bcher-kva.de/x", true},
		{"**/.env", "https://x.com/a/.env", true},
		{"**/.env", "https://x.com/a/.ENV", true},
		{"**/*.php", "https://x.com/a/b.php", true},
		{"**/*.php", "https://x.com/a/b.php?x=1", true},
		{`https://evil.com/a\*b`, "https://evil.com/a*b", true},
		{`https://evil.com/a\*b`, "https://evil.com/axb", false},
	}
	for _, tt := range tests {
		g, err := CompileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("CompileGlob(%q): %v", tt.pattern, err)
		}
		u, err := Parse(tt.raw)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.raw, err)
		}
		if got := g.Match(u, tt.raw); got != tt.want {
			t.Errorf("CompileGlob(%q).Match(%q) = %v, want %v (normalised %s)", tt.pattern, tt.raw, got, tt.want, u)
		}
	}
}

func TestGlobMatchRawOnly(t *testing.T) {
	g, err := CompileGlob("**/evil.com/**")
	if err != nil {
		t.Fatal(err)
	}
	// The engine passes the zero URL when the raw text did not parse.
	if !g.Match(URL{}, "HTTP://EVIL.COM/x y") {
		t.Error("raw text differing only by case did not match")
	}
	if g.Match(URL{}, "") {
		t.Error("empty input matched")
	}
	// A URL built by hand is matched by its host in lower case and its IP.
	g, err = CompileGlob("http://169.254.169.254/**")
	if err != nil {
		t.Fatal(err)
	}
	if !g.Match(URL{Scheme: "http", Host: "metadata.example.com", IP: ip("::ffff:169.254.169.254"), Port: 80, Path: "/x"}, "") {
		t.Error("hand-made URL with the address in IP did not match")
	}
	g, err = CompileGlob("https://evil.com/**")
	if err != nil {
		t.Fatal(err)
	}
	if !g.Match(URL{Scheme: "HTTPS", Host: "EVIL.COM", Port: 443, Path: "/X"}, "") {
		t.Error("hand-made upper-case URL did not match")
	}
	var nilGlob *Glob
	if !nilGlob.Match(URL{}, "") {
		t.Error("a nil Glob must match (fail closed)")
	}
}

func TestPathForms(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"/", []string{"/", ""}},
		{"/a", []string{"/a"}},
		{"/a?b", []string{"/a?b", "/a"}},
		{"/?b", []string{"/?b", "/", "?b", ""}},
		{"/a%2fb", []string{"/a%2fb", "/a/b"}},
		{"//a//b", []string{"//a//b", "/a/b"}},
		{"/x%2f..%2fadmin?q", []string{"/x%2f..%2fadmin?q", "/x%2f..%2fadmin", "/admin?q", "/admin"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, pathForms(tt.path)); diff != "" {
			t.Errorf("pathForms(%q) mismatch (-want +got):\n%s", tt.path, diff)
		}
	}
}

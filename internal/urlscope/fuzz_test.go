package urlscope

import (
	"net/netip"
	"strings"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range bypasses {
		f.Add(s)
	}
	for _, s := range legitimate {
		f.Add(s)
	}
	for _, s := range []string{
		"http://[::1]:8080/a/../b?c#d", "https://a.b/%2e%2E/%zz", "x://y", "http://0x.0x/", "http://1.2.3/",
		"https://xn--bcher-kva.de/", "http://a/.%2e/.", "https://u:p@h:1/?%0a", "http://[::ffff:1.2.3.4]:65535",
	} {
		f.Add(s)
	}
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, raw string) {
		if h, addr, err := ParseHost(raw); err == nil {
			checkFastPath(t, raw)
			h2, addr2, err := ParseHost(h)
			if err != nil || h2 != h || addr2 != addr {
				t.Fatalf("ParseHost(%q) = %q, %v but ParseHost of that = %q, %v, %v", raw, h, addr, h2, addr2, err)
			}
		}
		u, err := Parse(raw)
		if err != nil {
			if u != (URL{}) {
				t.Fatalf("Parse(%q) failed but returned %#v", raw, u)
			}
			return
		}
		switch {
		case u.Scheme == "" || u.Scheme != strings.ToLower(u.Scheme):
			t.Fatalf("Parse(%q): scheme %q", raw, u.Scheme)
		case u.Host == "" || u.Host != strings.ToLower(u.Host) || strings.HasSuffix(u.Host, "."):
			t.Fatalf("Parse(%q): host %q", raw, u.Host)
		case u.IP.IsValid() && (u.Host != u.IP.String() || u.IP.Is4In6() || u.IP.Zone() != ""):
			t.Fatalf("Parse(%q): host %q with IP %v", raw, u.Host, u.IP)
		case !strings.HasPrefix(u.Path, "/") || strings.ContainsAny(u.Path, "# \\\x00\n"):
			t.Fatalf("Parse(%q): path %q", raw, u.Path)
		case u.Port < 0 || u.Port > 65535 || u.ExplicitPort && u.Port == 0:
			t.Fatalf("Parse(%q): port %d", raw, u.Port)
		}
		for i := 0; i < len(u.Host); i++ {
			if !isLDH(u.Host[i]) && u.Host[i] != ':' {
				t.Fatalf("Parse(%q): host %q is not lower-case ASCII", raw, u.Host)
			}
		}
		checkRoundTrip(t, raw, u)
	})
}

func FuzzAllow(f *testing.F) {
	fuzzSeeds(f)
	list, err := NewAllowlist(testList)
	if err != nil {
		f.Fatal(err)
	}
	anyName, err := NewAllowlist([]string{"*"})
	if err != nil {
		f.Fatal(err)
	}
	var globs []*Glob
	for _, p := range []string{"https://*.evil.com/**", "**/admin/**", "evil.com/**", "http://[::1]/**", "**"} {
		g, err := CompileGlob(p)
		if err != nil {
			f.Fatal(err)
		}
		globs = append(globs, g)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, g := range globs {
			g.Match(URL{}, raw)
		}
		if ok, reason := list.AllowHost(raw, netip.Addr{}); ok != (reason == "") {
			t.Fatalf("AllowHost(%q) = %v, %q", raw, ok, reason)
		} else if ok {
			h, _, _ := ParseHost(raw)
			if h != "api.example.com" && h != "registry.npmjs.org" && !strings.HasSuffix(h, ".githubusercontent.com") {
				t.Fatalf("AllowHost(%q) allowed %q", raw, h)
			}
		}
		u, err := Parse(raw)
		if err != nil {
			return
		}
		for _, g := range globs {
			g.Match(u, raw)
		}
		ok, reason := list.AllowURL(u)
		if ok != (reason == "") {
			t.Fatalf("AllowURL(%q) = %v, %q", raw, ok, reason)
		}
		// The rules of the package doc, restated plainly.
		web := u.Scheme == "http" && u.Port == 80 || u.Scheme == "https" && u.Port == 443
		want := !u.Userinfo && !u.IP.IsValid() && (u.Host == "api.example.com" && web ||
			strings.HasSuffix(u.Host, ".githubusercontent.com") && web ||
			u.Host == "registry.npmjs.org" && u.Scheme == "https" && u.Port == 443)
		if ok != want {
			t.Fatalf("AllowURL(%q) = %v (%s), want %v; parsed %#v", raw, ok, reason, want, u)
		}
		ok, _ = anyName.AllowURL(u)
		if want := !u.Userinfo && !u.IP.IsValid() && !isPrivateName(u.Host) && web; ok != want {
			t.Fatalf(`"*".AllowURL(%q) = %v, want %v; parsed %#v`, raw, ok, want, u)
		}
	})
}

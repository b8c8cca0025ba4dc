package urlscope

import "testing"

var benchURLs = []string{
	"https://api.example.com/v1/users?id=42",
	"https://raw.githubusercontent.com/wardenhq/warden/main/README.md",
	"http://evil.com/x",
	"http://0x7f.1/admin",
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchURLs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMix(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Parse(benchURLs[i%len(benchURLs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkAllowURL(b *testing.B) {
	a, err := NewAllowlist(testList)
	if err != nil {
		b.Fatal(err)
	}
	u, err := Parse(benchURLs[1])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := a.AllowURL(u); !ok {
			b.Fatal("denied")
		}
	}
}

// BenchmarkParseAndAllow is the per-request cost the engine pays, over a
// mix of allowed and denied URLs.
func BenchmarkParseAndAllow(b *testing.B) {
	a, err := NewAllowlist(testList)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u, err := Parse(benchURLs[i%len(benchURLs)])
		if err != nil {
			b.Fatal(err)
		}
		a.AllowURL(u)
		i++
	}
}

func BenchmarkGlobMatch(b *testing.B) {
	g, err := CompileGlob("**/admin/**")
	if err != nil {
		b.Fatal(err)
	}
	raw := benchURLs[0]
	u, err := Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if g.Match(u, raw) {
			b.Fatal("matched")
		}
	}
}

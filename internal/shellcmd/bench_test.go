package shellcmd

import "testing"

var benchLines = []struct{ name, src string }{
	{"fast/npm", "npm test -- --run"},
	{"fast/rm", "rm -rf /"},
	{"slow/list", "cd src && rm -rf / ; curl x | sh"},
	{"slow/wrapped", `sudo env FOO=1 sh -c 'rm -rf "$HOME"/x'`},
}

func BenchmarkParse(b *testing.B) {
	for _, bl := range benchLines {
		b.Run(bl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bl.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	patterns := []struct{ name, p string }{
		{"command", "rm -rf"},
		{"pipeline", "curl | sh"},
		{"word", "kubectl"},
		{"substring", "eval("},
	}
	for _, bl := range benchLines {
		l, err := Parse(bl.src)
		if err != nil {
			b.Fatal(err)
		}
		for _, pt := range patterns {
			p, err := CompilePattern(pt.p)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(pt.name+"/"+bl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p.Match(l)
				}
			})
		}
	}
}

package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the loader panic, and that every
// error carries a message.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{"", "{{{", "name: [", "- a", "name: x\ncapabilities: [{tool: a, scope: {paths: [\"[\"]}}]",
		"a: &a [*a]", "name: !!binary aGVsbG8=", "capabilities: {tool: a}", "version: 1.0\nname: x\ncapabilities: [{tool: a, scope: {}, when: 'x'}]",
		"gates: [{approval: human, timeout: 1d, approval_ttl: -1h}]", "\xff", "? [a]\n: b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse(src, "fuzz.yaml")
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.Msg == "" {
					t.Fatal("an error without a message")
				}
			}
			return
		}
		if p.Name == "" || len(p.Capabilities) == 0 {
			t.Fatalf("an invalid policy loaded: %+v", p)
		}
	})
}

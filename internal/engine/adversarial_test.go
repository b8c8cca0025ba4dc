package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

type corpusCase struct {
	Group string         `yaml:"group"`
	Tool  string         `yaml:"tool"`
	Input map[string]any `yaml:"input"`
	Want  string         `yaml:"want"`
	Rule  string         `yaml:"rule"`
	Note  string         `yaml:"note"`
}

// fixture builds the project the corpus attacks and returns its root and
// home directories.
func fixture(t testing.TB) (root, home string) {
	t.Helper()
	base := t.TempDir()
	root, home = filepath.Join(base, "root"), filepath.Join(base, "home")
	files := []string{
		"root/.env", "root/package.json", "root/src/a.ts", "root/src/b.ts", "root/src/.envrc", "root/src/env",
		"root/src/key.pem", "root/src/.hidden/.env", "root/src/.hidden/notes.md", "root/docs/guide.md",
		"outside/secret", "home/.env", "home/.ssh/id_rsa", "home/.ssh/config", "home/.aws/credentials",
	}
	for _, f := range files {
		p := filepath.Join(base, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("fixture\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"root/src/envlink": "../.env", "root/src/link-out": "/etc", "root/src/up": "..",
	} {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, home
}

// corpusEngine compiles the adversarial policy for a fresh fixture.
func corpusEngine(t testing.TB) (*Engine, string) {
	t.Helper()
	root, home := fixture(t)
	p, err := policy.LoadFile("testdata/adversarial-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(p, Options{Root: root, Home: home})
	if err != nil {
		t.Fatal(err)
	}
	return e, home
}

func substitute(v any, r *strings.Replacer) any {
	switch t := v.(type) {
	case string:
		return r.Replace(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = substitute(x, r)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substitute(x, r)
		}
		return out
	case uint64:
		return float64(t) // JSON numbers decode as float64
	case int64:
		return float64(t)
	}
	return v
}

func TestAdversarialCorpus(t *testing.T) {
	src, err := os.ReadFile("testdata/adversarial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var corpus struct {
		Cases []corpusCase `yaml:"cases"`
	}
	if err := yaml.Unmarshal(src, &corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus.Cases) < 150 {
		t.Fatalf("the corpus has %d cases; it must keep at least 150", len(corpus.Cases))
	}
	e, home := corpusEngine(t)
	r := strings.NewReplacer("$ROOT", e.Root(), "$HOME", home)
	var bypasses []string
	for i, c := range corpus.Cases {
		input, _ := substitute(c.Input, r).(map[string]any)
		if input == nil {
			input = map[string]any{}
		}
		name := fmt.Sprintf("%03d %s %s %v", i, c.Group, c.Tool, c.Input)
		t.Run(name, func(t *testing.T) {
			v := e.Evaluate(Request{Action: warden.Action{Tool: c.Tool, Input: input}})
			if string(v.Decision) != c.Want {
				if c.Want == "deny" {
					bypasses = append(bypasses, name)
				}
				t.Fatalf("decision %s, want %s; reasons %q (rule %s)", v.Decision, c.Want, v.Reasons, v.Rule)
			}
			if c.Rule != "" && !strings.HasPrefix(v.Rule, c.Rule) {
				t.Errorf("rule %s, want prefix %s; reasons %q", v.Rule, c.Rule, v.Reasons)
			}
		})
	}
	if len(bypasses) > 0 {
		t.Errorf("%d bypasses:\n%s", len(bypasses), strings.Join(bypasses, "\n"))
	}
}

package fsserver

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A goldenCase is one call recorded from the reference server by
// testdata/reference/generate.mjs: the tool, its arguments ("$ROOT"
// stands for the project root), the result it gave and, for calls that
// change files, what those files held afterwards (null: missing).
type goldenCase struct {
	Name   string             `json:"name"`
	Tool   string             `json:"tool"`
	Args   map[string]any     `json:"args"`
	Result map[string]any     `json:"result"`
	Files  map[string]*string `json:"files"`
}

// deviations are the answers Warden gives on purpose where the reference
// gives another, keyed by case name; each edits the golden result.
var deviations = map[string]func(res map[string]any){
	// etc-link leads to /etc, outside the project root. The reference
	// lists it, and stats the directory outside its root for its size;
	// the directory:list adapter leaves out an entry the policy would not
	// let the agent list where it really leads.
	"list_directory root": func(res map[string]any) {
		editText(res, func(s string) string { return strings.Replace(s, "[FILE] etc-link\n", "", 1) })
	},
	"list_directory_with_sizes root": func(res map[string]any) {
		editText(res, func(s string) string {
			s = strings.Replace(s, "[FILE] etc-link                          4.00 KB\n", "", 1)
			s = strings.Replace(s, "Total: 11 files", "Total: 10 files", 1)
			return strings.Replace(s, "Combined size: 4.20 KB", "Combined size: 209 B", 1)
		})
	},
}

// editText applies f to a text result's text and structured content.
func editText(res map[string]any, f func(string) string) {
	for _, c := range res["content"].([]any) {
		m := c.(map[string]any)
		if s, ok := m["text"].(string); ok {
			m["text"] = f(s)
		}
	}
	if sc, ok := res["structuredContent"].(map[string]any); ok {
		if s, ok := sc["content"].(string); ok {
			sc["content"] = f(s)
		}
	}
}

// subst replaces from with to in every string of v.
func subst(v any, from, to string) any {
	switch t := v.(type) {
	case string:
		return strings.ReplaceAll(t, from, to)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = subst(x, from, to)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = subst(x, from, to)
		}
		return out
	}
	return v
}

var createdLine = regexp.MustCompile(`(?m)^created: .*$`)

// TestGolden runs every recorded call against the built-in server over the
// same project and compares the answers and the files, under a policy
// that names the reference's tools and under one that names action kinds.
func TestGolden(t *testing.T) {
	var cases []goldenCase
	readJSON(t, "testdata/reference/golden.json", &cases)
	if len(cases) < 60 {
		t.Fatalf("golden.json holds %d cases", len(cases))
	}
	seen := map[string]bool{}
	for _, pol := range []struct{ name, yaml string }{{"tool names", toolPolicy}, {"kinds", kindPolicy}} {
		t.Run(pol.name, func(t *testing.T) {
			for _, k := range cases {
				seen[k.Tool] = true
				t.Run(k.Name, func(t *testing.T) {
					dir := buildFixture(t)
					env := newEnv(t, dir, pol.yaml)
					args, _ := subst(k.Args, "$ROOT", dir).(map[string]any)
					out, err := run(t, env, k.Tool, args)
					want := k.Result
					if fix := deviations[k.Name]; fix != nil {
						want = subst(want, "", "").(map[string]any) // a copy
						fix(want)
					}
					if isErr, _ := want["isError"].(bool); isErr {
						wantMsg := want["content"].([]any)[0].(map[string]any)["text"].(string)
						if err == nil {
							t.Fatalf("got no error, want %q", wantMsg)
						}
						if got := strings.ReplaceAll(errorMessage(err), dir, "$ROOT"); got != wantMsg {
							t.Errorf("error:\n got %q\nwant %q", got, wantMsg)
						}
					} else {
						if err != nil {
							t.Fatalf("unexpected error: %v", err)
						}
						res, ok := out.Output.(*mcp.CallToolResult)
						if !ok {
							t.Fatalf("output is %T", out.Output)
						}
						b, err := json.Marshal(res)
						if err != nil {
							t.Fatal(err)
						}
						var got map[string]any
						if err := json.Unmarshal(b, &got); err != nil {
							t.Fatal(err)
						}
						got = subst(got, dir, "$ROOT").(map[string]any)
						editText(got, func(s string) string { return createdLine.ReplaceAllString(s, "created: <created>") })
						if d := cmp.Diff(want, got); d != "" {
							t.Errorf("result (-reference +warden):\n%s", d)
						}
					}
					for rel, content := range k.Files {
						wantFile := "<missing>"
						if content != nil {
							wantFile = *content
						}
						if got := readFile(t, dir, rel); got != wantFile {
							t.Errorf("%s holds %q, want %q", rel, got, wantFile)
						}
					}
				})
			}
		})
	}
	for _, b := range builtins {
		if !seen[b.name] && b.name != "run_command" {
			t.Errorf("no golden case for %s", b.name)
		}
	}
}

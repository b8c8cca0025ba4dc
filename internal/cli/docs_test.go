package cli

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/shellcmd"
)

// docExample is one "$ warden …" line of a console block in the docs, with
// the output the docs promise.
type docExample struct {
	file string
	line int
	args []string
	want string
	exit int
}

// docFiles are the documents whose examples and policies the tests check:
// the README, docs/*.md and docs/integrations/*.md.
func docFiles() []string {
	files, _ := filepath.Glob("../../docs/*.md")
	more, _ := filepath.Glob("../../docs/integrations/*.md")
	return append(append(files, more...), "../../README.md")
}

// TestDocExamples runs every example in the README and docs/: each line of
// a ```console block that starts with "$ warden" is run from the repository
// root, and its output must be the lines that follow it. A last line
// "[exit N]" gives the expected exit status.
func TestDocExamples(t *testing.T) {
	files := docFiles()
	var examples []docExample
	for _, f := range files {
		examples = append(examples, readExamples(t, f)...)
	}
	if len(examples) < 5 {
		t.Fatalf("found %d doc examples; the docs lost their examples", len(examples))
	}
	t.Chdir("../..")
	for _, ex := range examples {
		t.Run(ex.file+":"+strconv.Itoa(ex.line), func(t *testing.T) {
			var out bytes.Buffer
			code := Main(context.Background(), ex.args, Streams{In: strings.NewReader(""), Out: &out, Err: &out})
			if got := strings.TrimRight(out.String(), "\n"); got != ex.want {
				t.Errorf("%s:%d: warden %s\n--- got\n%s\n--- want\n%s", ex.file, ex.line, strings.Join(ex.args, " "), got, ex.want)
			}
			if code != ex.exit {
				t.Errorf("%s:%d: exit %d, want %d", ex.file, ex.line, code, ex.exit)
			}
		})
	}
}

func readExamples(t *testing.T, file string) []docExample {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	var cur *docExample
	var lines []string
	flush := func() {
		if cur == nil {
			return
		}
		if n := len(lines); n > 0 && strings.HasPrefix(lines[n-1], "[exit ") {
			cur.exit, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(lines[n-1], "[exit "), "]"))
			lines = lines[:n-1]
		}
		cur.want = strings.Join(lines, "\n")
		out = append(out, *cur)
		cur, lines = nil, nil
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !in && line == "```console":
			in = true
		case in && line == "```":
			flush()
			in = false
		case in && strings.HasPrefix(line, "$ warden "):
			flush()
			parsed, err := shellcmd.Parse(strings.TrimPrefix(line, "$ "))
			if err != nil || len(parsed.Commands) != 1 {
				t.Fatalf("%s:%d: cannot read the example command: %v", file, n, err)
			}
			var args []string
			for _, w := range parsed.Commands[0].Args {
				args = append(args, w.Value)
			}
			cur = &docExample{file: filepath.Base(file), line: n, args: args}
		case in && cur != nil:
			lines = append(lines, line)
		}
	}
	flush()
	return out
}

// TestDocPolicies loads every complete policy shown in the docs (a ```yaml
// block with both name: and capabilities: at the top level).
func TestDocPolicies(t *testing.T) {
	files := docFiles()
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(data), "```yaml\n")
		for _, b := range blocks[1:] {
			body, _, _ := strings.Cut(b, "```")
			if !strings.Contains("\n"+body, "\nname:") || !strings.Contains("\n"+body, "\ncapabilities:") {
				continue
			}
			found++
			if _, err := policy.Parse([]byte(body), f); err != nil {
				t.Errorf("%s: a policy in the docs does not load:\n%v", f, err)
			}
		}
	}
	if found == 0 {
		t.Fatal("no complete policy found in the docs")
	}
}

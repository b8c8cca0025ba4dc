package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/warden"
)

func TestRollbackCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, ".warden", "warden.db")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("original"), 0o644)
	in, err := instance.Open(ctx, db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := in.Gateway.CreateSession(ctx, gateway.CreateRequest{Root: dir, Policy: []byte("name: w\ncapabilities:\n  - {tool: file:write, scope: {paths: [\"./*.txt\"]}}\n  - {tool: command:run, scope: {binaries: [\"true\"]}}\n")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range []warden.Action{
		{Tool: "file:write", Input: map[string]any{"path": "a.txt", "content": "changed"}},
		{Tool: "file:write", Input: map[string]any{"path": "b.txt", "content": "new"}},
		{Tool: "command:run", Input: map[string]any{"command": "true"}},
	} {
		x, err := in.Gateway.Execute(ctx, s.ID, a, gateway.ExecuteOptions{})
		if err != nil || !x.Result.Success {
			t.Fatalf("%v: %+v %v", a, x, err)
		}
		ids = append(ids, x.ActionID)
	}
	in.Close()

	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(ctx, append([]string{"rollback", "--db", db, "--as", "alice"}, args...), Streams{Out: &out, Err: &out})
		return code, out.String()
	}
	code, out := run("--session", s.ID, "--action", ids[1])
	if code != 0 || !strings.Contains(out, "rolled_back") || !strings.Contains(out, "Rolled back 1, failed 0, not reversible 0.") {
		t.Fatalf("one action: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.txt")); !os.IsNotExist(err) {
		t.Fatal("b.txt survived its rollback")
	}
	code, out = run("--session", s.ID, "--action", ids[1])
	if code != ExitFailure || !strings.Contains(out, "already rolled back") {
		t.Fatalf("twice: %d\n%s", code, out)
	}
	code, out = run("--session", s.ID)
	steps := regexp.MustCompile(`(?m)^(\S+) +#(\d) (\S+)`).FindAllStringSubmatch(out, -1)
	if code != 0 || len(steps) != 2 || steps[0][1] != "not_reversible" || steps[0][3] != "command:run" || steps[1][1] != "rolled_back" {
		t.Fatalf("session: %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "original" {
		t.Fatalf("a.txt = %q", b)
	}
	code, out = run("--session", s.ID)
	if code != 0 || !strings.Contains(out, "Nothing to roll back") {
		t.Fatalf("again: %d\n%s", code, out)
	}
	code, out = run()
	if code != ExitUsage || !strings.Contains(out, "--session is required") {
		t.Fatalf("no session: %d\n%s", code, out)
	}
}

package warden_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wardenhq/warden"
)

const policy = `
name: example
capabilities:
  - tool: file:read
    scope: {paths: ["./src/**"]}
  - tool: file:delete
    scope: {paths: ["./src/**"]}
gates:
  - action: file:delete
    approval: human
    min_approvals: 2
forbidden:
  - pattern: "**/.env"
`

// A session: an agent's actions are decided, a delete waits for two
// approvers, and the identical call runs once they have approved.
func Example() {
	ctx := context.Background()
	w, err := warden.Open(ctx, warden.Options{DB: warden.MemoryDB})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	s, err := w.NewSession(ctx, []byte(policy), "", nil)
	if err != nil {
		panic(err)
	}
	read, _ := w.Evaluate(ctx, s.ID, "agent", warden.Action{Tool: "file:read", Input: map[string]any{"path": "src/../.env"}})
	fmt.Println(read.Decision, read.Rule)

	del := warden.Action{Tool: "file:delete", Input: map[string]any{"path": "src/old.go"}}
	gated, _ := w.Evaluate(ctx, s.ID, "agent", del)
	fmt.Println(gated.Decision)
	for _, who := range []string{"alice", "bob"} {
		if _, err := w.Approve(ctx, gated.ApprovalID, warden.Approver{ID: who}, "ok"); err != nil {
			panic(err)
		}
	}
	again, _ := w.Evaluate(ctx, s.ID, "agent", del)
	fmt.Println(again.Decision, again.Reasons[len(again.Reasons)-1])

	rep, _ := w.Terminate(ctx, s.ID, "done")
	fmt.Printf("allowed %d, denied %d, gated %d, approved %d\n", rep.Allowed, rep.Denied, rep.Gated, rep.Approved)
	// Output:
	// deny forbidden[0]
	// gate
	// allow Approved by alice, bob
	// allowed 0, denied 1, gated 1, approved 1
}

// A session's ledger, exported and verified with the instance's key.
func ExampleVerify() {
	ctx := context.Background()
	w, err := warden.Open(ctx, warden.Options{DB: warden.MemoryDB})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	s, _ := w.NewSession(ctx, []byte(policy), "", nil)
	w.Evaluate(ctx, s.ID, "agent", warden.Action{Tool: "file:read", Input: map[string]any{"path": "src/a.go"}})
	w.Terminate(ctx, s.ID, "done")

	var export bytes.Buffer
	if err := w.Export(ctx, &export, s.ID); err != nil {
		panic(err)
	}
	rep := warden.Verify(bytes.NewReader(export.Bytes()), w.VerifierKey())
	fmt.Println(rep.Valid, rep.Entries)

	tampered := bytes.Replace(export.Bytes(), []byte("src/a.go"), []byte("src/b.go"), 1)
	fmt.Println(warden.Verify(bytes.NewReader(tampered), w.VerifierKey()).Valid)
	// Output:
	// true 3
	// false
}

// A decision without a session or a database.
func ExampleEngine_Decide() {
	p, err := warden.ParsePolicy([]byte(policy), "policy.yaml")
	if err != nil {
		panic(err)
	}
	e, err := warden.NewEngine(p, "")
	if err != nil {
		panic(err)
	}
	v := e.Decide(warden.Action{Tool: "file:read", Input: map[string]any{"path": "./src/main.go"}})
	fmt.Println(v.Decision, v.Rule)
	// Output: allow capabilities[0]
}

// Executing: Warden runs allowed writes itself, keeps what each replaced,
// and rolls the session back, newest first.
func ExampleWarden_Execute() {
	ctx := context.Background()
	w, err := warden.Open(ctx, warden.Options{DB: warden.MemoryDB})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	root, _ := os.MkdirTemp("", "project")
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(root, "notes.txt"), []byte("original\n"), 0o644)

	s, err := w.NewSession(ctx, []byte(`
name: writer
capabilities:
  - {tool: file:write, scope: {paths: ["./**"]}}
forbidden:
  - {pattern: "**/.env"}
evidence: {require: [checksums, diffs]}
`), root, nil)
	if err != nil {
		panic(err)
	}
	for _, text := range []string{"first\n", "second\n"} {
		x, err := w.Execute(ctx, s.ID, "agent", warden.Action{Tool: "file:write", Input: map[string]any{"path": "notes.txt", "content": text}}, false)
		if err != nil {
			panic(err)
		}
		fmt.Println(x.Decision, x.Executed, x.Result.Success)
	}
	x, _ := w.Execute(ctx, s.ID, "agent", warden.Action{Tool: "file:write", Input: map[string]any{"path": ".env", "content": "x"}}, false)
	fmt.Println(x.Decision, x.Executed)

	rep, err := w.Rollback(ctx, s.ID, "", "alice")
	if err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "notes.txt"))
	fmt.Printf("rolled back %d: %q\n", rep.RolledBack, b)
	// Output:
	// allow true true
	// allow true true
	// deny false
	// rolled back 2: "original\n"
}

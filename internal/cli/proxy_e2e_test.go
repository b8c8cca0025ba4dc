package cli

// End-to-end tests of warden proxy driven by independently written MCP
// software: the official TypeScript SDK client (e2e/client.mjs, through
// internal/nodeclient) talks to a warden proxy process, in simplified mode
// and in config mode in front of the reference filesystem and "everything"
// servers and of small TypeScript SDK servers in e2e/backends. Approvals
// are given with the warden CLI against the proxy's database while calls
// are held, and each scenario is checked in the session's ledger report.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/mcpproxy"
	"github.com/wardenhq/warden/internal/nodeclient"
)

// e2eWait bounds every wait for an answer, an event or a file: generous,
// since the tests run under the race detector on busy machines, but finite,
// so that a hang fails the test instead of stalling it.
const e2eWait = 90 * time.Second

// e2eFSPolicy governs the filesystem scenarios: the project is readable,
// writable and movable; .env files are forbidden in every spelling; writes
// to held.txt need a human within 5 minutes, writes to late.txt need one
// with no time limit (the call is held for the proxy's gate wait), and
// writes to expiring.txt need one within 2 seconds, after which their
// approval request expires.
const e2eFSPolicy = `name: e2e-filesystem
capabilities:
  - tool: file:read
    scope: {paths: ["./**"]}
  - tool: file:write
    scope: {paths: ["./**"]}
  - tool: file:move
    scope: {paths: ["./**"]}
  - tool: directory:list
    scope: {paths: ["./**"]}
  - tool: directory:create
    scope: {paths: ["./**"]}
forbidden:
  - path: "**/.env"
gates:
  - action: file:write
    approval: human
    timeout: 5m
    when: 'input.path.endsWith("held.txt")'
  - action: file:write
    approval: human
    when: 'input.path.endsWith("late.txt")'
  - action: file:write
    approval: human
    timeout: 2s
    when: 'input.path.endsWith("expiring.txt")'
`

// e2eEnv is one end-to-end setup: the warden binary, a project holding
// files the policy forbids, and the database that the proxy and the CLI
// share.
type e2eEnv struct {
	t       *testing.T
	warden  string
	root    string // holds bin/, project/, state/ and the policy and config files
	project string
	db      string
	// secrets are the contents of the forbidden files; no answer to the
	// agent may contain one.
	secrets []string
}

func newE2EEnv(t *testing.T) *e2eEnv {
	t.Helper()
	nodeclient.Require(t)
	root := t.TempDir()
	e := &e2eEnv{t: t, warden: serverBin(t, root), root: root, project: filepath.Join(root, "project"), db: filepath.Join(root, "state", "warden.db")}
	files := map[string]string{
		"src/a.txt": "hello from a\n",
		"src/b.txt": "b stays where it is\n",
		"src/c.txt": "c moves\n",
		"README.md": "# an end-to-end project\n",
	}
	for i, name := range []string{".env", "src/.env", "sub/.hidden/.env"} {
		secret := fmt.Sprintf("WARDEN_E2E_SECRET_%d=%s", i, rand.Text())
		files[name] = secret + "\n"
		e.secrets = append(e.secrets, secret)
	}
	for name, content := range files {
		e.write(filepath.Join("project", name), content)
	}
	// A link with an innocent name that resolves to a forbidden file.
	if err := os.Symlink(".env", filepath.Join(e.project, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(e.db), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// write writes a file under the root and returns its path.
func (e *e2eEnv) write(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// cli runs the warden command line against the shared database and
// returns its stdout; a non-zero exit is an error carrying stderr.
func (e *e2eEnv) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.warden, args...)
	cmd.Dir = e.root
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	t.Logf("$ warden %s (%s)\n%s%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out.String(), errb.String())
	if err != nil {
		return out.String(), fmt.Errorf("warden %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// approve approves an approval from the CLI as a human reviewer.
func (e *e2eEnv) approve(t *testing.T, id string) {
	t.Helper()
	out, err := e.cli(t, "approve", id, "--db", e.db, "--as", "e2e-reviewer")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Approved "+id) {
		t.Fatalf("warden approve %s printed %q, want it to say the approval is complete", id, out)
	}
}

// pending returns the approvals `warden pending --json` lists.
func (e *e2eEnv) pending(t *testing.T) []gateway.Approval {
	t.Helper()
	out, err := e.cli(t, "pending", "--db", e.db, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []gateway.Approval
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("warden pending --json: %v\n%s", err, out)
	}
	return list
}

// report returns `warden report --session SID --json`.
func (e *e2eEnv) report(t *testing.T, sid string) ledger.Summary {
	t.Helper()
	out, err := e.cli(t, "report", "--session", sid, "--db", e.db, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s ledger.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("warden report --json: %v\n%s", err, out)
	}
	return s
}

// noSecrets fails if text holds the content of a forbidden file.
func (e *e2eEnv) noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range e.secrets {
		if strings.Contains(text, s) {
			t.Fatalf("%s leaked the forbidden file content %q:\n%s", what, s, text)
		}
	}
}

// fileIs fails unless the project file holds want.
func (e *e2eEnv) fileIs(t *testing.T, name, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.project, name))
	if err != nil || string(b) != want {
		t.Fatalf("%s: %q (%v), want %q", name, b, err, want)
	}
}

// absent fails if the project file exists.
func (e *e2eEnv) absent(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(e.project, name)); !os.IsNotExist(err) {
		t.Fatalf("%s exists (%v); it must not", name, err)
	}
}

// e2eAnswer waits for the answer on ch.
func e2eAnswer(t *testing.T, ch <-chan nodeclient.Message, what string) nodeclient.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the MCP client exited before answering", what)
		}
		return m
	case <-time.After(e2eWait):
		t.Fatalf("%s: no answer within %s", what, e2eWait)
	}
	return nodeclient.Message{}
}

// e2eDo sends a request and waits for its answer.
func e2eDo(t *testing.T, c *nodeclient.Client, r nodeclient.Request) nodeclient.Message {
	t.Helper()
	return e2eAnswer(t, c.Send(r), r.Op+" "+r.Name+r.URI)
}

// e2eCall calls a tool; a protocol error fails the test.
func e2eCall(t *testing.T, c *nodeclient.Client, name string, args map[string]any) nodeclient.ToolResult {
	t.Helper()
	r, err := nodeclient.DecodeCall(e2eDo(t, c, nodeclient.Request{Op: "call", Name: name, Args: args}))
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// e2eOK calls a tool that must succeed and returns its text.
func e2eOK(t *testing.T, c *nodeclient.Client, name string, args map[string]any) string {
	t.Helper()
	r := e2eCall(t, c, name, args)
	if r.IsError {
		t.Fatalf("%s %v failed: %s", name, args, r.Text())
	}
	return r.Text()
}

// e2eDenied checks that a result is the policy's refusal.
func e2eDenied(t *testing.T, what string, r nodeclient.ToolResult) {
	t.Helper()
	if !r.IsError || !strings.HasPrefix(r.Text(), "Action denied by policy: ") {
		t.Fatalf("%s: want a denial, got isError=%v %q", what, r.IsError, r.Text())
	}
}

// e2eResult decodes a request's result into v.
func e2eResult(t *testing.T, m nodeclient.Message, v any) {
	t.Helper()
	if m.Error != nil {
		t.Fatalf("request failed: %s (code %v)", m.Error.Message, m.Error.Code)
	}
	if err := json.Unmarshal(m.Result, v); err != nil {
		t.Fatalf("decoding %s: %v", m.Result, err)
	}
}

// e2eStatus calls warden_status and decodes its structured content.
func e2eStatus(t *testing.T, c *nodeclient.Client) mcpproxy.Status {
	t.Helper()
	r := e2eCall(t, c, mcpproxy.StatusTool, nil)
	if r.IsError {
		t.Fatalf("%s: %s", mcpproxy.StatusTool, r.Text())
	}
	var st mcpproxy.Status
	b, _ := json.Marshal(r.StructuredContent)
	if err := json.Unmarshal(b, &st); err != nil || st.SessionID == "" {
		t.Fatalf("%s structured content %s: %v", mcpproxy.StatusTool, b, err)
	}
	if !strings.Contains(r.Text(), "Warden session "+st.SessionID) {
		t.Fatalf("%s text does not name the session:\n%s", mcpproxy.StatusTool, r.Text())
	}
	return st
}

// e2eToolNames lists the tools the proxy offers.
func e2eToolNames(t *testing.T, c *nodeclient.Client) []string {
	t.Helper()
	var res struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "list"}), &res)
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

func e2eHasAll(t *testing.T, what string, have []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(have, w) {
			t.Fatalf("%s lacks %q: %v", what, w, have)
		}
	}
}

// e2eProgress are the progress notifications received for request id.
func e2eProgress(c *nodeclient.Client, id int) []e2eProgressParams {
	var out []e2eProgressParams
	for _, ev := range c.Events() {
		if ev.Event != "progress" || ev.ID != id {
			continue
		}
		var p e2eProgressParams
		if json.Unmarshal(ev.Params, &p) == nil {
			out = append(out, p)
		}
	}
	return out
}

// e2eCount counts the events of a kind received so far.
func e2eCount(c *nodeclient.Client, kind string) int {
	n := 0
	for _, ev := range c.Events() {
		if ev.Event == kind {
			n++
		}
	}
	return n
}

type e2eProgressParams struct {
	Progress float64 `json:"progress"`
	Total    float64 `json:"total"`
	Message  string  `json:"message"`
}

var (
	approveRE  = regexp.MustCompile(`warden approve (apr_[A-Za-z0-9_-]+)`)
	approvalRE = regexp.MustCompile(`apr_[A-Za-z0-9_-]+`)
)

// e2eHeldApproval waits until the held request id reports, in a progress
// notification, the approval it waits for, and returns the approval's id.
func e2eHeldApproval(t *testing.T, c *nodeclient.Client, id int) string {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		for _, p := range e2eProgress(c, id) {
			if m := approveRE.FindStringSubmatch(p.Message); m != nil && strings.Contains(p.Message, "waiting for approval "+m[1]) {
				return m[1]
			}
		}
		left := time.Until(deadline)
		if left <= 0 || !c.WaitEvent("progress", e2eCount(c, "progress"), left) {
			t.Fatalf("request %d: no progress notification naming its approval within %s", id, e2eWait)
		}
	}
}

// e2eWaitFile waits for a file to appear and returns its content.
func e2eWaitFile(t *testing.T, path string) string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(e2eWait)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s did not appear within %s", path, e2eWait)
		}
	}
}

// e2eTapped reports what a stdio backend behind e2e/backends/tap.mjs has
// been sent so far.
func e2eTapped(t *testing.T, tap string) string {
	t.Helper()
	b, err := os.ReadFile(tap)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// e2eNode is the node binary, named by absolute path in configurations.
func e2eNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// e2eEnvSpellings are ways to name a forbidden .env file, each relative to
// the project root unless absolute.
func (e *e2eEnv) envSpellings() []string {
	return []string{
		".env",
		"./.env",
		"src/../.env",
		"src/.env",
		"./src/./.env",
		"src//.env",
		"sub/.hidden/.env",
		"sub/.hidden/../../.env",
		filepath.Join(e.project, ".env"),
		e.project + "/src/../.env",
		e.project + "//sub/.hidden/.env",
		".ENV",
		"link.txt",
	}
}

// e2eFSCounts is what a run of the filesystem scenarios did, for the
// ledger report.
type e2eFSCounts struct {
	denied   int // calls the policy denied
	approved int // approvals given from the CLI
}

// e2eFilesystemScenarios runs the filesystem scenarios of the issue against
// a proxy serving the reference filesystem tools (built in, or the real
// server behind tap, when tap is set) under e2eFSPolicy, with a gate wait
// of at least 5 minutes, so that a gate's own timeout decides how long a
// call is held.
func e2eFilesystemScenarios(t *testing.T, e *e2eEnv, c *nodeclient.Client, tap string) e2eFSCounts {
	var n e2eFSCounts

	t.Run("tools/list", func(t *testing.T) {
		names := e2eToolNames(t, c)
		e2eHasAll(t, "tools/list", names, "read_text_file", "read_multiple_files", "write_file", "edit_file", "move_file",
			"create_directory", "list_directory", "directory_tree", "search_files", "get_file_info", "list_allowed_directories", mcpproxy.StatusTool)
		if tap == "" {
			e2eHasAll(t, "tools/list", names, "run_command")
		}
	})

	t.Run("allowed read", func(t *testing.T) {
		for _, p := range []string{"src/a.txt", filepath.Join(e.project, "src", "a.txt")} {
			if got := e2eOK(t, c, "read_text_file", map[string]any{"path": p}); got != "hello from a\n" {
				t.Fatalf("read_text_file %s: %q", p, got)
			}
		}
		if got := e2eOK(t, c, "list_directory", map[string]any{"path": "src"}); !strings.Contains(got, "a.txt") {
			t.Fatalf("list_directory src: %q", got)
		}
		if tap != "" && !strings.Contains(e2eTapped(t, tap), `"src/a.txt"`) {
			t.Fatalf("the allowed read did not reach the backend through the tap:\n%s", e2eTapped(t, tap))
		}
	})

	t.Run("denied .env in every spelling", func(t *testing.T) {
		for _, p := range e.envSpellings() {
			for _, tool := range []string{"read_text_file", "read_file", "get_file_info"} {
				r := e2eCall(t, c, tool, map[string]any{"path": p})
				e2eDenied(t, tool+" "+p, r)
				e.noSecrets(t, tool+" "+p, r.Text())
				n.denied++
			}
		}
	})

	t.Run("read_multiple_files with one forbidden path", func(t *testing.T) {
		for _, paths := range [][]string{{"src/a.txt", ".env"}, {"sub/.hidden/.env", "src/a.txt"}, {"src/a.txt", "src/b.txt", "link.txt"}} {
			r := e2eCall(t, c, "read_multiple_files", map[string]any{"paths": paths})
			e2eDenied(t, fmt.Sprint("read_multiple_files ", paths), r)
			e.noSecrets(t, "read_multiple_files", r.Text())
			// Denied as a whole: not even the allowed file is read.
			if strings.Contains(r.Text(), "hello from a") || strings.Contains(r.Text(), "b stays") {
				t.Fatalf("read_multiple_files %v returned allowed content with the denial: %q", paths, r.Text())
			}
			n.denied++
		}
		got := e2eOK(t, c, "read_multiple_files", map[string]any{"paths": []string{"src/a.txt", "src/b.txt"}})
		if !strings.Contains(got, "hello from a") || !strings.Contains(got, "b stays where it is") {
			t.Fatalf("read_multiple_files of allowed files: %q", got)
		}
	})

	t.Run("move_file with one forbidden path", func(t *testing.T) {
		r := e2eCall(t, c, "move_file", map[string]any{"source": ".env", "destination": "src/env.txt"})
		e2eDenied(t, "move_file from .env", r)
		e.noSecrets(t, "move_file", r.Text())
		n.denied++
		e.fileIs(t, ".env", e.secrets[0]+"\n")
		e.absent(t, "src/env.txt")

		r = e2eCall(t, c, "move_file", map[string]any{"source": "src/b.txt", "destination": "sub/.env"})
		e2eDenied(t, "move_file to sub/.env", r)
		n.denied++
		e.fileIs(t, "src/b.txt", "b stays where it is\n")
		e.absent(t, "sub/.env")

		e2eOK(t, c, "move_file", map[string]any{"source": "src/c.txt", "destination": "src/c-moved.txt"})
		e.absent(t, "src/c.txt")
		e.fileIs(t, "src/c-moved.txt", "c moves\n")
	})

	if tap != "" {
		t.Run("denied calls never reached the backend", func(t *testing.T) {
			sent := e2eTapped(t, tap)
			for _, s := range []string{".env", ".ENV", "link.txt", "env.txt"} {
				if strings.Contains(sent, s) {
					t.Fatalf("the backend was sent %q:\n%s", s, sent)
				}
			}
			if !strings.Contains(sent, `"src/c-moved.txt"`) {
				t.Fatalf("the allowed move did not reach the backend:\n%s", sent)
			}
		})
	}

	t.Run("gated write approved from the CLI while held", func(t *testing.T) {
		args := map[string]any{"path": "held.txt", "content": "written once approved\n"}
		id, answer := c.SendID(nodeclient.Request{Op: "call", Name: "write_file", Args: args, Progress: true, TimeoutMS: int(e2eWait / time.Millisecond)})
		apr := e2eHeldApproval(t, c, id)

		// While held: nothing written or forwarded, and the approval is
		// listed by warden_status and warden pending with how to approve it.
		e.absent(t, "held.txt")
		if tap != "" && strings.Contains(e2eTapped(t, tap), "held.txt") {
			t.Fatal("the held write reached the backend before it was approved")
		}
		st := e2eStatus(t, c)
		i := slices.IndexFunc(st.Pending, func(p mcpproxy.PendingApproval) bool { return p.ID == apr })
		if i < 0 || st.Pending[i].Approve != "warden approve "+apr || st.Pending[i].Tool != "write_file" {
			t.Fatalf("warden_status does not list the held approval %s with how to approve it: %+v", apr, st.Pending)
		}
		list := e.pending(t)
		j := slices.IndexFunc(list, func(a gateway.Approval) bool { return a.ID == apr })
		if j < 0 || list[j].SessionID != st.SessionID || list[j].Input["path"] != "held.txt" {
			t.Fatalf("warden pending does not list %s for session %s: %+v", apr, st.SessionID, list)
		}
		// The agent that asked cannot approve its own call.
		if _, err := e.cli(t, "approve", apr, "--db", e.db, "--as", list[j].Requester); err == nil || !strings.Contains(err.Error(), "cannot approve") {
			t.Fatalf("approving as the requester %q: %v, want a refusal", list[j].Requester, err)
		}
		select {
		case m := <-answer:
			t.Fatalf("the held call answered before it was approved: %+v", m)
		default:
		}

		e.approve(t, apr)
		r, err := nodeclient.DecodeCall(e2eAnswer(t, answer, "the held write"))
		if err != nil || r.IsError {
			t.Fatalf("the approved write: %v %q", err, r.Text())
		}
		n.approved++
		e.fileIs(t, "held.txt", "written once approved\n")
		if tap != "" && !strings.Contains(e2eTapped(t, tap), "held.txt") {
			t.Fatal("the approved write did not go through the backend")
		}
		for _, p := range e2eProgress(c, id) {
			if !strings.Contains(p.Message, "warden approve "+apr) {
				t.Fatalf("progress while held does not say how to approve: %+v", p)
			}
		}
	})

	t.Run("gate timeout expires the approval", func(t *testing.T) {
		// The gate's own timeout (2s) is when its approval request expires;
		// the call is held no longer than that and says so. Approving
		// afterwards is refused, and the identical call asks again under a
		// new approval instead of running.
		args := map[string]any{"path": "expiring.txt", "content": "never written\n"}
		r := e2eCall(t, c, "write_file", args)
		apr := approvalRE.FindString(r.Text())
		if !r.IsError || apr == "" || !strings.Contains(r.Text(), "expired") || strings.Contains(r.Text(), "warden approve") {
			t.Fatalf("write_file expiring.txt: want an error saying approval %s expired, without asking for it to be approved, got %q", apr, r.Text())
		}
		if _, err := e.cli(t, "approve", apr, "--db", e.db, "--as", "e2e-reviewer"); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("approving the expired %s: %v, want it refused as expired", apr, err)
		}
		r = e2eCall(t, c, "write_file", args)
		if again := approvalRE.FindString(r.Text()); !r.IsError || again == "" || again == apr {
			t.Fatalf("retrying after the expiry: want a new approval request, got %q", r.Text())
		}
		e.absent(t, "expiring.txt")
	})

	t.Run("warden_status", func(t *testing.T) {
		st := e2eStatus(t, c)
		cn := st.Counters
		// Calls allowed by an approval count as approved, not allowed.
		if st.State != "active" || st.PolicyName != "e2e-filesystem" || cn.Denied != n.denied || cn.Approved != n.approved || cn.Allowed < 5 || cn.Gated < 3 || cn.Results != cn.Allowed+cn.Approved {
			t.Fatalf("warden_status: state %s policy %s counters %+v; want %d denied, %d approved", st.State, st.PolicyName, cn, n.denied, n.approved)
		}
	})
	return n
}

// e2eGateWaitScenario is the gate whose wait runs out, on a proxy started
// with --gate-wait 2s: the held call returns an error naming the approval
// and how to give it; once it is given from the CLI, the identical call
// runs. The proxy is stopped at the end and its session's report checked.
func e2eGateWaitScenario(t *testing.T, e *e2eEnv, c *nodeclient.Client, tap string) {
	sid := e2eStatus(t, c).SessionID
	t.Run("gate wait runs out, approved from the CLI, retry runs", func(t *testing.T) {
		args := map[string]any{"path": "late.txt", "content": "approved after the wait\n"}
		r := e2eCall(t, c, "write_file", args)
		m := approveRE.FindStringSubmatch(r.Text())
		if !r.IsError || m == nil || !strings.Contains(r.Text(), "within 2s (approval "+m[1]+")") {
			t.Fatalf("write_file late.txt: want an error naming the approval and `warden approve ID`, got %q", r.Text())
		}
		apr := m[1]
		e.absent(t, "late.txt")
		if tap != "" && strings.Contains(e2eTapped(t, tap), "late.txt") {
			t.Fatal("the timed-out write reached the backend")
		}
		e.approve(t, apr)
		e2eOK(t, c, "write_file", args)
		e.fileIs(t, "late.txt", "approved after the wait\n")
		if st := e2eStatus(t, c); st.Counters.Approved != 1 || st.Counters.Gated != 1 || len(st.Pending) != 0 {
			t.Fatalf("warden_status after the retry: %+v", st)
		}
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rep := e.report(t, sid)
	if !rep.Terminated || rep.GatesRequested != 1 || rep.GatesApproved != 1 || rep.ActionsAllowed != 1 || rep.ResultsRecorded != 1 || rep.ActionsDenied != 0 {
		t.Fatalf("report of the gate-wait session: %+v", rep)
	}
}

// e2eCheckFSReport checks the ledger of a finished filesystem session.
func e2eCheckFSReport(t *testing.T, e *e2eEnv, sid string, n e2eFSCounts) {
	t.Helper()
	rep := e.report(t, sid)
	if !rep.Terminated || rep.TerminationReason != mcpproxy.StopReason {
		t.Fatalf("report: terminated %v (%q), want the proxy's stop to end the session", rep.Terminated, rep.TerminationReason)
	}
	if rep.ActionsDenied != n.denied || rep.GatesApproved != n.approved || rep.GatesRequested < 3 || rep.ActionsAllowed < 6 || len(rep.Errors) != 0 {
		t.Fatalf("report: %+v; want %d denied, %d gates approved, at least 3 requested, no errors", rep, n.denied, n.approved)
	}
	if rep.ResultsRecorded != rep.ActionsAllowed {
		t.Fatalf("report: %d allowed actions but %d results recorded", rep.ActionsAllowed, rep.ResultsRecorded)
	}
}

// (a) Simplified mode: the built-in filesystem tools, over stdio.
func TestProxyE2ESimplified(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	e := newE2EEnv(t)
	pol := e.write("policy.yaml", e2eFSPolicy)
	c := nodeclient.Start(t, e.project, nil, e.warden, "proxy", "--policy", pol, "--dir", e.project, "--db", e.db)
	t.Logf("connected in %.0f ms", c.Connected.MS)
	sid := e2eStatus(t, c).SessionID
	n := e2eFilesystemScenarios(t, e, c, "")

	t.Run("run_command", func(t *testing.T) {
		// No capability for command:run: denied, and never run.
		r := e2eCall(t, c, "run_command", map[string]any{"command": "touch ran.txt"})
		e2eDenied(t, "run_command", r)
		n.denied++
		e.absent(t, "ran.txt")
	})

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	e2eCheckFSReport(t, e, sid, n)

	c = nodeclient.Start(t, e.project, nil, e.warden, "proxy", "--policy", pol, "--dir", e.project, "--db", e.db, "--gate-wait", "2s")
	e2eGateWaitScenario(t, e, c, "")
}

// (b) Config mode in front of the real @modelcontextprotocol/server-filesystem,
// behind a recording pipe that shows what reached it.
func TestProxyE2EReferenceFilesystem(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	e := newE2EEnv(t)
	node := e2eNode(t)
	tap := filepath.Join(e.root, "state", "backend-stdin.jsonl")
	e.write("policy.yaml", e2eFSPolicy)
	cfg := e.write("proxy.yaml", fmt.Sprintf(`policy: policy.yaml
db: state/warden.db
dir: project
gate_wait: 10m
session_metadata: {purpose: e2e}
backends:
  - name: files
    command: %q
    args: [%q, %q, %q, "${WARDEN_E2E_PROJECT}"]
    env:
      WARDEN_E2E_TAP: "${WARDEN_E2E_TAP}"
`, node, filepath.Join(nodeclient.Dir(), "backends", "tap.mjs"), node,
		filepath.Join(nodeclient.Package("@modelcontextprotocol/server-filesystem"), "dist", "index.js")))
	env := []string{"WARDEN_E2E_TAP=" + tap, "WARDEN_E2E_PROJECT=" + e.project}
	c := nodeclient.Start(t, e.project, env, e.warden, "proxy", cfg)
	t.Logf("connected in %.0f ms", c.Connected.MS)
	st := e2eStatus(t, c)
	if !slices.Equal(st.Backends, []string{"files"}) {
		t.Fatalf("backends %v", st.Backends)
	}
	n := e2eFilesystemScenarios(t, e, c, tap)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	e2eCheckFSReport(t, e, st.SessionID, n)

	// The flag overrides the configuration's gate_wait.
	c = nodeclient.Start(t, e.project, env, e.warden, "proxy", cfg, "--gate-wait", "2s")
	e2eGateWaitScenario(t, e, c, tap)
}

// The agent over Streamable HTTP: warden proxy --http, stopped by SIGTERM.
func TestProxyE2EStreamableHTTP(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	e := newE2EEnv(t)
	pol := e.write("policy.yaml", e2eFSPolicy)
	addr := freeAddr(t)
	proxy := exec.Command(e.warden, "proxy", "--policy", pol, "--dir", e.project, "--db", e.db, "--http", addr)
	proxy.Dir = e.root
	stderr, err := proxy.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("proxy: %s", sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
		exited <- proxy.Wait()
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			proxy.Process.Kill()
			<-exited
		}
	})
	sid := ""
	for serving := false; !serving; {
		select {
		case l := <-lines:
			if m := regexp.MustCompile(`^warden proxy: session (\S+) `).FindStringSubmatch(l); m != nil {
				sid = m[1]
			}
			serving = strings.Contains(l, "serving MCP (http) at http://"+addr+mcpproxy.PathHTTP)
		case err := <-exited:
			t.Fatalf("the proxy exited before serving: %v", err)
		case <-time.After(e2eWait):
			t.Fatal("the proxy did not start serving")
		}
	}

	c := nodeclient.Start(t, e.project, nil, "--url", "http://"+addr+mcpproxy.PathHTTP)
	t.Logf("connected over Streamable HTTP in %.0f ms, protocol %q", c.Connected.MS, c.Connected.Protocol)
	if c.Connected.Protocol == "" {
		t.Fatal("no protocol version was negotiated")
	}
	if st := e2eStatus(t, c); st.SessionID != sid {
		t.Fatalf("warden_status names session %s, the proxy said %s", st.SessionID, sid)
	}
	e2eHasAll(t, "tools/list", e2eToolNames(t, c), "read_text_file", "write_file", "run_command", mcpproxy.StatusTool)
	if got := e2eOK(t, c, "read_text_file", map[string]any{"path": "src/a.txt"}); got != "hello from a\n" {
		t.Fatalf("read: %q", got)
	}
	denied := 0
	for _, p := range e.envSpellings() {
		r := e2eCall(t, c, "read_text_file", map[string]any{"path": p})
		e2eDenied(t, p, r)
		e.noSecrets(t, p, r.Text())
		denied++
	}
	// A held call keeps its request open, with progress on the SSE stream,
	// until the CLI approves it.
	id, answer := c.SendID(nodeclient.Request{Op: "call", Name: "write_file", Args: map[string]any{"path": "held.txt", "content": "over http\n"}, Progress: true, TimeoutMS: int(e2eWait / time.Millisecond)})
	apr := e2eHeldApproval(t, c, id)
	e.absent(t, "held.txt")
	e.approve(t, apr)
	if r, err := nodeclient.DecodeCall(e2eAnswer(t, answer, "the held write")); err != nil || r.IsError {
		t.Fatalf("the approved write: %v %q", err, r.Text())
	}
	e.fileIs(t, "held.txt", "over http\n")
	if cn := e2eStatus(t, c).Counters; cn.Denied != denied || cn.Approved != 1 {
		t.Fatalf("counters %+v", cn)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	proxy.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("the proxy did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(e2eWait):
		t.Fatal("the proxy did not exit on SIGTERM")
	}
	rep := e.report(t, sid)
	if !rep.Terminated || rep.TerminationReason != mcpproxy.StopReason || rep.ActionsDenied != denied || rep.GatesApproved != 1 {
		t.Fatalf("report: %+v", rep)
	}
}

// e2eEverythingPolicy allows three of server-everything's tools; the rest,
// get-env among them, have no capability and are denied.
const e2eEverythingPolicy = `name: e2e-everything
capabilities:
  - {tool: echo, scope: {}}
  - {tool: trigger-long-running-operation, scope: {}}
  - {tool: gzip-file-as-resource, scope: {}}
`

// (c) Config mode in front of @modelcontextprotocol/server-everything over
// stdio: progress, list_changed, resources and prompts pass through.
func TestProxyE2EEverything(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	e := newE2EEnv(t)
	everything := nodeclient.Package("@modelcontextprotocol/server-everything")
	e.write("policy.yaml", e2eEverythingPolicy)
	cfg := e.write("proxy.yaml", fmt.Sprintf("policy: policy.yaml\ndb: state/warden.db\ndir: project\nbackends:\n  - name: everything\n    command: %q\n    args: [%q, stdio]\n",
		e2eNode(t), filepath.Join(everything, "dist", "index.js")))
	c := nodeclient.Start(t, e.project, nil, e.warden, "proxy", cfg)
	t.Logf("connected in %.0f ms", c.Connected.MS)
	sid := e2eStatus(t, c).SessionID

	t.Run("tools", func(t *testing.T) {
		e2eHasAll(t, "tools/list", e2eToolNames(t, c), "echo", "get-env", "get-sum", "trigger-long-running-operation", "gzip-file-as-resource", mcpproxy.StatusTool)
		if got := e2eOK(t, c, "echo", map[string]any{"message": "through warden"}); got != "Echo: through warden" {
			t.Fatalf("echo: %q", got)
		}
		r := e2eCall(t, c, "get-env", nil)
		e2eDenied(t, "get-env", r)
		if strings.Contains(r.Text(), os.Getenv("PATH")) {
			t.Fatalf("get-env leaked the environment: %q", r.Text())
		}
	})

	t.Run("tools/list_changed after initialization", func(t *testing.T) {
		// The server registers simulate-research-query once initialized
		// and announces it with notifications/tools/list_changed; the proxy
		// lists the backend again and offers it. (Nothing else in the
		// server changes its tool list at run time.)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(e2eWait)
		for !slices.Contains(e2eToolNames(t, c), "simulate-research-query") {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatal("simulate-research-query, added after initialization, is never offered")
			}
		}
	})

	t.Run("progress passes through", func(t *testing.T) {
		id, answer := c.SendID(nodeclient.Request{Op: "call", Name: "trigger-long-running-operation", Args: map[string]any{"duration": 1, "steps": 4}, Progress: true})
		r, err := nodeclient.DecodeCall(e2eAnswer(t, answer, "trigger-long-running-operation"))
		if err != nil || r.IsError || !strings.HasPrefix(r.Text(), "Long running operation completed") {
			t.Fatalf("trigger-long-running-operation: %v %q", err, r.Text())
		}
		ps := e2eProgress(c, id)
		if len(ps) != 4 {
			t.Fatalf("%d progress notifications, want the backend's 4: %+v", len(ps), ps)
		}
		for i, p := range ps {
			if p.Progress != float64(i+1) || p.Total != 4 {
				t.Fatalf("progress %d: %+v, want %d of 4", i, p, i+1)
			}
		}
	})

	t.Run("resources", func(t *testing.T) {
		var list struct {
			Resources []struct {
				URI, Name, MimeType string
			} `json:"resources"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "resources"}), &list)
		i := slices.IndexFunc(list.Resources, func(r struct{ URI, Name, MimeType string }) bool {
			return strings.HasPrefix(r.URI, "demo://resource/static/document/")
		})
		if i < 0 {
			t.Fatalf("no static document among the resources: %+v", list.Resources)
		}
		doc := list.Resources[i]
		want, err := os.ReadFile(filepath.Join(everything, "dist", "docs", doc.Name))
		if err != nil {
			t.Fatal(err)
		}
		var read struct {
			Contents []struct{ URI, Text, Blob, MimeType string } `json:"contents"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "read", URI: doc.URI}), &read)
		if len(read.Contents) != 1 || read.Contents[0].Text != string(want) {
			t.Fatalf("reading %s: %+v, want the file's content", doc.URI, read.Contents)
		}

		var tpls struct {
			ResourceTemplates []struct {
				URITemplate string `json:"uriTemplate"`
			} `json:"resourceTemplates"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "templates"}), &tpls)
		if !slices.ContainsFunc(tpls.ResourceTemplates, func(x struct {
			URITemplate string `json:"uriTemplate"`
		}) bool {
			return x.URITemplate == "demo://resource/dynamic/text/{resourceId}"
		}) {
			t.Fatalf("templates: %+v", tpls)
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "read", URI: "demo://resource/dynamic/text/7"}), &read)
		if len(read.Contents) != 1 || !strings.HasPrefix(read.Contents[0].Text, "Resource 7: ") {
			t.Fatalf("reading a templated resource: %+v", read.Contents)
		}
	})

	t.Run("resources/list_changed", func(t *testing.T) {
		// gzip-file-as-resource registers a new session resource, which the
		// server announces with notifications/resources/list_changed.
		content := "compressed through the proxy " + rand.Text() + "\n"
		seen := e2eCount(c, "resources/list_changed")
		e2eOK(t, c, "gzip-file-as-resource", map[string]any{
			"name": "e2e.txt.gz", "data": "data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte(content)), "outputType": "resourceLink",
		})
		if !c.WaitEvent("resources/list_changed", seen, e2eWait) {
			t.Fatal("no notifications/resources/list_changed reached the agent")
		}
		var list struct {
			Resources []struct{ URI string } `json:"resources"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "resources"}), &list)
		const uri = "demo://resource/session/e2e.txt.gz"
		if !slices.ContainsFunc(list.Resources, func(r struct{ URI string }) bool { return r.URI == uri }) {
			t.Fatalf("the new resource is not listed: %+v", list.Resources)
		}
		var read struct {
			Contents []struct{ Blob string } `json:"contents"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "read", URI: uri}), &read)
		if len(read.Contents) != 1 {
			t.Fatalf("reading %s: %+v", uri, read)
		}
		gz, err := base64.StdEncoding.DecodeString(read.Contents[0].Blob)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(zr); err != nil || string(got) != content {
			t.Fatalf("the new resource holds %q (%v), want %q", got, err, content)
		}
	})

	t.Run("prompts", func(t *testing.T) {
		var list struct {
			Prompts []struct{ Name string } `json:"prompts"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "prompts"}), &list)
		var names []string
		for _, p := range list.Prompts {
			names = append(names, p.Name)
		}
		e2eHasAll(t, "prompts/list", names, "simple-prompt", "args-prompt")
		var got struct {
			Messages []struct {
				Role    string
				Content struct{ Type, Text string }
			} `json:"messages"`
		}
		e2eResult(t, e2eDo(t, c, nodeclient.Request{Op: "prompt", Name: "args-prompt", Args: map[string]any{"city": "Lisbon", "state": "Lisboa"}}), &got)
		if len(got.Messages) != 1 || got.Messages[0].Content.Text != "What's weather in Lisbon, Lisboa?" {
			t.Fatalf("args-prompt: %+v", got)
		}
	})

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rep := e.report(t, sid)
	if !rep.Terminated || rep.ActionsDenied != 1 || rep.ActionsAllowed != 3 || rep.ResultsRecorded != 3 || len(rep.Errors) != 0 {
		t.Fatalf("report: %+v; want echo, the long operation and gzip allowed and recorded, get-env denied", rep)
	}
}

// e2eTestServerPolicy allows every tool of e2e/backends/testserver.mjs,
// and "fresh", which add_tool adds.
const e2eTestServerPolicy = `name: e2e-testserver
capabilities:
  - {tool: echo, scope: {}}
  - {tool: crash, scope: {}}
  - {tool: slow, scope: {}}
  - {tool: add_tool, scope: {}}
  - {tool: remove_tool, scope: {}}
  - {tool: fresh, scope: {}}
`

// e2eTestServer starts a proxy in front of e2e/backends/testserver.mjs,
// named name, whose markers go to the returned directory.
func e2eTestServer(t *testing.T, name string) (*e2eEnv, *nodeclient.Client, string, string) {
	t.Helper()
	e := newE2EEnv(t)
	markers := filepath.Join(e.root, "markers")
	if err := os.Mkdir(markers, 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("policy.yaml", e2eTestServerPolicy)
	cfg := e.write("proxy.yaml", fmt.Sprintf(`policy: policy.yaml
db: state/warden.db
dir: project
backends:
  - name: %s
    command: %q
    args: [%q]
    env: {WARDEN_E2E_MARKER_DIR: "${WARDEN_E2E_MARKERS}"}
`, name, e2eNode(t), filepath.Join(nodeclient.Dir(), "backends", "testserver.mjs")))
	c := nodeclient.Start(t, e.project, []string{"WARDEN_E2E_MARKERS=" + markers}, e.warden, "proxy", cfg)
	t.Logf("connected in %.0f ms", c.Connected.MS)
	return e, c, markers, e2eStatus(t, c).SessionID
}

// A backend that crashes in the middle of a call: the agent gets a clear
// error, later calls fail fast, and the proxy still answers and stops.
func TestProxyE2EBackendCrash(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	e, c, _, sid := e2eTestServer(t, "flaky")
	if got := e2eOK(t, c, "echo", map[string]any{"text": "before"}); got != "echo: before" {
		t.Fatalf("echo: %q", got)
	}
	start := time.Now()
	r := e2eCall(t, c, "crash", map[string]any{"code": 3})
	if !r.IsError || !strings.HasPrefix(r.Text(), "Backend flaky failed: ") {
		t.Fatalf("crash: want a tool error naming the backend, got isError=%v %q", r.IsError, r.Text())
	}
	t.Logf("the crash was reported in %s: %s", time.Since(start).Round(time.Millisecond), r.Text())
	r = e2eCall(t, c, "echo", map[string]any{"text": "after"})
	if !r.IsError || !strings.Contains(r.Text(), "flaky") {
		t.Fatalf("a call after the crash: want a tool error naming the backend, got isError=%v %q", r.IsError, r.Text())
	}
	if st := e2eStatus(t, c); st.State != "active" || st.Counters.Allowed != 3 {
		t.Fatalf("warden_status after the crash: %+v", st)
	}
	closed := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the client and proxy stopped in %s", time.Since(closed).Round(time.Millisecond))
	rep := e.report(t, sid)
	if !rep.Terminated || rep.ResultsRecorded != 3 || len(rep.Errors) != 2 || !strings.HasPrefix(rep.Errors[0], "Backend flaky failed") {
		t.Fatalf("report: %+v; want the crash and the call after it recorded as failures", rep)
	}
}

// A slow backend: the agent cancels the call, the cancellation reaches the
// backend's handler, and the proxy and backend go on working.
func TestProxyE2ESlowBackendCancel(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	e, c, markers, sid := e2eTestServer(t, "slowpoke")
	id, answer := c.SendID(nodeclient.Request{Op: "call", Name: "slow", Args: map[string]any{"ms": 10 * 60 * 1000, "label": "call1"}, TimeoutMS: 15 * 60 * 1000})
	e2eWaitFile(t, filepath.Join(markers, "call1.started"))
	if !c.Cancel(id) {
		t.Fatal("the slow call was no longer in flight when cancelled")
	}
	m := e2eAnswer(t, answer, "the cancelled call")
	if m.Error == nil || !strings.Contains(m.Error.Message, "cancelled by the test") {
		t.Fatalf("the cancelled call answered %+v", m)
	}
	got := e2eWaitFile(t, filepath.Join(markers, "call1.cancelled"))
	t.Logf("the backend saw: %s", strings.TrimSpace(got))
	if got := e2eOK(t, c, "echo", map[string]any{"text": "still here"}); got != "echo: still here" {
		t.Fatalf("echo after the cancellation: %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rep := e.report(t, sid)
	if !rep.Terminated || rep.ActionsAllowed != 2 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "Cancelled by the agent while backend slowpoke was running it") {
		t.Fatalf("report: %+v; want the cancelled call recorded as such", rep)
	}
}

// A backend that adds and removes a tool: the agent is told through
// tools/list_changed, and the tool comes and goes.
func TestProxyE2EToolListChanged(t *testing.T) {
	nodeclient.Require(t)
	t.Parallel()
	_, c, _, _ := e2eTestServer(t, "shifty")
	if slices.Contains(e2eToolNames(t, c), "fresh") {
		t.Fatal("fresh is offered before it is added")
	}
	seen := e2eCount(c, "tools/list_changed")
	e2eOK(t, c, "add_tool", map[string]any{"name": "fresh"})
	if !c.WaitEvent("tools/list_changed", seen, e2eWait) {
		t.Fatal("no tools/list_changed after the backend added a tool")
	}
	e2eHasAll(t, "tools/list", e2eToolNames(t, c), "fresh", "echo")
	if got := e2eOK(t, c, "fresh", nil); got != "I am fresh" {
		t.Fatalf("fresh: %q", got)
	}
	seen = e2eCount(c, "tools/list_changed")
	e2eOK(t, c, "remove_tool", map[string]any{"name": "fresh"})
	if !c.WaitEvent("tools/list_changed", seen, e2eWait) {
		t.Fatal("no tools/list_changed after the backend removed a tool")
	}
	if slices.Contains(e2eToolNames(t, c), "fresh") {
		t.Fatal("fresh is still offered after it was removed")
	}
	m := e2eDo(t, c, nodeclient.Request{Op: "call", Name: "fresh"})
	if r, err := nodeclient.DecodeCall(m); err == nil && !r.IsError {
		t.Fatalf("calling the removed tool succeeded: %q", r.Text())
	}
}

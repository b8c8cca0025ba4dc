package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
)

// TestServeCrashSafety SIGKILLs a warden serve process while agents are
// evaluating and approvers approving, restarts on the same database, and
// checks that every acknowledged evaluation and approval is there, that the
// counters agree, and that the ledger export verifies.
func TestServeCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a server process")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	warden := serverBin(t, dir)
	addr := freeAddr(t)
	start := func() *exec.Cmd { return runServer(t, warden, dir, addr) }
	server := start()
	admin, err := os.ReadFile(filepath.Join(".warden", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(admin))
	post := func(path string, body any) (map[string]any, int, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		var m map[string]any
		err = json.NewDecoder(resp.Body).Decode(&m)
		return m, resp.StatusCode, err
	}
	policy := "name: crash\nallow_self_approval: true\ncapabilities: [{tool: file:read, scope: {}}, {tool: file:delete, scope: {}}]\ngates: [{action: file:delete, approval: human}]\n"
	const agents = 6
	sessions := make([]string, agents)
	for i := range sessions {
		m, code, err := post("/v1/sessions", map[string]any{"policy": policy})
		if err != nil || code != 201 {
			t.Fatalf("create session: %d %v %v", code, m, err)
		}
		sessions[i] = m["data"].(map[string]any)["id"].(string)
	}

	// Load: each agent evaluates in a loop; every third action is gated
	// and approved. Acknowledged results are kept.
	var mu sync.Mutex
	acked := map[string][]string{}  // session → action ids acknowledged
	approved := map[string]string{} // approval id → session
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, sid := range sessions {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				tool := "file:read"
				if i%3 == 0 {
					tool = "file:delete"
				}
				m, code, err := post("/v1/sessions/"+sid+"/evaluate", map[string]any{"tool": tool, "input": map[string]any{"path": fmt.Sprintf("f%d", i)}})
				if err != nil || code != 200 {
					return // the server is gone
				}
				data := m["data"].(map[string]any)
				mu.Lock()
				acked[sid] = append(acked[sid], data["actionId"].(string))
				mu.Unlock()
				if id, ok := data["approvalId"].(string); ok && data["decision"] == "gate" {
					if _, code, err := post("/v1/approvals/"+id+"/approve", map[string]any{}); err == nil && code == 200 {
						mu.Lock()
						approved[id] = sid
						mu.Unlock()
					}
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	server.Process.Signal(syscall.SIGKILL)
	server.Wait()
	stop()
	wg.Wait()

	total := 0
	for _, ids := range acked {
		total += len(ids)
	}
	if total == 0 || len(approved) == 0 {
		t.Fatalf("no load reached the server before the kill (%d actions, %d approvals)", total, len(approved))
	}

	// Everything acknowledged is in the database.
	in, err := openInstance(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for sid, ids := range acked {
		rep, err := in.Gateway.Report(context.Background(), sid, true)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, a := range rep.Actions {
			have[a.ID] = true
		}
		for _, id := range ids {
			if !have[id] {
				t.Errorf("session %s lost acknowledged action %s", sid, id)
			}
		}
		if rep.TotalActions != len(rep.Actions) {
			t.Errorf("session %s: counters say %d actions, %d stored", sid, rep.TotalActions, len(rep.Actions))
		}
	}
	for id := range approved {
		a, err := in.Gateway.Approval(context.Background(), id)
		if err != nil || (a.State != gateway.Approved && a.State != gateway.Consumed) {
			t.Errorf("acknowledged approval %s: %+v %v", id, a, err)
		}
	}
	in.Close()

	// The restarted server continues the sessions, and the ledger verifies.
	server = start()
	defer func() { server.Process.Signal(syscall.SIGTERM); server.Wait() }()
	if m, code, err := post("/v1/sessions/"+sessions[0]+"/evaluate", map[string]any{"tool": "file:read", "input": map[string]any{"path": "after"}}); err != nil || code != 200 {
		t.Fatalf("evaluate after restart: %d %v %v", code, m, err)
	}
	for _, sid := range sessions {
		if out, code := run(t, "ledger", "export", "--session", sid, "-o", sid+".jsonl"); code != ExitOK {
			t.Fatalf("export %s: %s", sid, out)
		}
		if out, code := run(t, "verify", sid+".jsonl"); code != ExitOK {
			t.Errorf("ledger of %s does not verify after the crash:\n%s", sid, out)
		}
	}
	t.Logf("%d acknowledged actions and %d approvals survived a SIGKILL", total, len(approved))
}

package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// The test binary doubles as a helper process: with helperEnv set, TestMain
// runs the named helper instead of the tests.
const (
	helperEnv   = "WARDEN_SQLITE_TEST_HELPER"
	helperDB    = "WARDEN_SQLITE_TEST_DB"
	helperCount = "WARDEN_SQLITE_TEST_COUNT"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, os.Getenv(helperDB), os.Getenv(helperCount)); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper runs in the helper process.
//
//   - "append" prints "ready", then appends count entries to session
//     "child" with appendPaced.
//   - "appendfunc" prints "ready", then appends count entries to session
//     "child" one by one with AppendFunc, as fast as it can.
//   - "crash" appends batches of 1 to 4 entries over three sessions until
//     killed, and prints "index hash" for each entry once Append has
//     returned, that is, once the entry is acknowledged as durable.
func runHelper(mode, path, count string) error {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	st := sqlite.NewLedgerStore(db)
	switch mode {
	case "append":
		n, err := strconv.Atoi(count)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		return appendPaced(ctx, st, "child", n)
	case "appendfunc":
		n, err := strconv.Atoi(count)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		_, err = appendRecordsFunc(ctx, st, nil) // warm up: an empty batch
		for k := 0; err == nil && k < n; k++ {
			_, err = appendRecordsFunc(ctx, st, []record{{"child", k}})
		}
		return err
	case "crash":
		for i := 0; ; i++ {
			rs := make([]record, 1+i%4)
			for j := range rs {
				rs[j] = record{sessionName((i + j) % 3), i}
			}
			es, err := appendRecords(ctx, st, rs)
			if err != nil {
				return err
			}
			var b strings.Builder
			for _, e := range es {
				fmt.Fprintf(&b, "%d %s\n", e.Index, e.Hash)
			}
			os.Stdout.WriteString(b.String())
		}
	default:
		return fmt.Errorf("unknown helper %q", mode)
	}
}

// appendPaced appends n entries to a session in batches of 1 to 3, pausing
// up to 0.75 ms between batches. Without pauses one writer tends to hold the
// write lock back to back while the other sleeps in SQLite's busy handler,
// and the two would barely interleave.
func appendPaced(ctx context.Context, st ledger.Store, session string, n int) error {
	for k := 0; k < n; {
		b := min(1+k%3, n-k)
		if _, err := appendRecords(ctx, st, sessionRecords(session, k, b)); err != nil {
			return err
		}
		k += b
		time.Sleep(time.Duration(k%4) * 250 * time.Microsecond)
	}
	return nil
}

// startHelper starts the test binary as a helper process and returns it with
// its standard output.
func startHelper(t *testing.T, mode, path string, count int) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDB+"="+path, helperCount+"="+strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, bufio.NewReader(out)
}

// TestLedgerTwoProcesses appends from this process and a helper process at
// the same time: WAL and the busy timeout let both write, and the IMMEDIATE
// transactions keep the tree's order total.
func TestLedgerTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	st := sqlite.NewLedgerStore(mustOpen(t, path))
	const each = 200
	cmd, out := startHelper(t, "append", path, each)
	if line, err := out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if err := appendPaced(ctx, st, "parent", each); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	es := checkLedger(t, st)
	if diff := cmp.Diff(map[string]int{"parent": each, "child": each}, countSessions(es)); diff != "" {
		t.Errorf("entries per session (-want +got):\n%s", diff)
	}
	// Both writers really interleaved: the sessions alternate somewhere.
	switches := 0
	for i := 1; i < len(es); i++ {
		if es[i].SessionID != es[i-1].SessionID {
			switches++
		}
	}
	t.Logf("the writers took turns %d times", switches)
}

// TestLedgerAppendFuncTwoProcesses appends as fast as possible from this
// process and a helper process through AppendFunc: the batches are built
// under the write lock, so no append may fail, not even with a conflict.
func TestLedgerAppendFuncTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	st := sqlite.NewLedgerStore(mustOpen(t, path))
	const each = 150
	cmd, out := startHelper(t, "appendfunc", path, each)
	if line, err := out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	for k := range each {
		if _, err := appendRecordsFunc(ctx, st, []record{{"parent", k}}); err != nil {
			t.Fatal(err)
		}
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	es := checkLedger(t, st)
	if diff := cmp.Diff(map[string]int{"parent": each, "child": each}, countSessions(es)); diff != "" {
		t.Errorf("entries per session (-want +got):\n%s", diff)
	}
}

// TestLedgerCrash kills a process that appends in a loop with SIGKILL, twice,
// and checks after each kill that every entry it acknowledged is stored, the
// indexes are dense and the stored tree hashes match the entries.
func TestLedgerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a helper process after a second of appending")
	}
	path := filepath.Join(t.TempDir(), "warden.db")
	acked := map[int64]string{}
	for round := range 2 {
		cmd, out := startHelper(t, "crash", path, 0)
		lines := make(chan string)
		go func() {
			defer close(lines)
			for {
				line, err := out.ReadString('\n')
				if err != nil { // a line cut short by the kill is not acknowledged
					return
				}
				lines <- line
			}
		}()
		kill := time.After(time.Second)
		n := 0
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				var idx int64
				var hash string
				if _, err := fmt.Sscanf(line, "%d %s\n", &idx, &hash); err != nil {
					t.Fatalf("helper printed %q: %v", line, err)
				}
				acked[idx] = hash
				n++
			case <-kill:
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				kill = nil
			}
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: helper ended with %v, want killed by SIGKILL", round, err)
		}
		if n == 0 {
			t.Fatalf("round %d: helper acknowledged no entry before it was killed", round)
		}

		db := mustOpen(t, path)
		es := checkLedger(t, sqlite.NewLedgerStore(db))
		for idx, hash := range acked {
			if idx >= int64(len(es)) {
				t.Fatalf("round %d: acknowledged entry %d lost (tree size %d)", round, idx, len(es))
			}
			if es[idx].Hash != hash {
				t.Fatalf("round %d: entry %d has hash %s, acknowledged %s", round, idx, es[idx].Hash, hash)
			}
		}
		t.Logf("round %d: %d entries acknowledged, tree size %d", round, n, len(es))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

var _ ledger.Store = (*sqlite.LedgerStore)(nil)

package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/ledger"
)

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := Main(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &out})
	return out.String(), code
}

// writeExport records a small session with a ledger signed by the local
// instance key and exports it.
func writeExport(t *testing.T, dir string) string {
	t.Helper()
	signer, err := ledger.LoadOrCreateKey(filepath.Join(dir, LocalSigningKey), "warden")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ledger.New(ledger.NewMemStore(), signer, ledger.Options{})
	for _, rec := range []struct {
		typ  string
		data map[string]any
	}{
		{"session:start", map[string]any{"policy": "demo"}},
		{"action:evaluate", map[string]any{"actionId": "a1", "tool": "file:read", "verdict": "allow", "input": map[string]any{"path": "src/a.ts"}}},
		{"action:evaluate", map[string]any{"actionId": "a2", "tool": "file:read", "verdict": "deny", "input": map[string]any{"path": ".env"}}},
		{"action:result", map[string]any{"actionId": "a1", "success": true}},
		{"session:terminate", map[string]any{"reason": "done"}},
	} {
		if _, err := l.Append(ctx, "s1", rec.typ, rec.data); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, "s1"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s1.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeDetACP writes a session ledger the way det-acp hashes it:
// sha256("seq|ts|prev|type|JSON.stringify(data)").
func writeDetACP(t *testing.T, dir string) string {
	t.Helper()
	prev := "sha256:" + strings.Repeat("0", 64)
	var b strings.Builder
	for i, rec := range []struct{ typ, data string }{
		{"session:start", `{"policy":"demo","version":"1.0"}`},
		{"action:evaluate", `{"actionId":"x1","actionIndex":0,"tool":"file:read","verdict":"allow","reasons":["Action permitted by policy"]}`},
		{"session:terminate", `{"reason":"ok","totalActions":1,"allowed":1,"denied":0,"gated":0,"durationMs":5}`},
	} {
		seq := i + 1
		ts := fmt.Sprintf("2026-11-22T01:53:5%d.674Z", i)
		data, err := canon.JSStringify([]byte(rec.data))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(fmt.Sprintf("%d|%s|%s|%s|%s", seq, ts, prev, rec.typ, data)))
		hash := "sha256:" + hex.EncodeToString(sum[:])
		fmt.Fprintf(&b, `{"seq":%d,"ts":%q,"hash":%q,"prev":%q,"sessionId":"detacp-1","type":%q,"data":%s}`+"\n", seq, ts, hash, prev, rec.typ, data)
		prev = hash
	}
	path := filepath.Join(dir, "detacp.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyAndReport(t *testing.T) {
	dir := t.TempDir()
	export := writeExport(t, dir)
	detacp := writeDetACP(t, dir)
	t.Chdir(dir)

	out, code := run(t, "verify", export)
	if code != ExitOK || !strings.Contains(out, "VALID warden-export, session s1, 5 entries") || strings.Contains(out, "FAIL") {
		t.Fatalf("verify export: exit %d\n%s", code, out)
	}
	out, code = run(t, "verify", "--json", detacp)
	var rep ledger.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK || !rep.Valid || rep.Kind != ledger.KindDetACP || len(rep.Warnings) == 0 {
		t.Fatalf("verify det-acp: exit %d, %v\n%s", code, err, out)
	}

	// Tampering: an edited value, and a removed tail.
	raw, _ := os.ReadFile(export)
	edited := strings.Replace(string(raw), `src/a.ts`, `src/b.ts`, 1)
	os.WriteFile("edited.jsonl", []byte(edited), 0o644)
	if out, code := run(t, "verify", "edited.jsonl"); code != ExitFailure || !strings.Contains(out, "FAIL") {
		t.Errorf("an edited entry verified: exit %d\n%s", code, out)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	truncated := strings.Join(append(lines[:3:3], lines[len(lines)-2]), "")
	os.WriteFile("truncated.jsonl", []byte(truncated), 0o644)
	if out, code := run(t, "verify", "truncated.jsonl"); code != ExitFailure || !strings.Contains(out, "FAIL") {
		t.Errorf("a truncated export verified: exit %d\n%s", code, out)
	}
	// Another key is not trusted.
	_, _, vkey, err := ledger.GenerateSigner("other")
	if err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, "verify", "--key", vkey, export); code != ExitFailure || !strings.Contains(out, "FAIL") {
		t.Errorf("an untrusted signature verified: exit %d\n%s", code, out)
	}
	if out, code := run(t, "verify", "--key", "nonsense", export); code != ExitFailure || !strings.Contains(out, "not a verifier key") {
		t.Errorf("a bad --key: exit %d\n%s", code, out)
	}
	if out, code := run(t, "verify", "missing.jsonl"); code != ExitFailure || !strings.Contains(out, "missing.jsonl") {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}

	out, code = run(t, "report", export)
	for _, want := range []string{"Session s1: 5 entries", "actions evaluated 2: allowed 1, denied 1, gated 0", "terminated: done"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("report: exit %d, want %q in\n%s", code, want, out)
		}
	}
	out, code = run(t, "report", "--json", detacp)
	if code != ExitOK || !strings.Contains(out, `"actionsAllowed": 1`) {
		t.Errorf("report det-acp: exit %d\n%s", code, out)
	}
}

// TestVerifyExchangeDocuments: warden verify checks nexus-control's own
// bundle and audit package, names the check an edit breaks, and holds a
// Warden package's signature to the trusted key.
func TestVerifyExchangeDocuments(t *testing.T) {
	fixtures, err := filepath.Abs("../nexus/testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, name := range []string{"golden/bundle-d-1.json", "golden/audit-d-1-reference.json"} {
		out, code := run(t, "verify", filepath.Join(fixtures, name))
		if code != 0 || !strings.Contains(out, ": VALID ") || strings.Contains(out, "FAIL") {
			t.Errorf("%s: exit %d\n%s", name, code, out)
		}
	}

	// An edited goal breaks the digests that cover it, by name.
	src, err := os.ReadFile(filepath.Join(fixtures, "golden/bundle-d-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	events := doc["events"].([]any)
	payload := events[0].(map[string]any)["payload"].(map[string]any)
	payload["goal"] = "something else"
	edited, _ := json.Marshal(doc)
	path := filepath.Join(dir, "edited.json")
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "verify", path)
	if code != ExitFailure || !strings.Contains(out, "INVALID decision bundle") || !strings.Contains(out, "FAIL event_digests") {
		t.Errorf("edited bundle: exit %d\n%s", code, out)
	}
	out, code = run(t, "verify", "--json", path)
	if code != ExitFailure || !strings.Contains(out, `"ok": false`) {
		t.Errorf("edited bundle as JSON: exit %d\n%s", code, out)
	}

	// A signed package needs the signer's key: another key fails the
	// signature check.
	_, _, vkey, err := ledger.GenerateSigner("someone-else")
	if err != nil {
		t.Fatal(err)
	}
	out, code = run(t, "verify", "--key", vkey, filepath.Join(fixtures, "warden/audit-d-1-signed.json"))
	if code != ExitFailure || !strings.Contains(out, "FAIL warden_signature") {
		t.Errorf("signed package under another key: exit %d\n%s", code, out)
	}
}

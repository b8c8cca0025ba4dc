package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// The ledger routes over a real SQLite store with a signed ledger.
func TestLedgerRoutes(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "warden.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	signer, vkey, err := newSigner()
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(sqlite.NewLedgerStore(db), signer, ledger.Options{})
	e := newEnv(t, func(c *httpapi.Config) {
		c.Gateway = gateway.New(gateway.Config{Store: sqlite.NewGatewayStore(db, l)})
		c.Ledger = l
	})
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "data", "id")
	for _, p := range []string{"/data/a.txt", "/etc/passwd"} {
		e.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: e.agent(),
			body: map[string]any{"tool": "file:read", "input": map[string]any{"path": p}}})
	}

	all := e.must(200, request{method: "GET", path: "/sessions/" + sid + "/ledger", token: e.agent()})
	if get(all, "total") != float64(3) || get(all, "returned") != float64(3) {
		t.Fatalf("ledger: %v", all)
	}
	some := e.must(200, request{method: "GET", path: "/sessions/" + sid + "/ledger?types=action:evaluate&limit=1&offset=1", token: e.agent()})
	if get(some, "returned") != float64(1) {
		t.Fatalf("filtered ledger: %v", some)
	}
	sum := e.must(200, request{method: "GET", path: "/sessions/" + sid + "/ledger/summary", token: e.agent()})
	if get(sum, "summary", "actionsAllowed") != float64(1) || get(sum, "summary", "actionsDenied") != float64(1) {
		t.Fatalf("summary: %v", sum)
	}
	ver := e.must(200, request{method: "GET", path: "/sessions/" + sid + "/ledger/verify", token: e.agent()})
	if get(ver, "integrity", "valid") != true || get(ver, "integrity", "lastSeq") != float64(3) {
		t.Fatalf("verify: %v", ver)
	}
	// Another agent cannot read this session's ledger.
	e.must(404, request{method: "GET", path: "/sessions/" + sid + "/ledger", token: e.agent2()})

	v1 := e.must(200, request{method: "GET", path: "/v1/sessions/" + sid + "/ledger", token: e.admin()})
	if get(v1, "data", "total") != float64(3) {
		t.Fatalf("v1 ledger: %v", v1)
	}
	cp := e.must(200, request{method: "GET", path: "/v1/ledger/checkpoint", token: e.admin()})
	c, err := ledger.OpenCheckpoint([]byte(str(cp, "data", "note")), []string{vkey})
	if err != nil || c.Size != 3 {
		t.Fatalf("checkpoint %v: %v", cp, err)
	}
	pr := e.must(200, request{method: "GET", path: "/v1/ledger/proof?index=1&size=3", token: e.admin()})
	var proof tlog.RecordProof
	for _, h := range get(pr, "data", "proof").([]any) {
		b, _ := base64.StdEncoding.DecodeString(h.(string))
		var x tlog.Hash
		copy(x[:], b)
		proof = append(proof, x)
	}
	entry, err := l.Store().EntryAt(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := entry.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.CheckInclusion(proof, 3, c.Root, 1, leaf); err != nil {
		t.Fatalf("the served proof does not verify: %v", err)
	}
	e.must(400, request{method: "GET", path: "/v1/ledger/proof?index=9", token: e.admin()})
	e.must(400, request{method: "GET", path: "/v1/ledger/proof", token: e.admin()})

	// The export: the very bytes Ledger.Export writes, which verify with
	// the server's key, for the session's owner and for admins only.
	var want bytes.Buffer
	if err := l.Export(context.Background(), &want, sid); err != nil {
		t.Fatal(err)
	}
	res := e.send(request{method: "GET", path: "/v1/sessions/" + sid + "/ledger/export", token: e.agent()})
	if res.status != 200 || res.header.Get("Content-Type") != "application/x-ndjson" || !bytes.Equal(res.raw, want.Bytes()) {
		t.Fatalf("export: %d %s\n%s\nwant\n%s", res.status, res.header.Get("Content-Type"), res.raw, want.Bytes())
	}
	if rep := ledger.Verify(bytes.NewReader(res.raw), ledger.VerifyOptions{Keys: []string{vkey}}); !rep.Valid || rep.Kind != ledger.KindExport || rep.Entries != 3 {
		t.Fatalf("the served export does not verify: %+v", rep)
	}
	if res := e.send(request{method: "GET", path: "/v1/sessions/" + sid + "/ledger/export", token: e.admin()}); res.status != 200 {
		t.Fatalf("admin export: %d %s", res.status, res.raw)
	}
	for _, rq := range []request{
		{method: "GET", path: "/v1/sessions/" + sid + "/ledger/export", token: e.agent2()},
		{method: "GET", path: "/v1/sessions/nope/ledger/export", token: e.admin()},
	} {
		if res := e.send(rq); res.status != 404 || codeOf(res) != "NOT_FOUND" || !strings.Contains(messageOf(res), "not found") {
			t.Errorf("%s: %d %s", rq.path, res.status, res.raw)
		}
	}
}

func TestLedgerRoutesWithoutLedger(t *testing.T) {
	e := newEnv(t)
	e.must(404, request{method: "GET", path: "/v1/ledger/checkpoint", token: e.admin()})
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	res := e.send(request{method: "GET", path: "/v1/sessions/" + str(s, "data", "id") + "/ledger/export", token: e.agent()})
	if res.status != 404 || !strings.Contains(messageOf(res), "keeps no ledger") {
		t.Errorf("export without a ledger: %d %s", res.status, res.raw)
	}
}

// A ledger that does not sign cannot export or checkpoint: NOT_FOUND, not
// a 500; a signed ledger without the session's entries, or without any,
// says so.
func TestLedgerExportRefuses(t *testing.T) {
	unsigned := ledger.New(ledger.NewMemStore(), nil, ledger.Options{})
	e := newEnv(t, func(c *httpapi.Config) { c.Ledger = unsigned })
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "data", "id")
	for _, p := range []string{"/v1/sessions/" + sid + "/ledger/export", "/v1/ledger/checkpoint"} {
		if res := e.send(request{method: "GET", path: p, token: e.admin()}); res.status != 404 || !strings.Contains(messageOf(res), "does not sign") {
			t.Errorf("%s: %d %s", p, res.status, res.raw)
		}
	}

	signer, _, err := newSigner()
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's MemStore writes no ledger entries to this ledger.
	e = newEnv(t, func(c *httpapi.Config) { c.Ledger = ledger.New(ledger.NewMemStore(), signer, ledger.Options{}) })
	s = e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(), body: map[string]any{"policy": suitePolicy}})
	sid = str(s, "data", "id")
	res := e.send(request{method: "GET", path: "/v1/sessions/" + sid + "/ledger/export", token: e.agent()})
	if res.status != 404 || codeOf(res) != "NOT_FOUND" || !strings.Contains(messageOf(res), "has no ledger entries") {
		t.Errorf("export of a session without entries: %d %s", res.status, res.raw)
	}
	// The same empty ledger has nothing to checkpoint.
	res = e.send(request{method: "GET", path: "/v1/ledger/checkpoint", token: e.agent()})
	if res.status != 404 || codeOf(res) != "NOT_FOUND" || !strings.Contains(messageOf(res), "the ledger is empty") {
		t.Errorf("checkpoint of an empty ledger: %d %s", res.status, res.raw)
	}
}

func newSigner() (*ledger.Signer, string, error) {
	s, _, vkey, err := ledger.GenerateSigner("test")
	return s, vkey, err
}

package ledger

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/canon"
)

var testTime = time.Date(2026, 11, 22, 1, 53, 51, 674_900_000, time.UTC)

func TestNewEntryHash(t *testing.T) {
	data := map[string]any{"z": "</script> é ☃", "a": []any{1, 0.5, nil}, "10": true, "2": "x"}
	e, err := NewEntry("sess-1", "action:evaluate", 3, canon.Digest([]byte("prev")), testTime, data)
	if err != nil {
		t.Fatal(err)
	}
	// The hash is the digest of the RFC 8785 form of the entry without
	// "hash", computed here through a generic map.
	without := map[string]any{
		"seq": 3, "ts": "2026-11-22T01:53:51.674Z", "prev": canon.Digest([]byte("prev")),
		"sessionId": "sess-1", "type": "action:evaluate", "data": data,
	}
	wantHash, err := canon.DigestJSON(without)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{
		Seq: 3, TS: "2026-11-22T01:53:51.674Z", Hash: wantHash, Prev: canon.Digest([]byte("prev")),
		SessionID: "sess-1", Type: "action:evaluate",
		Data: json.RawMessage(`{"10":true,"2":"x","a":[1,0.5,null],"z":"</script> é ☃"}`),
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Fatalf("NewEntry mismatch (-want +got):\n%s", diff)
	}
	if err := e.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The leaf is the RFC 8785 form of the whole entry.
	without["hash"] = wantHash
	wantLeaf, err := canon.Marshal(without)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := e.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(wantLeaf), string(leaf)); diff != "" {
		t.Fatalf("Leaf mismatch (-want +got):\n%s", diff)
	}
	lh, err := e.LeafHash()
	if err != nil || lh != tlog.RecordHash(wantLeaf) {
		t.Fatalf("LeafHash = %v, %v", lh, err)
	}
	// The file line keeps det-acp's key order and parses back.
	line := string(e.AppendLine(nil))
	wantLine := `{"seq":3,"ts":"2026-11-22T01:53:51.674Z","hash":"` + wantHash + `","prev":"` + e.Prev +
		`","sessionId":"sess-1","type":"action:evaluate","data":{"10":true,"2":"x","a":[1,0.5,null],"z":"</script> é ☃"}}`
	if diff := cmp.Diff(wantLine, line); diff != "" {
		t.Fatalf("AppendLine mismatch (-want +got):\n%s", diff)
	}
	raw, err := parseEntryLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	back := Entry{Seq: raw.seq, TS: raw.ts, Hash: raw.hash, Prev: raw.prev, SessionID: raw.sessionID, Type: raw.typ, Data: raw.data}
	if diff := cmp.Diff(e, back); diff != "" {
		t.Fatalf("line round trip (-want +got):\n%s", diff)
	}
}

func TestEntryVerifyDetectsEdits(t *testing.T) {
	base, err := NewEntry("s", "action:result", 2, canon.Digest(nil), testTime, map[string]any{"success": true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(e *Entry)
	}{
		{"seq", func(e *Entry) { e.Seq = 3 }},
		{"ts", func(e *Entry) { e.TS = "2026-11-22T01:53:51.675Z" }},
		{"prev", func(e *Entry) { e.Prev = canon.Digest([]byte("x")) }},
		{"sessionId", func(e *Entry) { e.SessionID = "t" }},
		{"type", func(e *Entry) { e.Type = "action:evaluate" }},
		{"data", func(e *Entry) { e.Data = json.RawMessage(`{"success":false}`) }},
		{"hash", func(e *Entry) { e.Hash = canon.Digest([]byte("forged")) }},
		{"hash form", func(e *Entry) { e.Hash = strings.ToUpper(e.Hash) }},
		{"data not json", func(e *Entry) { e.Data = json.RawMessage(`{`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.edit(&e)
			if err := e.Verify(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify after editing %s = %v; want ErrInvalid", tt.name, err)
			}
			if _, err := e.Leaf(); err == nil {
				t.Fatal("Leaf of an edited entry succeeded")
			}
		})
	}
	// Non-canonical but equivalent data still verifies: the hash covers
	// the canonical form.
	e := base
	e.Data = json.RawMessage(`{ "success" : true }`)
	if err := e.Verify(); err != nil {
		t.Fatalf("Verify with reformatted data: %v", err)
	}
}

func TestNewEntryRejects(t *testing.T) {
	g := Genesis
	tests := []struct {
		name      string
		sessionID string
		typ       string
		seq       int64
		prev      string
		ts        time.Time
		data      any
	}{
		{"empty session", "", "t", 1, g, testTime, 1},
		{"control char in session", "a\nb", "t", 1, g, testTime, 1},
		{"C1 control in type", "s", "a\u0085", 1, g, testTime, 1},
		{"long session", strings.Repeat("s", MaxSessionIDLen+1), "t", 1, g, testTime, 1},
		{"invalid utf-8 session", "\xff", "t", 1, g, testTime, 1},
		{"empty type", "s", "", 1, g, testTime, 1},
		{"long type", "s", strings.Repeat("t", MaxTypeLen+1), 1, g, testTime, 1},
		{"seq 0", "s", "t", 0, g, testTime, 1},
		{"seq beyond 2^53", "s", "t", MaxSeq + 1, canon.Digest(nil), testTime, 1},
		{"seq 1 without genesis", "s", "t", 1, canon.Digest(nil), testTime, 1},
		{"bad prev", "s", "t", 2, "sha256:xyz", testTime, 1},
		{"year 10000", "s", "t", 1, g, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		{"negative year", "s", "t", 1, g, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		{"big integer data", "s", "t", 1, g, testTime, map[string]any{"id": uint64(1) << 60}},
		{"unmarshalable data", "s", "t", 1, g, testTime, func() {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := NewEntry(tt.sessionID, tt.typ, tt.seq, tt.prev, tt.ts, tt.data); !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewEntry = %+v, %v; want ErrInvalid", e, err)
			}
		})
	}
}

func TestTimeFormat(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{testTime, "2026-11-22T01:53:51.674Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), "2026-01-02T02:04:05.000Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 999_999, time.UTC), "0001-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		got, err := FormatTime(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("FormatTime(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		back, err := ParseTime(got)
		if err != nil || !back.Equal(tt.in.Truncate(time.Millisecond)) {
			t.Errorf("ParseTime(%q) = %v, %v", got, back, err)
		}
	}
	for _, bad := range []string{"", "2026-11-22T01:53:51Z", "2026-11-22T01:53:51.67Z", "2026-11-22 01:53:51.674Z",
		"2026-11-22T01:53:51.674+00:00", "2026-13-22T01:53:51.674Z", "2026-02-30T01:53:51.674Z", "２026-11-22T01:53:51.674Z"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) succeeded", bad)
		}
	}
}

func TestParseEntryLine(t *testing.T) {
	e, err := NewEntry("s", "t", 1, Genesis, testTime, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	good := string(e.AppendLine(nil))
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"as written", good, true},
		{"whitespace", " " + strings.ReplaceAll(good, `,"`, ` , "`) + "\t", true},
		{"escaped string value", strings.Replace(good, `"sessionId":"s"`, `"sessionId":"\u0073"`, 1), true},
		{"escaped key", strings.Replace(good, `"sessionId"`, `"session\u0049d"`, 1), false},
		{"lone surrogate value", strings.Replace(good, `"type":"t"`, `"type":"\ud800"`, 1), false},
		{"duplicate key", strings.Replace(good, `{"seq":1,`, `{"seq":1,"seq":1,`, 1), false},
		{"unknown key", strings.Replace(good, `{"seq":1,`, `{"seq":1,"extra":1,`, 1), false},
		{"missing key", strings.Replace(good, `"type":"t",`, ``, 1), false},
		{"seq float", strings.Replace(good, `"seq":1,`, `"seq":1.0,`, 1), false},
		{"seq string", strings.Replace(good, `"seq":1,`, `"seq":"1",`, 1), false},
		{"seq zero", strings.Replace(good, `"seq":1,`, `"seq":0,`, 1), false},
		{"seq leading zero", strings.Replace(good, `"seq":1,`, `"seq":01,`, 1), false},
		{"seq too big", strings.Replace(good, `"seq":1,`, `"seq":9007199254740993,`, 1), false},
		{"ts number", strings.Replace(good, `"ts":"2026-11-22T01:53:51.674Z"`, `"ts":1`, 1), false},
		{"bad ts", strings.Replace(good, `.674Z`, `.674`, 1), false},
		{"bad hash", strings.Replace(good, `"hash":"sha256:`, `"hash":"sha1:`, 1), false},
		{"trailing data", good + "x", false},
		{"array", "[" + good + "]", false},
		{"unterminated", good[:len(good)-1], false},
		{"invalid utf-8", strings.Replace(good, `"v"`, "\"\xff\"", 1), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseEntryLine([]byte(tt.line))
			if (err == nil) != tt.ok {
				t.Fatalf("parseEntryLine(%q) error = %v, want ok=%v", tt.line, err, tt.ok)
			}
		})
	}
}

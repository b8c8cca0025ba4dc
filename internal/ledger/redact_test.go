package ledger

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactKeys(t *testing.T) {
	in := map[string]any{
		"password": "hunter2", "DB_PASSWORD": "x", "passwd": 1, "Secret": map[string]any{"a": 1},
		"token": "t", "access_token": "t", "csrfToken": "t", "max_tokens": 100, "token_count": 5,
		"api_key": "k", "apiKey": "k", "X-Api-Key": "k", "APIKey": "k", "apikey": "k",
		"access_key": "k", "AWS_SECRET_ACCESS_KEY": "k", "private_key": "k", "privateKeyId": "id",
		"credentials": []any{"c"}, "credential": "c", "Authorization": "Basic abc", "cookie": "c",
		"Set-Cookie": "c", "session_key": "k", "client_secret": "k", "sessionId": "keep",
		"path": "/etc/passwd", "nested": []any{map[string]any{"password": "p", "ok": "fine"}},
		"ssn": "123", "note": "plain",
	}
	got := Redact(in, RedactOptions{Keys: []string{"S.S.N"}})
	want := map[string]any{
		"password": Redacted, "DB_PASSWORD": Redacted, "passwd": Redacted, "Secret": Redacted,
		"token": Redacted, "access_token": Redacted, "csrfToken": Redacted, "max_tokens": 100, "token_count": 5,
		"api_key": Redacted, "apiKey": Redacted, "X-Api-Key": Redacted, "APIKey": Redacted, "apikey": Redacted,
		"access_key": Redacted, "AWS_SECRET_ACCESS_KEY": Redacted, "private_key": Redacted, "privateKeyId": "id",
		"credentials": Redacted, "credential": Redacted, "Authorization": Redacted, "cookie": Redacted,
		"Set-Cookie": Redacted, "session_key": Redacted, "client_secret": Redacted, "sessionId": "keep",
		"path": "/etc/passwd", "nested": []any{map[string]any{"password": Redacted, "ok": "fine"}},
		"ssn": Redacted, "note": "plain",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Redact mismatch (-want +got):\n%s", diff)
	}
	// The input is not modified.
	if in["password"] != "hunter2" || in["nested"].([]any)[0].(map[string]any)["password"] != "p" {
		t.Fatal("Redact modified its input")
	}
}

func TestRedactPatterns(t *testing.T) {
	pem := "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"aws key id", "id=AKIAIOSFODNN7EXAMPLE rest", "id=[REDACTED] rest"},
		{"not an aws key", "AKIA1234", "AKIA1234"},
		{"pem block", "before\n" + pem + "\nafter", "before\n[REDACTED]\nafter"},
		{"truncated pem", "x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "x [REDACTED]"},
		{"public key kept", "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"},
		{"github classic", "token ghp_" + strings.Repeat("a", 36) + " end", "token [REDACTED] end"},
		{"github fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF", "[REDACTED]"},
		{"slack", "xoxb-123456789012-abcdefABCDEF", "[REDACTED]"},
		{"authorization header", "curl -H 'Authorization: Bearer abc.def-ghi' x", "curl -H 'Authorization: Bearer [REDACTED]' x"},
		{"authorization json-ish", `{"authorization":"token s3cr3t"}`, `{"authorization":"token [REDACTED]"}`},
		{"bearer elsewhere", "Bearer abcdefghijklmnopqrstuvwxyz012345", "Bearer [REDACTED]"},
		{"bearer prose kept", "the Bearer of this note", "the Bearer of this note"},
		{"jwt", "jwt=" + jwt + ";", "jwt=[REDACTED];"},
		{"plain text kept", "ls -la /tmp && echo ok", "ls -la /tmp && echo ok"},
		{"two secrets", "AKIAIOSFODNN7EXAMPLE and AKIAIOSFODNN7EXAMPLF", "[REDACTED] and [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(map[string]any{"v": tt.in}, RedactOptions{})
			if diff := cmp.Diff(map[string]any{"v": tt.want}, got); diff != "" {
				t.Errorf("Redact(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRedactOptions(t *testing.T) {
	custom := regexp.MustCompile(`acct-(?P<secret>\d+)`)
	whole := regexp.MustCompile(`SSN \d{3}-\d{2}-\d{4}`)
	got := Redact([]any{"acct-12345", "SSN 123-45-6789!", map[string]any{"password": "x"}}, RedactOptions{Patterns: []*regexp.Regexp{custom, whole}})
	want := []any{"acct-[REDACTED]", "[REDACTED]!", map[string]any{"password": Redacted}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("custom patterns (-want +got):\n%s", diff)
	}

	in := map[string]any{"password": "x", "v": "AKIAIOSFODNN7EXAMPLE"}
	if diff := cmp.Diff(in, Redact(in, RedactOptions{Disabled: true})); diff != "" {
		t.Errorf("Disabled redacted something (-want +got):\n%s", diff)
	}

	// Typed values are converted to their JSON form first.
	type creds struct {
		User     string `json:"user"`
		Password string `json:"password"`
		Count    int64  `json:"count"`
	}
	got = Redact(creds{User: "u", Password: "p", Count: 7}, RedactOptions{})
	want2 := map[string]any{"user": "u", "password": Redacted, "count": json.Number("7")}
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("typed value (-want +got):\n%s", diff)
	}
	// Unconvertible and cyclic values fail closed.
	if got := Redact(func() {}, RedactOptions{}); got != Redacted {
		t.Errorf("Redact(func) = %v", got)
	}
	cyc := map[string]any{}
	cyc["self"] = cyc
	deep := Redact(cyc, RedactOptions{})
	for i := 0; i <= maxRedactDepth+1; i++ {
		m, ok := deep.(map[string]any)
		if !ok {
			break
		}
		deep = m["self"]
	}
	if deep != Redacted {
		t.Errorf("cyclic value not cut off: %T", deep)
	}
}

func TestAppendRedacts(t *testing.T) {
	ctx := context.Background()
	l := New(NewMemStore(), nil, Options{Redact: RedactOptions{Keys: []string{"ssn"}}})
	e, err := l.Append(ctx, "s", "action:evaluate", map[string]any{
		"input": map[string]any{"command": "curl -H 'Authorization: Bearer abcdef' https://x", "password": "p", "ssn": 1},
		"n":     12,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"input":{"command":"curl -H 'Authorization: Bearer [REDACTED]' https://x","password":"[REDACTED]","ssn":"[REDACTED]"},"n":12}`
	if diff := cmp.Diff(want, string(e.Data)); diff != "" {
		t.Fatalf("stored data (-want +got):\n%s", diff)
	}
	if err := e.Verify(); err != nil {
		t.Fatal(err)
	}
	// Nothing to redact: the canonical form is kept as is.
	e, err = l.Append(ctx, "s", "x", json.RawMessage(`{"b": 1, "a": [0.5, "</>"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"a":[0.5,"</>"],"b":1}`, string(e.Data)); diff != "" {
		t.Fatalf("stored data (-want +got):\n%s", diff)
	}
}

// TestBuiltinHints: every built-in pattern has its hint words, and the
// hints never hide a match: text that matches holds one of them.
func TestBuiltinHints(t *testing.T) {
	if len(builtinHints) != len(builtinPatterns) {
		t.Fatalf("%d hints for %d patterns", len(builtinHints), len(builtinPatterns))
	}
	for _, s := range []string{
		"-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
		"key AKIAABCDEFGHIJKLMNOP here", "ASIAABCDEFGHIJKLMNOP",
		"ghp_" + strings.Repeat("a", 36), "github_pat_" + strings.Repeat("b", 22),
		"xoxb-1234567890abc", `AUTHORIZATION: Basic dXNlcjpwYXNz`, "Bearer abcdefghijklmnopqrstuvwxyz",
		"eyJhbGciOi.eyJzdWIiOi.sig",
	} {
		for i, re := range builtinPatterns {
			if re.MatchString(s) && !mayHold(s, builtinHints[i]) {
				t.Errorf("pattern %d matches %q but its hints %v do not", i, s, builtinHints[i])
			}
		}
	}
}

package mcpproxy

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/policy"
)

// fuzzLookup knows a few variables, one of them holding "${" and "$$" so
// that expanded values are seen not to be expanded again.
func fuzzLookup(name string) (string, bool) {
	switch name {
	case "A":
		return "alpha", true
	case "EMPTY":
		return "", true
	case "TRICKY":
		return "${A}$$", true
	}
	return "", false
}

// FuzzParseConfig: any input gives a configuration or policy.Errors, never
// a panic, and an accepted configuration is one the proxy can use.
func FuzzParseConfig(f *testing.F) {
	seeds := []string{
		"",
		"policy: p.yaml\nbackends:\n  - name: fs\n    command: npx\n    args: [\"-y\", \"srv\", \".\"]\n",
		"policy: ./policies/coding-agent.yaml\nledger_dir: ./ledgers\nbackends:\n  - name: github\n    transport: stdio\n    command: npx\n    env:\n      GITHUB_TOKEN: \"${GITHUB_TOKEN}\"\ntransport: stdio\nport: 3101\nhost: localhost\nsession_metadata: {team: a}\n",
		"policy: p\nbackends:\n  - {name: w, transport: http, url: \"https://${A}/mcp\", headers: {Authorization: \"Bearer ${TRICKY}\"}}\n",
		"policy: p\nbackends:\n  - {name: s, transport: sse, url: http://h/sse}\ntransport: sse\nhost: \"::1\"\n",
		"policy: p\ndb: w.db\ndir: ..\ngate_wait: 90s\npublic_url: http://x/\nbackends: [{name: a, command: x, cwd: sub}]\n",
		"bakends: []\n",
		"policy: [1]\nport: x\n",
		"- a\n- b\n",
		"policy: &a x\nbackends: [{name: *a, command: *a}]\n",
		"policy: p\nbackends:\n  - name: a\n    command: x\n    env: {A: \"${\", B: \"${}\", C: \"$$\"}\n",
		"policy: p\nbackends: [{name: a, transport: http, command: x, url: ftp://}]\n",
		"policy: p\nport: 99999999999999999999\nbackends: [{name: a, command: x}]\n",
		"{",
		"policy: !!binary aGVsbG8=\n",
		"<<: {policy: p}\nbackends: [{name: a, command: x}]\n",
		"policy: \"\xff\x00\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := ParseConfig(src, "/fuzz/config.yaml", fuzzLookup)
		if err != nil {
			var errs policy.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v, want policy.Errors", err, err)
			}
			for _, e := range errs {
				if e == nil || e.Msg == "" || e.File != "/fuzz/config.yaml" || e.Line < 0 || e.Col < 0 {
					t.Fatalf("malformed error %#v", e)
				}
			}
			if c != nil {
				t.Fatal("a configuration and an error")
			}
			return
		}
		if c.Policy == "" || !strings.HasPrefix(c.Policy, "/") || !strings.HasPrefix(c.DB, "/") || !strings.HasPrefix(c.Dir, "/") {
			t.Fatalf("paths not absolute: %+v", c)
		}
		switch c.Transport {
		case TransportStdio, TransportHTTP, TransportSSE:
		default:
			t.Fatalf("transport %q accepted", c.Transport)
		}
		if len(c.Backends) == 0 {
			t.Fatal("no backends accepted")
		}
		seen := map[string]bool{}
		for _, b := range c.Backends {
			if seen[b.Name] || !backendName.MatchString(b.Name) || strings.Contains(b.Name, Separator) {
				t.Fatalf("backend name %q accepted", b.Name)
			}
			seen[b.Name] = true
			switch b.Transport {
			case TransportStdio:
				if b.Command == "" || b.URL != "" || !strings.HasPrefix(b.Cwd, "/") {
					t.Fatalf("stdio backend %+v accepted", b)
				}
			case TransportHTTP, TransportSSE:
				if b.URL == "" || b.Command != "" {
					t.Fatalf("%s backend %+v accepted", b.Transport, b)
				}
			default:
				t.Fatalf("backend transport %q accepted", b.Transport)
			}
			_ = b.ClientTransport(nil) // builds without starting anything
		}
		_ = c.Addr()
	})
}

// FuzzExpandVars: expansion never panics, drops no text outside the
// references, and a string without "$" is returned as it is.
func FuzzExpandVars(f *testing.F) {
	for _, s := range []string{"", "plain", "${A}", "$${A}", "$$", "$", "a$", "${", "${}", "${A", "${NOPE}", "x${A}y${EMPTY}z", "${TRICKY}", "$$$", "${A}}", "${${A}}", "héllo ${A} wörld", "\xff${A}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, missing, err := expandVars(s, fuzzLookup)
		if !strings.Contains(s, "$") {
			if out != s || missing != nil || err != nil {
				t.Fatalf("expandVars(%q) = %q, %v, %v", s, out, missing, err)
			}
			return
		}
		for _, m := range missing {
			if strings.Contains(m, "}") {
				t.Fatalf("missing name %q holds a }", m)
			}
			if !strings.Contains(s, "${"+m+"}") {
				t.Fatalf("missing name %q is not referenced in %q", m, s)
			}
		}
		// Without references, the output is the input with $$ halved.
		if !strings.Contains(s, "{") {
			if want := unescapeDollars(s); out != want {
				t.Fatalf("expandVars(%q) = %q, want %q", s, out, want)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("expandVars(%q) = %q: invalid UTF-8 from valid", s, out)
		}
	})
}

func unescapeDollars(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

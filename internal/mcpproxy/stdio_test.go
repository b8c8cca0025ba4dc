package mcpproxy

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMessageKinds(t *testing.T) {
	for _, tc := range []struct {
		line            string
		request, answer bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, true, false},
		{`{"method":"tools/call","params":{},"id":"a","jsonrpc":"2.0"}`, true, false},
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, false, false},
		{`{"jsonrpc":"2.0","id":null,"method":"x"}`, false, false},
		{`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"` + strings.Repeat("x", 100000) + `"}]}}`, false, true},
		{`{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no"}}`, false, true},
		{`{"result":{},"jsonrpc":"2.0","id":2}`, false, true},
		{`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1}}`, false, false},
		{`not json`, false, false},
		{``, false, false},
	} {
		got := [2]bool{isRequest([]byte(tc.line)), isAnswer([]byte(tc.line))}
		if diff := cmp.Diff([2]bool{tc.request, tc.answer}, got); diff != "" {
			t.Errorf("%.60s: %s", tc.line, diff)
		}
	}
}

// TestStdioAnswersBeforeEOF: an agent that writes its requests and closes
// its input still gets every answer, and the proxy then stops.
func TestStdioAnswersBeforeEOF(t *testing.T) {
	e := newEnv(t, envOpts{}, connectFake(t, newFake("fs")))
	in := strings.NewReader(strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_text_file","arguments":{"path":".env"}}}`,
	}, "\n") + "\n")
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- e.proxy.Run(context.Background(), StdioTransport(in, &out)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(DrainTimeout + 5*time.Second):
		t.Fatal("the proxy did not stop after its input ended")
	}
	got := out.String()
	for _, want := range []string{`"id":1,"result"`, `"id":2,"result"`, `fs:hi`, `"id":3,"result"`, `Action denied by policy`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if n := bytes.Count([]byte(got), []byte("\n")); n != 3 {
		t.Errorf("%d lines written, want 3 answers:\n%s", n, got)
	}
}

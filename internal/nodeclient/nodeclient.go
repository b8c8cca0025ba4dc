// Package nodeclient drives the official MCP TypeScript SDK client from Go
// tests: it starts e2e/client.mjs under Node against a server command or
// URL and exchanges JSON requests and answers with it. Tests use it to show
// that Warden works with independently written MCP software.
package nodeclient

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Dir is the directory holding client.mjs and its node_modules.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "e2e")
}

// Require skips the test when Node or the e2e packages are missing, saying
// what is missing and how to install it; under CI (CI=true) it fails
// instead, since CI installs them.
func Require(t testing.TB) {
	t.Helper()
	var missing string
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		missing = "the e2e npm packages are not installed (run: npm ci --prefix e2e)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("end-to-end test cannot run in CI: %s", missing)
	}
	t.Skipf("skipping the end-to-end test: %s", missing)
}

// Package returns the path of an installed npm package's directory, such as
// "@modelcontextprotocol/server-filesystem".
func Package(name string) string {
	return filepath.Join(Dir(), "node_modules", filepath.FromSlash(name))
}

// Message is one line from the client: an answer (ID set, Result or Error)
// or an event.
type Message struct {
	ID     int             `json:"id"`
	Event  string          `json:"event"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
		Code    any    `json:"code"`
	} `json:"error"`
	Params   json.RawMessage `json:"params"`
	MS       float64         `json:"ms"`
	Protocol string          `json:"protocol"`
}

// Client is a running client.mjs.
type Client struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  *json.Encoder
	closer func() error

	closeOnce sync.Once
	closeErr  error
	sendMu    sync.Mutex // one request written at a time

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan Message
	events  []Message
	changed chan struct{}
	// Connected is the client's "connected" event: connect time and the
	// negotiated protocol version.
	Connected Message
}

// connectWait bounds how long Start waits for the client to connect: Node,
// the server and its own backends all start in that time, which takes
// seconds on a busy machine.
const connectWait = 2 * time.Minute

// Start runs the client against args: a server command line (stdio), or
// "--url", URL [, "--token", T] for Streamable HTTP. It waits until the
// client has connected and stops it at the end of the test.
func Start(t testing.TB, dir string, env []string, args ...string) *Client {
	t.Helper()
	Require(t)
	var cliArgs []string
	if len(args) > 0 && args[0] == "--url" {
		cliArgs = args
	} else {
		b, _ := json.Marshal(args)
		cliArgs = []string{string(b)}
	}
	cmd := exec.Command("node", append([]string{filepath.Join(Dir(), "client.mjs")}, cliArgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = testWriter{t}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Client{t: t, cmd: cmd, stdin: json.NewEncoder(in), closer: in.Close, waiting: map[int]chan Message{}, changed: make(chan struct{}, 1)}
	connected := make(chan Message, 1)
	go c.read(out, connected)
	t.Cleanup(func() { c.Close() })
	select {
	case c.Connected = <-connected:
	case <-time.After(connectWait):
		t.Fatalf("the MCP client did not connect within %s", connectWait)
	}
	return c
}

// Close closes the client's stdin, which makes it close its connection
// (and a stdio server's stdin), and waits up to 10 seconds for it to exit,
// killing it after that. It reports how the client exited; a client that
// had to be killed is an error. Close is called at the end of the test
// and may be called before.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closer()
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case c.closeErr = <-done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-done
			c.closeErr = fmt.Errorf("the MCP client did not exit within 10s of its stdin closing")
		}
	})
	return c.closeErr
}

func (c *Client) read(out interface{ Read([]byte) (int, error) }, connected chan<- Message) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		c.mu.Lock()
		switch {
		case m.Event == "connected":
			connected <- m
		case m.Event != "":
			c.events = append(c.events, m)
			select {
			case c.changed <- struct{}{}:
			default:
			}
		default:
			if ch, ok := c.waiting[m.ID]; ok {
				ch <- m
				delete(c.waiting, m.ID)
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	for id, ch := range c.waiting {
		close(ch)
		delete(c.waiting, id)
	}
	c.mu.Unlock()
}

// Request is one request to the client; Op is list, call, resources,
// templates, read, prompts, prompt or cancel (of the request Target).
type Request struct {
	ID            int            `json:"id"`
	Op            string         `json:"op"`
	Name          string         `json:"name,omitempty"`
	Args          map[string]any `json:"args,omitempty"`
	URI           string         `json:"uri,omitempty"`
	TimeoutMS     int            `json:"timeoutMs,omitempty"`
	Progress      bool           `json:"progress,omitempty"`
	CancelAfterMS int            `json:"cancelAfterMs,omitempty"`
	Target        int            `json:"target,omitempty"`
}

// Send sends a request and returns a channel that receives its answer; the
// channel is closed if the client exits first.
func (c *Client) Send(r Request) <-chan Message {
	_, ch := c.SendID(r)
	return ch
}

// SendID is Send that also returns the id the request was given, which
// names it in progress events and in Cancel.
func (c *Client) SendID(r Request) (int, <-chan Message) {
	c.mu.Lock()
	c.nextID++
	r.ID = c.nextID
	ch := make(chan Message, 1)
	c.waiting[r.ID] = ch
	c.mu.Unlock()
	c.sendMu.Lock()
	err := c.stdin.Encode(r)
	c.sendMu.Unlock()
	if err != nil {
		c.t.Fatalf("sending to the MCP client: %v", err)
	}
	return r.ID, ch
}

// Cancel aborts the request with the given id, as an agent whose user
// gives up does: the SDK sends notifications/cancelled for it. It reports
// whether the request was still in flight.
func (c *Client) Cancel(id int) bool {
	c.t.Helper()
	m := c.Do(Request{Op: "cancel", Target: id})
	var r struct {
		Cancelled bool `json:"cancelled"`
	}
	_ = json.Unmarshal(m.Result, &r)
	return r.Cancelled
}

// Do sends a request and waits up to a minute for its answer.
func (c *Client) Do(r Request) Message {
	c.t.Helper()
	select {
	case m, ok := <-c.Send(r):
		if !ok {
			c.t.Fatalf("the MCP client exited before answering %s %s", r.Op, r.Name)
		}
		return m
	case <-time.After(time.Minute):
		c.t.Fatalf("no answer to %s %s within a minute", r.Op, r.Name)
	}
	return Message{}
}

// Call calls a tool and decodes its result.
func (c *Client) Call(name string, args map[string]any) (ToolResult, error) {
	c.t.Helper()
	return DecodeCall(c.Do(Request{Op: "call", Name: name, Args: args}))
}

// ToolResult is a tools/call result.
type ToolResult struct {
	Content []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Data     string `json:"data"`
		MimeType string `json:"mimeType"`
	} `json:"content"`
	StructuredContent any  `json:"structuredContent"`
	IsError           bool `json:"isError"`
}

// Text joins a result's text contents.
func (r ToolResult) Text() string {
	s := ""
	for i, c := range r.Content {
		if i > 0 {
			s += "\n"
		}
		s += c.Text
	}
	return s
}

// DecodeCall decodes a call's answer; a protocol error is returned as an
// error.
func DecodeCall(m Message) (ToolResult, error) {
	var r ToolResult
	if m.Error != nil {
		return r, fmt.Errorf("%s (code %v)", m.Error.Message, m.Error.Code)
	}
	err := json.Unmarshal(m.Result, &r)
	return r, err
}

// Events returns the events received so far.
func (c *Client) Events() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.events...)
}

// WaitEvent waits up to d for an event of the given kind after the first
// skip of them, and reports whether it came.
func (c *Client) WaitEvent(kind string, skip int, d time.Duration) bool {
	deadline := time.After(d)
	for {
		n := 0
		for _, e := range c.Events() {
			if e.Event == kind {
				n++
			}
		}
		if n > skip {
			return true
		}
		select {
		case <-c.changed:
		case <-deadline:
			return false
		}
	}
}

// testWriter sends the client's stderr (and its server's) to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

package mcpproxy

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// baseEnv are the variables of the proxy's own environment a stdio backend
// inherits; everything else it gets must be configured in its env.
var baseEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TMPDIR", "LANG"}

// ClientTransport returns the client transport that connects to the backend. A
// stdio backend is started with a minimal environment (PATH, HOME, USER,
// LOGNAME, SHELL, TERM, TMPDIR, LANG from the proxy's) plus its configured
// env, in its cwd, with its stderr copied to stderr line by line, each line
// prefixed with "[name] ".
func (b *BackendConfig) ClientTransport(stderr io.Writer) mcp.Transport {
	switch b.Transport {
	case TransportHTTP:
		return &mcp.StreamableClientTransport{Endpoint: b.URL, HTTPClient: headerClient(b.Headers)}
	case TransportSSE:
		return &mcp.SSEClientTransport{Endpoint: b.URL, HTTPClient: headerClient(b.Headers)}
	}
	cmd := exec.Command(b.Command, b.Args...)
	cmd.Dir = b.Cwd
	cmd.Env = backendEnv(os.LookupEnv, b.Env)
	if stderr != nil {
		cmd.Stderr = &prefixWriter{w: stderr, prefix: []byte("[" + b.Name + "] ")}
	}
	// A grandchild holding stderr open must not keep the proxy waiting.
	cmd.WaitDelay = 2 * time.Second
	return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}
}

// backendEnv is the environment of a stdio backend: the base variables the
// proxy has, then the configured ones, sorted by name.
func backendEnv(lookup func(string) (string, bool), extra map[string]string) []string {
	vars := map[string]string{}
	for _, k := range baseEnv {
		if v, ok := lookup(k); ok {
			vars[k] = v
		}
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// headerClient returns an HTTP client that adds headers to every request.
func headerClient(headers map[string]string) *http.Client {
	if len(headers) == 0 {
		return nil
	}
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return &http.Client{Transport: &headerTransport{base: http.DefaultTransport, header: h}}
}

type headerTransport struct {
	base   http.RoundTripper
	header http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.header {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// partialLineWait is how long prefixWriter holds a line whose end has not
// arrived: a backend's last words before it exits often have no newline.
const partialLineWait = 200 * time.Millisecond

// prefixWriter writes each complete line with a prefix, holding a partial
// line until its end arrives or partialLineWait passes.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
	timer  *time.Timer // flushes a held partial line
}

// flushPartial writes the partial line held, if any, as a line.
func (p *prefixWriter) flushPartial() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if len(p.buf) > 0 {
		p.w.Write(append(append(append([]byte(nil), p.prefix...), p.buf...), '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte(nil), p.prefix...), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), nil // the backend must not fail because stderr did
		}
	}
	if len(p.buf) > 64<<10 {
		p.w.Write(append(append(append([]byte(nil), p.prefix...), p.buf...), '\n'))
		p.buf = nil
	}
	switch {
	case len(p.buf) > 0 && p.timer == nil:
		p.timer = time.AfterFunc(partialLineWait, p.flushPartial)
	case len(p.buf) == 0 && p.timer != nil:
		p.timer.Stop()
		p.timer = nil
	}
	return len(b), nil
}

package mcpproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DrainTimeout bounds how long, after the agent closes its input, the
// proxy keeps answering the requests it had already read.
const DrainTimeout = 5 * time.Second

// StdioTransport returns the agent-facing transport over in and out, the
// proxy's standard streams. When in ends, the requests already read are
// answered (those that finish within DrainTimeout) before the connection
// closes, so that an agent which writes its requests and then closes its
// end still gets every answer.
func StdioTransport(in io.Reader, out io.Writer) mcp.Transport {
	d := &drain{changed: make(chan struct{}, 1)}
	return &mcp.IOTransport{
		Reader: &drainReader{d: d, r: in},
		Writer: &answerWriter{d: d, w: out},
	}
}

// drain counts the requests read and the answers written.
type drain struct {
	mu         sync.Mutex
	requests   int
	answers    int
	changed    chan struct{}
	inPartial  []byte // the start of an unfinished input line
	outPartial []byte
}

func (d *drain) add(requests, answers int) {
	if requests == 0 && answers == 0 {
		return
	}
	d.mu.Lock()
	d.requests += requests
	d.answers += answers
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *drain) settled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.answers >= d.requests
}

// wait returns once every request read has been answered, or after
// DrainTimeout.
func (d *drain) wait() {
	deadline := time.NewTimer(DrainTimeout)
	defer deadline.Stop()
	for !d.settled() {
		select {
		case <-d.changed:
		case <-deadline.C:
			return
		}
	}
}

// lines splits b, after the partial line kept from before, into complete
// lines, and keeps what follows the last newline for next time.
func lines(partial *[]byte, b []byte, each func(line []byte)) {
	buf := append(*partial, b...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		each(buf[:i])
		buf = buf[i+1:]
	}
	*partial = append((*partial)[:0], buf...)
}

type drainReader struct {
	d *drain
	r io.Reader
}

// Read passes the agent's input through, counting its requests; at the
// end of the input it waits for their answers before reporting it.
func (r *drainReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		requests := 0
		r.d.mu.Lock()
		lines(&r.d.inPartial, p[:n], func(line []byte) {
			if isRequest(line) {
				requests++
			}
		})
		r.d.mu.Unlock()
		r.d.add(requests, 0)
	}
	if err == io.EOF && n == 0 {
		r.d.wait()
	}
	return n, err
}

// Close leaves the proxy's standard input open: it belongs to the
// process.
func (r *drainReader) Close() error { return nil }

type answerWriter struct {
	d *drain
	w io.Writer
}

// Write passes the proxy's output through, counting its answers.
func (w *answerWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	answers := 0
	w.d.mu.Lock()
	lines(&w.d.outPartial, p[:n], func(line []byte) {
		if isAnswer(line) {
			answers++
		}
	})
	w.d.mu.Unlock()
	w.d.add(0, answers)
	return n, err
}

// Close leaves the proxy's standard output open: it belongs to the
// process.
func (w *answerWriter) Close() error { return nil }

// isRequest reports whether a JSON-RPC message is a request: it has both
// an id and a method.
func isRequest(line []byte) bool {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	return json.Unmarshal(line, &m) == nil && len(m.ID) > 0 && string(m.ID) != "null" && m.Method != ""
}

// isAnswer reports whether a JSON-RPC message is a response: it has an id
// and a result or an error. It reads only as far as it must, since an
// answer may carry a large result.
func isAnswer(line []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	hasID, hasResult := false, false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case "method":
			return false
		case "result", "error":
			hasResult = true
		case "id":
			hasID = true
		}
		if hasID && hasResult {
			return true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

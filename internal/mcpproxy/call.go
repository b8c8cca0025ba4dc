package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/warden"
)

// DefaultActor is who a call is from when the agent names no client.
const DefaultActor = "mcp-agent"

// CodeDenied is the JSON-RPC error code of a resources/read the policy
// refuses (tool calls are refused with tool errors instead).
const CodeDenied = -32003

func (p *Proxy) toolHandler(r route) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return p.callTool(ctx, req, r)
	}
}

// callTool governs one tools/call: evaluate, hold a gated call for its
// approval, forward or run an allowed one and record what it did.
func (p *Proxy) callTool(ctx context.Context, req *mcp.CallToolRequest, r route) (*mcp.CallToolResult, error) {
	args, err := decodeArgs(req.Params.Arguments)
	if err != nil {
		return errorResult(err.Error()), nil
	}
	actor := p.actor(ctx, req.Extra, req.ClientInfo())
	action := warden.Action{Tool: r.name, Input: args}
	var rel *relay
	if tok := req.Params.GetProgressToken(); tok != nil {
		rel = &relay{ctx: ctx, ss: req.Session, token: tok}
	}
	resp, refusal, err := p.govern(ctx, action, actor, rel)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return errorResult("Warden could not evaluate the call: " + err.Error()), nil
	}
	if refusal != "" {
		return errorResult(refusal), nil
	}
	if r.b.builtin != nil {
		return p.runBuiltin(ctx, r, resp, action), nil
	}

	params := &mcp.CallToolParams{Name: r.name, Arguments: args, Meta: p.forwardMeta(req.Session, req.Params.Meta),
		InputResponses: req.Params.InputResponses, RequestState: req.Params.RequestState}
	if rel != nil {
		token := "warden-" + strconv.FormatInt(p.nextToken.Add(1), 10)
		rel.changed = make(chan struct{}, 1)
		p.relays.Store(token, rel)
		defer p.relays.Delete(token)
		params.SetProgressToken(token)
	}
	start := time.Now()
	res, err := r.b.cs.CallTool(ctx, params)
	if rel != nil {
		rel.settle(time.Second)
		defer rel.gap()
	}
	dur := time.Since(start).Milliseconds()
	if err != nil {
		msg := fmt.Sprintf("Backend %s failed: %v", r.b.name, err)
		if ctx.Err() != nil {
			msg = fmt.Sprintf("Cancelled by the agent while backend %s was running it", r.b.name)
		}
		p.record(resp, gateway.Result{Success: false, Error: msg, DurationMS: dur})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return errorResult(msg), nil
	}
	text := resultText(res.Content)
	result := gateway.Result{Success: !res.IsError, Output: text, DurationMS: dur}
	if res.IsError {
		result.Error = text
		if text == "" {
			result.Error = "the tool reported an error"
		}
	}
	p.record(resp, result)
	return res, nil
}

// runBuiltin runs an allowed call of a built-in tool through the gateway,
// which records it with its backups, undo record and evidence.
func (p *Proxy) runBuiltin(ctx context.Context, r route, resp *gateway.Response, action warden.Action) *mcp.CallToolResult {
	run, err := r.b.builtin.Runner(r.name, action.Input)
	if err != nil {
		p.record(resp, gateway.Result{Success: false, Error: err.Error()})
		return errorResult(err.Error())
	}
	res, err := p.g.Run(ctx, p.sid, resp, action, run)
	if err != nil {
		return errorResult(fmt.Sprintf("Warden could not run %s: %s", r.name, err))
	}
	if out, ok := res.Output.(*mcp.CallToolResult); ok && out != nil {
		if !res.Success {
			out.IsError = true
		}
		return out
	}
	if !res.Success {
		return errorResult(res.Error)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{}}
}

// govern evaluates an action and settles a gate: it returns the allowing
// response, or the refusal to give the agent, or an error when the call
// could not be decided (or ctx ended).
func (p *Proxy) govern(ctx context.Context, action warden.Action, actor string, rel *relay) (*gateway.Response, string, error) {
	resp, err := p.evaluate(ctx, action, actor)
	if err != nil {
		return nil, "", err
	}
	switch resp.Decision {
	case warden.Allow:
		return resp, "", nil
	case warden.Deny:
		return nil, denial(resp), nil
	}
	// The call is held for the proxy's gate wait, or less when the
	// approval itself expires sooner.
	wait := p.gateWait
	if resp.Gate != nil && resp.Gate.Timeout > 0 && resp.Gate.Timeout < wait {
		wait = resp.Gate.Timeout
	}
	id := resp.ApprovalID
	p.warnf("holding %s for approval %s (up to %s): approve with: warden approve %s", action.Tool, id, wait, id)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(approvalPoll)
	defer tick.Stop()
	lastNote := time.Now()
	rel.waiting(id)
	for {
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-deadline.C:
			return nil, p.timedOut(ctx, id, wait), nil
		case <-tick.C:
		}
		if time.Since(lastNote) >= progressEvery {
			lastNote = time.Now()
			rel.waiting(id)
		}
		a, err := p.g.Approval(ctx, id)
		if err != nil {
			return nil, "", err
		}
		switch a.State {
		case gateway.Pending:
			continue
		case gateway.Rejected:
			reason := a.Reason
			if reason == "" {
				reason = "no reason given"
			}
			return nil, fmt.Sprintf("Approval %s was rejected: %s", id, reason), nil
		case gateway.Expired:
			return nil, expired(id, a), nil
		}
		// Approved (or used meanwhile by an identical call): the identical
		// call, evaluated again, is now allowed once.
		resp, err = p.evaluate(ctx, action, actor)
		if err != nil {
			return nil, "", err
		}
		switch resp.Decision {
		case warden.Allow:
			return resp, "", nil
		case warden.Deny:
			return nil, denial(resp), nil
		}
		id = resp.ApprovalID
	}
}

// evaluate evaluates an action in the session, recording the queued
// results of earlier calls in the same commit.
func (p *Proxy) evaluate(ctx context.Context, action warden.Action, actor string) (*gateway.Response, error) {
	pending := p.takeResults()
	resp, err := p.g.Evaluate(ctx, p.sid, action, gateway.EvaluateOptions{Actor: actor, Results: pending, OnRecordError: p.recordFailed})
	if err != nil {
		p.putBack(pending)
	}
	return resp, err
}

func denial(resp *gateway.Response) string {
	return "Action denied by policy: " + strings.Join(resp.Reasons, "; ")
}

// timedOut is what a held call says when its wait ran out: how to approve
// and retry while the approval is still open, else that it expired.
func (p *Proxy) timedOut(ctx context.Context, id string, wait time.Duration) string {
	a, err := p.g.Approval(ctx, id)
	if err == nil && (a.State == gateway.Expired || a.ExpiresAt != nil && !a.ExpiresAt.After(time.Now())) {
		return expired(id, a)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This call needs human approval and none was given within %s (approval %s). ", wait, id)
	fmt.Fprintf(&b, "A human can approve it with: warden approve %s", id)
	if p.publicURL != "" {
		fmt.Fprintf(&b, " or at %s/ui/approvals/%s", p.publicURL, url.PathEscape(id))
	}
	b.WriteString(". Once it is approved, make the identical call again (same tool, same arguments) and it will run.")
	return b.String()
}

// expired is what a held call says when its approval expired undecided.
func expired(id string, a *gateway.Approval) string {
	msg := fmt.Sprintf("This call needed human approval and approval %s expired without a decision", id)
	if a.Reason != "" {
		msg += " (" + a.Reason + ")"
	}
	return msg + ". Making the identical call again requests a new approval."
}

// relay carries progress notifications to the agent's request: the
// proxy's own while a call waits for approval, then the backend's, offset
// so that progress only ever increases.
type relay struct {
	ctx   context.Context // the agent request's, which routes notifications to it
	ss    *mcp.ServerSession
	token any

	mu   sync.Mutex
	base float64
	// received counts the backend's notifications for this request as
	// the connection reads them; forwarded those passed on. The answer
	// waits until both agree, so that no progress arrives after it.
	received, forwarded int
	lastForward         time.Time
	changed             chan struct{}
}

// progressGap is how long after the last progress notification the
// answer to the same request is held back. Clients built on the
// TypeScript SDK handle a progress notification a moment after they read
// it, and drop it when the answer came in the same read; a short gap keeps
// the last notification from being lost.
const progressGap = 5 * time.Millisecond

// seen counts a notification the backend's connection has read.
func (r *relay) seen() {
	r.mu.Lock()
	r.received++
	r.mu.Unlock()
}

// settle waits, up to limit, until every notification read before the
// backend's answer has been forwarded.
func (r *relay) settle(limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		done := r.forwarded >= r.received
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			return
		}
	}
}

// gap holds the answer until progressGap has passed since the last
// notification forwarded.
func (r *relay) gap() {
	r.mu.Lock()
	last := r.lastForward
	r.mu.Unlock()
	if !last.IsZero() {
		if wait := progressGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
	}
}

func (r *relay) waiting(id string) {
	if r == nil || r.ss == nil {
		return
	}
	r.mu.Lock()
	r.base++
	n := r.base
	r.mu.Unlock()
	_ = r.ss.NotifyProgress(r.ctx, &mcp.ProgressNotificationParams{
		ProgressToken: r.token, Progress: n,
		Message: fmt.Sprintf("waiting for approval %s — approve with: warden approve %s", id, id),
	})
}

func (r *relay) forward(p *mcp.ProgressNotificationParams) {
	if r.ss == nil {
		return
	}
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	out := &mcp.ProgressNotificationParams{ProgressToken: r.token, Progress: base + p.Progress, Message: p.Message}
	if p.Total > 0 {
		out.Total = base + p.Total
	}
	_ = r.ss.NotifyProgress(r.ctx, out)
	r.mu.Lock()
	r.forwarded++
	r.lastForward = time.Now()
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// forwardProgress passes a backend's progress notification to the agent
// request it belongs to.
func (p *Proxy) forwardProgress(_ context.Context, params *mcp.ProgressNotificationParams) {
	token, ok := params.ProgressToken.(string)
	if !ok {
		return
	}
	if v, ok := p.relays.Load(token); ok {
		v.(*relay).forward(params)
	}
}

// forwardLog passes a backend's log message to every connected agent, at
// the level each asked for.
func (p *Proxy) forwardLog(ctx context.Context, b *backend, params *mcp.LoggingMessageParams) {
	msg := *params
	if msg.Logger == "" {
		msg.Logger = b.name
	}
	for ss := range p.server.Sessions() {
		_ = ss.Log(ctx, &msg)
	}
}

// receive is the proxy's receiving middleware. It notes the agent's
// client info on its first request of any kind (on protocol 2026-07-28
// there is no initialize, and the info comes with each request), and
// passes logging/setLevel on to the backends that log, remembering the
// level so that it also travels with each forwarded request.
func (p *Proxy) receive(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		ss, _ := req.GetSession().(*mcp.ServerSession)
		if ci := clientInfo(req, ss); ci != nil {
			p.noteClient(ctx, ci)
		}
		res, err := next(ctx, method, req)
		if err != nil || method != "logging/setLevel" {
			return res, err
		}
		params, ok := req.GetParams().(*mcp.SetLoggingLevelParams)
		if !ok || params == nil {
			return res, err
		}
		if ss != nil {
			p.levels.Store(ss, params.Level)
		}
		for _, b := range p.backends {
			if b.cs == nil || b.caps.Logging == nil {
				continue
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := b.cs.SetLoggingLevel(sctx, &mcp.SetLoggingLevelParams{Level: params.Level}); err != nil {
				p.warnf("backend %s: logging/setLevel: %v", b.name, err)
			}
			cancel()
		}
		return res, nil
	}
}

// clientInfo is the agent's client info for a request: from its _meta on
// protocol 2026-07-28, else from the session's initialize.
func clientInfo(req mcp.Request, ss *mcp.ServerSession) *mcp.Implementation {
	if params := req.GetParams(); params != nil && !reflect.ValueOf(params).IsNil() {
		if raw, ok := params.GetMeta()[mcp.MetaKeyClientInfo]; ok {
			var ci mcp.Implementation
			if b, err := json.Marshal(raw); err == nil && json.Unmarshal(b, &ci) == nil && ci.Name != "" {
				return &ci
			}
		}
	}
	if ss != nil {
		if ip := ss.InitializeParams(); ip != nil {
			return ip.ClientInfo
		}
	}
	return nil
}

// resourceHandler forwards resources/read to the backend. Reading a file://
// URI is the action file:read of its path, governed as a tool call is.
func (p *Proxy) resourceHandler(b *backend) mcp.ResourceHandler {
	return func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		uri := req.Params.URI
		var resp *gateway.Response
		path, isFile, err := filePath(uri)
		if err != nil {
			return nil, &jsonrpc.Error{Code: CodeDenied, Message: err.Error()}
		}
		if isFile {
			var rel *relay
			if tok := req.Params.GetProgressToken(); tok != nil {
				rel = &relay{ctx: ctx, ss: req.Session, token: tok}
			}
			action := warden.Action{Tool: "file:read", Input: map[string]any{"path": path}}
			var refusal string
			resp, refusal, err = p.govern(ctx, action, p.actor(ctx, req.Extra, req.ClientInfo()), rel)
			if err != nil {
				return nil, err
			}
			if refusal != "" {
				return nil, &jsonrpc.Error{Code: CodeDenied, Message: refusal}
			}
		}
		start := time.Now()
		res, err := b.cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri, Meta: p.forwardMeta(req.Session, req.Params.Meta),
			InputResponses: req.Params.InputResponses, RequestState: req.Params.RequestState})
		if resp != nil {
			r := gateway.Result{Success: err == nil, DurationMS: time.Since(start).Milliseconds()}
			if err != nil {
				r.Error = fmt.Sprintf("Backend %s failed: %v", b.name, err)
			} else {
				var text []string
				for _, c := range res.Contents {
					if c != nil && c.Text != "" {
						text = append(text, c.Text)
					}
				}
				r.Output = strings.Join(text, "\n")
			}
			p.record(resp, r)
		}
		return res, err
	}
}

// filePath returns the path a file:// URI names. A URI that claims the
// file scheme but cannot be read as a local path is an error: it is
// refused rather than passed unchecked.
func filePath(uri string) (string, bool, error) {
	if len(uri) < 5 || !strings.EqualFold(uri[:5], "file:") {
		return "", false, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", true, fmt.Errorf("resource URI %q is not a valid file URI: %v", uri, err)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", true, fmt.Errorf("resource URI %q names a remote host; only local file URIs can be read", uri)
	}
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	if path == "" {
		return "", true, fmt.Errorf("resource URI %q names no path", uri)
	}
	return path, true, nil
}

// actor is who a call is from: the identity of the bearer token it came
// with, else the agent's client name, else DefaultActor.
func (p *Proxy) actor(ctx context.Context, extra *mcp.RequestExtra, ci *mcp.Implementation) string {
	if extra != nil && extra.TokenInfo != nil && extra.TokenInfo.UserID != "" {
		return extra.TokenInfo.UserID
	}
	if ci != nil && ci.Name != "" {
		p.noteClient(ctx, ci)
		return ci.Name
	}
	return DefaultActor
}

// noteClient adds a client, the first time it is seen, to the session's
// metadata ("clients", and "agent" for the first) and to the ledger.
func (p *Proxy) noteClient(ctx context.Context, ci *mcp.Implementation) {
	if ci == nil || ci.Name == "" {
		return
	}
	key := ci.Name + "\x00" + ci.Version
	p.clientMu.Lock()
	seen := p.clients[key]
	p.clients[key] = true
	p.clientMu.Unlock()
	if seen || p.store == nil {
		return
	}
	client := map[string]any{"name": ci.Name}
	if ci.Version != "" {
		client["version"] = ci.Version
	}
	if ci.Title != "" {
		client["title"] = ci.Title
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := p.store.Update(ctx, func(tx gateway.Tx) error {
		s, err := tx.Session(p.sid)
		if err != nil {
			return err
		}
		if s.State != gateway.Active {
			return nil
		}
		meta := maps.Clone(s.Metadata)
		if meta == nil {
			meta = map[string]any{}
		}
		clients, _ := meta["clients"].([]any)
		meta["clients"] = append(clients, client)
		if _, ok := meta["agent"]; !ok {
			meta["agent"] = ci.Name
		}
		s.Metadata = meta
		s.UpdatedAt = time.Now().UTC()
		s.Version++
		if err := tx.PutSession(s); err != nil {
			return err
		}
		return tx.Append(s.ID, "session:client", map[string]any{"client": client})
	})
	if err != nil {
		p.warnf("recording the agent's client info: %v", err)
	}
}

// decodeArgs decodes a call's arguments: absent or null is {}, anything
// but an object is an error.
func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	args := map[string]any{}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return args, nil
	}
	if trimmed[0] != '{' {
		return nil, errors.New("the tool's arguments must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, &args); err != nil {
		return nil, fmt.Errorf("the tool's arguments are not valid JSON: %v", err)
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

// forwardMeta is the agent's _meta as a backend should see it: without the
// progress token (the proxy sets its own) and without the protocol's
// per-request keys, which describe the agent's connection, not the
// proxy's, except the log level, which the agent's session's
// logging/setLevel supplies when the request has none.
func (p *Proxy) forwardMeta(ss *mcp.ServerSession, m mcp.Meta) mcp.Meta {
	out := mcp.Meta{}
	for k, v := range m {
		if k == "progressToken" || (strings.HasPrefix(k, "io.modelcontextprotocol/") && k != mcp.MetaKeyLogLevel) {
			continue
		}
		out[k] = v
	}
	if _, ok := out[mcp.MetaKeyLogLevel]; !ok && ss != nil {
		if level, ok := p.levels.Load(ss); ok {
			out[mcp.MetaKeyLogLevel] = level
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resultText joins the text items of a result, as the ledger records them.
func resultText(content []mcp.Content) string {
	var parts []string
	for _, c := range content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
}

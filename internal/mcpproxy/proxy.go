package mcpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// StatusTool is the name of the proxy's own meta-tool, which reports the
// session's budget and pending approvals. No tool of the proxy approves
// anything.
const StatusTool = "warden_status"

// StopReason is the termination reason of a session whose proxy stopped.
const StopReason = "MCP proxy stopped"

// DefaultGateWait is how long a gated call is held when neither its gate
// nor Options.GateWait says.
const DefaultGateWait = 5 * time.Minute

// RequiresUserInteraction is the _meta key that marks, in tools/list, a
// tool whose calls a gate with agent_prompt asks the agent's user to
// confirm.
const RequiresUserInteraction = "anthropic/requiresUserInteraction"

// ConnectTimeout bounds how long Start waits for a backend to answer
// initialize and list what it offers.
const ConnectTimeout = 30 * time.Second

// approvalPoll is how often a held call looks for a decision; an approval
// given from another process reaches the call within this time.
const approvalPoll = 200 * time.Millisecond

// progressEvery is how often a held call tells the agent it is waiting.
const progressEvery = 2 * time.Second

// Options configure Start.
type Options struct {
	// Gateway evaluates and records every call.
	Gateway *gateway.Gateway
	// Store is the gateway's store, if the caller has it: the proxy adds
	// each agent's client info to the session's metadata through it.
	Store gateway.Store
	// Policy is the policy's YAML source; PolicyName names it.
	Policy     []byte
	PolicyName string
	// Root is the project root of the session.
	Root string
	// Owner is the identity that owns the session.
	Owner string
	// Metadata is added to the session's metadata.
	Metadata map[string]any
	// Backends are the MCP servers to mirror, in order; a backend is
	// connected once and never reconnected.
	Backends []Backend
	// Builtin, if set, are tools Warden runs itself.
	Builtin *Builtin
	// GateWait is how long a gated call is held when its gate has no
	// timeout; DefaultGateWait when zero.
	GateWait time.Duration
	// PublicURL is the address of `warden serve`, for approval links.
	PublicURL string
	// Log receives the proxy's warnings and notes for the human; io.Discard
	// when nil.
	Log io.Writer
	// Version is reported as the proxy's server version.
	Version string
}

// Backend is an MCP server the proxy mirrors.
type Backend struct {
	// Name names the backend in messages and namespaced tool names.
	Name string
	// Transport connects to the backend.
	Transport mcp.Transport
}

// Builtin are tools Warden runs itself instead of forwarding them: each
// allowed call runs through gateway.Run, so that its changes are backed up,
// can be undone and leave evidence.
type Builtin struct {
	// Name names the built-in server, as a backend's name would.
	Name  string
	Tools []*mcp.Tool
	// Runner returns how to run a call of the tool name with args. The
	// Outcome.Output of a run is the *mcp.CallToolResult to return.
	Runner func(name string, args map[string]any) (gateway.RunFunc, error)
}

// Proxy is a running governing MCP proxy: one gateway session, its
// backends, and the MCP server agents connect to.
type Proxy struct {
	g         *gateway.Gateway
	store     gateway.Store
	sid       string
	pol       *policy.Policy
	server    *mcp.Server
	backends  []*backend
	gateWait  time.Duration
	publicURL string
	log       io.Writer
	logMu     sync.Mutex

	syncMu    sync.Mutex        // guards the mirrored feature maps below
	tools     map[string]string // exposed name → key of what is registered
	prompts   map[string]string
	resources map[string]string // URI → key
	templates map[string]string // URI template → key

	relays    sync.Map // progress token sent to a backend → *relay
	nextToken atomic.Int64

	results results

	clientMu sync.Mutex
	clients  map[string]bool
	levels   sync.Map // agent *mcp.ServerSession → the mcp.LoggingLevel it set

	done      chan struct{}
	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	workers   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// backend is one mirrored server and what it offers.
type backend struct {
	name    string
	cs      *mcp.ClientSession // nil for the built-in tools
	builtin *Builtin

	mu        sync.Mutex
	caps      *mcp.ServerCapabilities
	tools     []*mcp.Tool
	prompts   []*mcp.Prompt
	resources []*mcp.Resource
	templates []*mcp.ResourceTemplate
	changed   int // bits of what the backend said changed
	signal    chan struct{}
}

const (
	changedTools = 1 << iota
	changedPrompts
	changedResources
)

// Start validates the options, creates the session and connects every
// backend concurrently, and returns the proxy ready to serve. On failure
// nothing is left running and the session, if created, is terminated.
func Start(ctx context.Context, opts Options) (*Proxy, error) {
	if opts.Gateway == nil {
		return nil, errors.New("mcpproxy: no gateway")
	}
	if len(opts.Backends) == 0 && opts.Builtin == nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "the proxy needs at least one backend")
	}
	names := map[string]bool{}
	all := opts.Backends
	if opts.Builtin != nil {
		all = append([]Backend{{Name: opts.Builtin.Name}}, all...)
	}
	for _, b := range all {
		if !backendName.MatchString(b.Name) || strings.Contains(b.Name, "__") {
			return nil, warden.Errorf(warden.CodeInvalidInput, "backend name %q may hold only letters, digits, '_', '-' and '.' (no \"__\")", b.Name)
		}
		if names[b.Name] {
			return nil, warden.Errorf(warden.CodeInvalidInput, "backend name %q is used twice", b.Name)
		}
		names[b.Name] = true
	}
	p := &Proxy{
		g: opts.Gateway, store: opts.Store, gateWait: opts.GateWait, publicURL: strings.TrimRight(opts.PublicURL, "/"),
		log: opts.Log, tools: map[string]string{}, prompts: map[string]string{}, resources: map[string]string{},
		templates: map[string]string{}, clients: map[string]bool{}, done: make(chan struct{}),
	}
	if p.log == nil {
		p.log = io.Discard
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if p.gateWait <= 0 {
		p.gateWait = DefaultGateWait
	}

	// The backends connect while the session is created, each within
	// ConnectTimeout; the first that fails stops the others.
	p.backends = make([]*backend, len(opts.Backends))
	errs := make([]error, len(opts.Backends))
	cctx, cancelConnect := context.WithTimeout(ctx, ConnectTimeout)
	defer cancelConnect()
	var wg sync.WaitGroup
	for i, b := range opts.Backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.backends[i], errs[i] = p.connect(cctx, b, opts.Version)
			if errs[i] != nil {
				cancelConnect()
			}
		}()
	}
	name := opts.PolicyName
	if name == "" {
		name = "policy"
	}
	var sess *gateway.Session
	pol, err := policy.Parse(opts.Policy, name)
	if err == nil {
		p.pol = pol
		meta := map[string]any{}
		maps.Copy(meta, opts.Metadata)
		meta["source"] = "mcp-proxy"
		meta["project"] = opts.Root
		backends := make([]string, len(all))
		for i, b := range all {
			backends[i] = b.Name
		}
		meta["backends"] = backends
		sess, err = p.g.CreateSession(ctx, gateway.CreateRequest{Policy: opts.Policy, PolicyName: name, Root: opts.Root, Metadata: meta, Owner: opts.Owner})
	}
	wg.Wait()
	if err == nil {
		err = connectErrors(opts.Backends, errs)
	}
	if err != nil {
		for _, b := range p.backends {
			if b != nil {
				b.cs.Close()
			}
		}
		if sess != nil {
			_, _ = p.g.Terminate(context.WithoutCancel(ctx), sess.ID, "MCP proxy failed to start")
		}
		p.cancel()
		return nil, err
	}
	p.sid = sess.ID
	if opts.Builtin != nil {
		bt := &backend{name: opts.Builtin.Name, builtin: opts.Builtin, tools: opts.Builtin.Tools, caps: &mcp.ServerCapabilities{}}
		p.backends = append([]*backend{bt}, p.backends...)
	}

	caps := &mcp.ServerCapabilities{Logging: &mcp.LoggingCapabilities{}, Tools: &mcp.ToolCapabilities{ListChanged: true}}
	for _, b := range p.backends {
		if b.caps.Prompts != nil {
			caps.Prompts = &mcp.PromptCapabilities{ListChanged: true}
		}
		if b.caps.Resources != nil {
			caps.Resources = &mcp.ResourceCapabilities{ListChanged: true}
		}
	}
	p.server = mcp.NewServer(&mcp.Implementation{Name: "warden", Title: "Warden MCP proxy", Version: opts.Version}, &mcp.ServerOptions{
		Instructions: fmt.Sprintf("Every tool call is checked by Warden against the policy %q. A denied call returns an error "+
			"with the reasons; a call that needs human approval waits for it. Call %s to see the session's budget and "+
			"pending approvals. Only a human can approve.", pol.Name, StatusTool),
		Capabilities: caps,
	})
	p.server.AddReceivingMiddleware(p.receive)
	p.server.AddTool(&mcp.Tool{
		Name:        StatusTool,
		Title:       "Warden session status",
		Description: "Shows this session's counters and budget, the policy's limits, and the calls waiting for human approval with how to approve them. It approves nothing.",
		InputSchema: map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false},
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, p.status)
	p.sync()
	for _, b := range p.backends {
		if b.cs != nil {
			p.workers.Add(1)
			go p.refreshLoop(b)
		}
	}
	return p, nil
}

// Server returns the MCP server agents connect to.
func (p *Proxy) Server() *mcp.Server { return p.server }

// SessionID returns the id of the proxy's gateway session.
func (p *Proxy) SessionID() string { return p.sid }

// Run serves one agent connection over t (such as stdio) until the agent
// disconnects, which is a clean end, or ctx is done.
func (p *Proxy) Run(ctx context.Context, t mcp.Transport) error {
	err := p.server.Run(ctx, t)
	if err == nil || ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, mcp.ErrConnectionClosed) {
		return nil
	}
	return err
}

// Close terminates the session with StopReason and closes the backends.
// It is safe to call more than once.
func (p *Proxy) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.cancel()
		p.workers.Wait()
		p.Flush()
		if _, err := p.g.Terminate(context.WithoutCancel(ctx), p.sid, StopReason); err != nil && warden.ErrorCode(err) != warden.CodeInvalidState {
			p.closeErr = err
		}
		var wg sync.WaitGroup
		for _, b := range p.backends {
			if b.cs != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = b.cs.Close()
				}()
			}
		}
		wg.Wait()
	})
	return p.closeErr
}

// warnf writes a note for the human running the proxy.
func (p *Proxy) warnf(format string, args ...any) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.log, "warden proxy: "+format+"\n", args...)
}

// connect starts a client session with a backend and lists what it offers.
func (p *Proxy) connect(ctx context.Context, cfg Backend, version string) (*backend, error) {
	if cfg.Transport == nil {
		return nil, fmt.Errorf("backend %s: no transport", cfg.Name)
	}
	b := &backend{name: cfg.Name, signal: make(chan struct{}, 1)}
	client := mcp.NewClient(&mcp.Implementation{Name: "warden-proxy", Version: version}, &mcp.ClientOptions{
		Capabilities:               &mcp.ClientCapabilities{},
		ToolListChangedHandler:     func(context.Context, *mcp.ToolListChangedRequest) { b.markChanged(changedTools) },
		PromptListChangedHandler:   func(context.Context, *mcp.PromptListChangedRequest) { b.markChanged(changedPrompts) },
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { b.markChanged(changedResources) },
		LoggingMessageHandler: func(ctx context.Context, req *mcp.LoggingMessageRequest) {
			p.forwardLog(ctx, b, req.Params)
		},
		ProgressNotificationHandler: func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
			p.forwardProgress(ctx, req.Params)
		},
		// Input requests (elicitation on protocol 2026-07-28) pass through
		// to the agent as they are.
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
	})
	// The connection outlives ctx, which bounds only the handshake: an
	// SSE backend's event stream lives as long as the context it was
	// opened with.
	cs, err := client.Connect(ctx, detached{cfg.Transport, p}, nil)
	if err != nil {
		return nil, fmt.Errorf("backend %s: connect: %w", cfg.Name, err)
	}
	b.cs = cs
	b.caps = &mcp.ServerCapabilities{}
	if r := cs.InitializeResult(); r != nil && r.Capabilities != nil {
		b.caps = r.Capabilities
	}
	if err := b.list(ctx, changedTools|changedPrompts|changedResources); err != nil {
		cs.Close()
		return nil, fmt.Errorf("backend %s: %w", cfg.Name, err)
	}
	return b, nil
}

// detached connects a transport with a context that is never cancelled,
// and watches what the connection reads for the proxy's relays.
type detached struct {
	mcp.Transport
	p *Proxy
}

func (d detached) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := d.Transport.Connect(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	if _, ok := d.Transport.(*mcp.StreamableClientTransport); ok {
		// Its connection has methods the SDK looks for that a wrapper
		// would hide.
		return c, nil
	}
	return &watchedConn{Connection: c, p: d.p}, nil
}

// watchedConn counts, as they are read and so before any answer that
// follows them, the progress notifications meant for a relayed request.
type watchedConn struct {
	mcp.Connection
	p *Proxy
}

func (c *watchedConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	m, err := c.Connection.Read(ctx)
	if req, ok := m.(*jsonrpc.Request); ok && req.Method == "notifications/progress" {
		var params struct {
			Token any `json:"progressToken"`
		}
		if json.Unmarshal(req.Params, &params) == nil {
			if tok, ok := params.Token.(string); ok {
				if v, ok := c.p.relays.Load(tok); ok {
					v.(*relay).seen()
				}
			}
		}
	}
	return m, err
}

// connectErrors reports the backends that failed to connect, leaving out
// those stopped only because another failed first.
func connectErrors(backends []Backend, errs []error) error {
	var failed, stopped []error
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			failed = append(failed, fmt.Errorf("backend %s did not answer initialize in time (the limit is %s)", backends[i].Name, ConnectTimeout))
		case errors.Is(err, context.Canceled):
			stopped = append(stopped, err)
		default:
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		failed = stopped
	}
	return errors.Join(failed...)
}

func (b *backend) markChanged(bits int) {
	b.mu.Lock()
	b.changed |= bits
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// list fetches, every page of, what the bits name.
func (b *backend) list(ctx context.Context, bits int) error {
	b.mu.Lock()
	caps := b.caps
	b.mu.Unlock()
	var tools []*mcp.Tool
	var prompts []*mcp.Prompt
	var resources []*mcp.Resource
	var templates []*mcp.ResourceTemplate
	var err error
	if bits&changedTools != 0 && caps.Tools != nil {
		if tools, err = collect(b.cs.Tools(ctx, nil)); err != nil {
			return fmt.Errorf("tools/list: %w", err)
		}
	}
	if bits&changedPrompts != 0 && caps.Prompts != nil {
		if prompts, err = collect(b.cs.Prompts(ctx, nil)); err != nil {
			return fmt.Errorf("prompts/list: %w", err)
		}
	}
	if bits&changedResources != 0 && caps.Resources != nil {
		if resources, err = collect(b.cs.Resources(ctx, nil)); err != nil {
			return fmt.Errorf("resources/list: %w", err)
		}
		if templates, err = collect(b.cs.ResourceTemplates(ctx, nil)); err != nil {
			return fmt.Errorf("resources/templates/list: %w", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if bits&changedTools != 0 {
		b.tools = tools
	}
	if bits&changedPrompts != 0 {
		b.prompts = prompts
	}
	if bits&changedResources != 0 {
		b.resources, b.templates = resources, templates
	}
	return nil
}

func collect[T any](seq func(func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// refreshLoop lists a backend's features again whenever it says they
// changed, and updates what the proxy offers. It runs on its own goroutine
// because a notification handler must not wait for a request.
func (p *Proxy) refreshLoop(b *backend) {
	defer p.workers.Done()
	for {
		select {
		case <-p.done:
			return
		case <-b.signal:
		}
		b.mu.Lock()
		bits := b.changed
		b.changed = 0
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		err := b.list(ctx, bits)
		cancel()
		if err != nil {
			p.warnf("backend %s: listing again after a change: %v", b.name, err)
			continue
		}
		p.sync()
	}
}

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/fsserver"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/mcpproxy"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

// builtinBackend names the built-in filesystem server among backends.
const builtinBackend = "fs"

type proxyParams struct {
	config     string
	policyFile string
	dir, db    string
	http       string
	gateWait   time.Duration
	publicURL  string
}

func newProxyCmd(s Streams) *cobra.Command {
	p := &proxyParams{}
	cmd := &cobra.Command{
		Use:   "proxy (--policy POLICY [--dir D] | CONFIG.yaml)",
		Short: "Serve MCP tools to an agent, every call checked by the policy",
		Long: `Proxy is the MCP server an agent connects to. Every tools/call is
evaluated in one Warden session first: denied calls return a tool error
with the reasons and never run; gated calls wait for a human (warden
approve ID) while the agent is kept informed; allowed calls run and their
results are recorded in the ledger.

Simplified mode (--policy): Warden's built-in filesystem and command tools,
with the names and shapes of the reference filesystem MCP server plus
run_command, confined to --dir (default: the current directory). Writes
are backed up for rollback and leave evidence.

Config mode (CONFIG.yaml): any number of MCP servers over stdio, HTTP or
SSE, mirrored under their own tool names (namespaced as backend__tool
when two offer the same name). See docs/integrations/mcp-proxy.md.

The agent talks to the proxy over stdio, or over Streamable HTTP with
--http ADDR (bearer tokens required off loopback). The proxy stops, and
ends its session, when stdin closes or on SIGINT or SIGTERM. The session
lives in the project's database (default <dir>/` + DefaultDB + `), shared
with warden serve, so approvals given there reach a held call within a
second.`,
		Example: `  warden proxy --policy policy.yaml --dir .
  warden proxy warden-proxy.yaml
  warden proxy --policy policy.yaml --http 127.0.0.1:3101`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				p.config = args[0]
			}
			return runProxy(cmd.Context(), s, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.policyFile, "policy", "", "policy file: serve the built-in filesystem and command tools under it")
	f.StringVar(&p.dir, "dir", "", "the project root (default: the current directory, or the config's dir)")
	f.StringVar(&p.db, "db", "", "database file (default <dir>/"+DefaultDB+", or the config's db)")
	f.StringVar(&p.http, "http", "", "serve agents over Streamable HTTP at this address (host:port) instead of stdio")
	f.DurationVar(&p.gateWait, "gate-wait", 0, "how long a gated call is held when its gate names no timeout (default 5m, or the config's gate_wait)")
	f.StringVar(&p.publicURL, "public-url", "", "the address of warden serve, for approval links (default: the config's public_url)")
	return cmd
}

// proxySetup is what a proxy runs with, from flags or a config file.
type proxySetup struct {
	opts      mcpproxy.Options
	db        string
	transport string // agent-facing
	addr      string
	backends  []mcpproxy.BackendConfig
}

func proxySetupFrom(p *proxyParams) (*proxySetup, error) {
	su := &proxySetup{transport: mcpproxy.TransportStdio}
	switch {
	case p.config != "" && p.policyFile != "":
		return nil, usagef("give either --policy (simplified mode) or a config file, not both; the config names its policy")
	case p.config == "" && p.policyFile == "":
		return nil, usagef("proxy needs --policy POLICY (the built-in tools) or a config file: warden proxy CONFIG.yaml")
	case p.config != "" && p.dir != "":
		return nil, usagef("--dir is for simplified mode; a config file names its project root with dir: (default: the file's directory)")
	case p.config != "":
		cfg, err := mcpproxy.LoadConfig(p.config)
		if err != nil {
			return nil, err
		}
		su.opts.Root, su.db = cfg.Dir, cfg.DB
		su.opts.Metadata = cfg.SessionMetadata
		su.opts.GateWait, su.opts.PublicURL = cfg.Wait, cfg.PublicURL
		su.transport, su.addr = cfg.Transport, cfg.Addr()
		su.backends = cfg.Backends
		p.policyFile = cfg.Policy
	default:
		su.opts.Root = p.dir
		if su.opts.Root == "" {
			su.opts.Root = "."
		}
		su.opts.Builtin = &mcpproxy.Builtin{Name: builtinBackend, Tools: fsserver.Tools(), Runner: fsserver.Runner}
	}
	root, err := filepath.Abs(su.opts.Root)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "project directory %s does not exist; pass --dir with an existing directory", root)
	}
	su.opts.Root = root
	if p.db != "" {
		su.db = p.db
	}
	if su.db == "" {
		su.db = filepath.Join(root, DefaultDB)
	}
	if p.gateWait < 0 {
		return nil, usagef("--gate-wait %s: give a positive duration such as 90s or 5m", p.gateWait)
	}
	if p.gateWait > 0 {
		su.opts.GateWait = p.gateWait
	}
	if p.publicURL != "" {
		su.opts.PublicURL = p.publicURL
	}
	if p.http != "" {
		if _, _, err := net.SplitHostPort(p.http); err != nil {
			return nil, usagef("--http %q: %v; write host:port, e.g. 127.0.0.1:3101", p.http, err)
		}
		su.transport, su.addr = mcpproxy.TransportHTTP, p.http
	}
	if _, err := policy.LoadFile(p.policyFile); err != nil {
		return nil, err
	}
	src, err := os.ReadFile(p.policyFile)
	if err != nil {
		return nil, err
	}
	su.opts.Policy, su.opts.PolicyName = src, p.policyFile
	return su, nil
}

func runProxy(ctx context.Context, s Streams, p *proxyParams) error {
	// The proxy stops, ending its session, on SIGINT and SIGTERM whoever
	// runs it, not only when the caller's context says so.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	su, err := proxySetupFrom(p)
	if err != nil {
		return err
	}
	// Gates that name a webhook announce their approvals from the proxy
	// too; the callbacks go to warden serve, at the public URL.
	hook := &notify.Webhook{Logger: slog.New(slog.NewTextHandler(s.Err, nil)), BaseURL: su.opts.PublicURL}
	in, err := instance.Open(ctx, su.db, instance.Options{OnApproval: hook.Hook()})
	if err != nil {
		return err
	}
	defer in.Close()
	for _, b := range su.backends {
		su.opts.Backends = append(su.opts.Backends, mcpproxy.Backend{Name: b.Name, Transport: b.ClientTransport(s.Err)})
	}
	su.opts.Gateway, su.opts.Store = in.Gateway, sqlite.NewGatewayStore(in.DB, in.Ledger)
	su.opts.Owner, su.opts.Log, su.opts.Version = localIdentity(""), s.Err, Version

	px, err := mcpproxy.Start(ctx, su.opts)
	if err != nil {
		return err
	}
	defer px.Close(context.WithoutCancel(ctx))
	fmt.Fprintf(s.Err, "warden proxy: session %s under %s in %s\n", px.SessionID(), su.opts.PolicyName, su.opts.Root)

	switch su.transport {
	case mcpproxy.TransportStdio:
		return px.Run(ctx, mcpproxy.StdioTransport(s.In, s.Out))
	default:
		return serveProxyHTTP(ctx, s, in, px, su)
	}
}

// serveProxyHTTP serves agents over Streamable HTTP or SSE until ctx ends.
func serveProxyHTTP(ctx context.Context, s Streams, in *instance.Instance, px *mcpproxy.Proxy, su *proxySetup) error {
	ln, err := net.Listen("tcp", su.addr)
	if err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "listen on %s: %v", su.addr, err)
	}
	loopback := mcpproxy.IsLoopback(su.addr)
	handler := mcpproxy.Authenticate(in.Tokens, !loopback)(px.Handler(su.transport))
	// Event streams and held calls last as long as their requests: when the
	// proxy stops, their contexts end, or Shutdown would wait for them.
	base, stopRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRequests()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	srv.RegisterOnShutdown(stopRequests)
	path := mcpproxy.PathHTTP
	if su.transport == mcpproxy.TransportSSE {
		path = mcpproxy.PathSSE
	}
	auth := "agent tokens required (warden token create --name NAME --role agent)"
	if loopback {
		auth = "loopback: no token needed"
	}
	fmt.Fprintf(s.Err, "warden proxy: serving MCP (%s) at http://%s%s; %s\n", su.transport, ln.Addr(), path, auth)
	return serveUntilDone(ctx, srv, ln, 5*time.Second)
}

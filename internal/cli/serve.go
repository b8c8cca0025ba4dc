package cli

import (
	"github.com/wardenhq/warden/internal/instance"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/warden"
)

type serveParams struct {
	publicURL string
	addr      string
	db        string
	noAuth    bool
	policyDir string
	execRoot  string
}

func newServeCmd(s Streams) *cobra.Command {
	p := &serveParams{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API",
		Long: `Serve runs Warden's HTTP API: det-acp's session endpoints and /v1 for
sessions, approvals, policies, explain, decisions and templates, with
/healthz, /metrics and /openapi.json. State lives in the database (--db, default ` + DefaultDB + `),
so sessions and approvals survive a restart and are shared with other
Warden processes on the same file.

Requests need a bearer token. On the first start the server creates an
admin token, writes it to admin.token beside the database (mode 0600) and
says where. --no-auth is accepted on loopback addresses only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), p, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.addr, "addr", "127.0.0.1:3100", "address to listen on")
	f.StringVar(&p.db, "db", "", "database file (default "+DefaultDB+")")
	f.BoolVar(&p.noAuth, "no-auth", false, "serve without tokens (loopback only)")
	f.StringVar(&p.policyDir, "policy-dir", "", "a directory sessions may name policy files from (default: inline policies only)")
	f.StringVar(&p.execRoot, "exec-root", "", "execute actions (POST /v1/sessions/{id}/execute) for sessions whose root is inside this directory (default: execute none)")
	f.StringVar(&p.publicURL, "public-url", "", "the URL webhooks call back (default: http:// and the listen address)")
	return cmd
}

func runServe(ctx context.Context, p *serveParams, s Streams) error {
	host, _, err := net.SplitHostPort(p.addr)
	if err != nil {
		return usagef("--addr %q: %v; write host:port, e.g. 127.0.0.1:3100", p.addr, err)
	}
	if p.noAuth && !isLoopback(host) {
		return usagef("--no-auth is refused on %s: without tokens anyone who can reach the address could approve; use a loopback address or tokens", p.addr)
	}
	logger := slog.New(slog.NewJSONHandler(s.Err, nil))
	hook := &notify.Webhook{Logger: logger}
	in, err := instance.Open(ctx, p.db, instance.Options{OnApproval: hook.Hook()})
	if err != nil {
		return err
	}
	defer in.Close()
	if !p.noAuth {
		if err := firstAdminToken(ctx, in, s); err != nil {
			return err
		}
	}
	handler, err := httpapi.New(httpapi.Config{
		Gateway: in.Gateway, Tokens: in.Tokens, NoAuth: p.noAuth, PolicyDir: p.policyDir, ExecRoot: p.execRoot,
		Logger: logger, Registry: prometheus.NewRegistry(), Version: Version, Ledger: in.Ledger, Decisions: in.Decisions,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "listen on %s: %v", p.addr, err)
	}
	hook.BaseURL = p.publicURL
	if hook.BaseURL == "" {
		hook.BaseURL = "http://" + ln.Addr().String()
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(s.Out, "Warden listening on http://%s\n", ln.Addr())
	if err := serveUntilDone(ctx, srv, ln, 10*time.Second); err != nil {
		return err
	}
	fmt.Fprintln(s.Out, "Warden stopped")
	return nil
}

// serveUntilDone serves on ln until ctx ends, then shuts srv down, giving
// requests in flight up to grace to finish.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	shutErr := srv.Shutdown(shutdown)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if errors.Is(shutErr, context.DeadlineExceeded) {
		return nil // the grace ran out: what was in flight was cut off
	}
	return shutErr
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// firstAdminToken creates an admin token when the database has none, and
// writes it where only the owner can read it.
func firstAdminToken(ctx context.Context, in *instance.Instance, s Streams) error {
	list, err := in.Tokens.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range list {
		if t.Role == auth.RoleAdmin && !t.Revoked {
			return nil
		}
	}
	secret, _, err := auth.Issue(ctx, in.Tokens, "admin", auth.RoleAdmin, nil)
	if err != nil {
		return err
	}
	path := filepath.Join(in.Dir, "admin.token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	fmt.Fprintf(s.Out, "Created an admin token in %s (readable by you only). Create more with: warden token create --name NAME --role agent|approver|admin\n", path)
	return nil
}

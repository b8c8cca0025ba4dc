package cli

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/controlmcp"
	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/mcpproxy"
	"github.com/wardenhq/warden/internal/planexec"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

type mcpParams struct {
	db         string
	as         string
	actor      string
	policyFile string
	dir        string
}

func newMCPCmd(s Streams) *cobra.Command {
	p := &mcpParams{}
	cmd := &cobra.Command{
		Use:   "mcp [--db PATH] [--as NAME] [--policy POLICY [--dir D]]",
		Short: "Serve the decision control plane as MCP tools, under nexus-control's names",
		Long: `Mcp serves Warden's decisions over MCP on stdin and stdout: nexus-control's
eleven tools with their names and inputs (nexus-control.request, .approve,
.execute, .status, .inspect, .template.create, .template.get,
.template.list, .export_bundle, .import_bundle, .export_audit_package)
plus .revoke, .reject and .list. Every result is {ok: true, data} or
{ok: false, error: {code, message, details}}, as structured content and
as the same JSON in text.

Each call acts as the actor its input names ({type, id}). With --as NAME
(system:NAME for a system actor), calls that name none act as NAME;
without it, the actor is required. A decision's requester can never
approve it, and approvals count distinct identities.

Decisions live in the project's database (default ` + DefaultDB + `),
shared with warden serve and the warden CLI. Execute runs the instance's
built-in executor: a plan that is a list of actions {tool, input} runs
step by step through a policy, in a session of its own, recorded in the
ledger. A decision raised by a gate runs under its session's policy;
--policy (with --dir, the project root) gives the policy of the others,
which adapter_id "" or "builtin" selects. Audit packages are signed with
the instance's ledger key and carry the ledger proofs of the run.

The server stops when stdin closes, or on SIGINT or SIGTERM.`,
		Example: `  warden mcp
  warden mcp --db .warden/warden.db --as alice
  warden mcp --policy policy.yaml --dir .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.actor != "" {
				if p.as != "" && p.as != p.actor {
					return usagef("--as %q and --actor %q disagree; give one", p.as, p.actor)
				}
				p.as = p.actor
			}
			if p.dir != "" && p.policyFile == "" {
				return usagef("--dir is the project root of --policy's plans; give --policy too")
			}
			return runMCP(cmd.Context(), s, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.db, "db", "", "database file (default "+DefaultDB+")")
	f.StringVar(&p.as, "as", "", "the identity of calls whose input names no actor: NAME, or system:NAME (default: none, calls must name one)")
	f.StringVar(&p.actor, "actor", "", "the same as --as")
	f.StringVar(&p.policyFile, "policy", "", "the policy plans of actions run under when their decision is bound to no session")
	f.StringVar(&p.dir, "dir", "", "the project root of --policy's plans (default: the current directory)")
	return cmd
}

// mcpActor parses --as: NAME for a human, system:NAME for a system.
func mcpActor(as string) (decision.Actor, error) {
	if as == "" {
		return decision.Actor{}, nil
	}
	a := decision.Actor{Type: decision.Human, ID: as}
	if id, ok := strings.CutPrefix(as, decision.System+":"); ok {
		a = decision.Actor{Type: decision.System, ID: id}
	}
	if err := a.Validate("--as"); err != nil {
		return decision.Actor{}, usagef("%v", err)
	}
	return a, nil
}

func runMCP(ctx context.Context, s Streams, p *mcpParams) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	actor, err := mcpActor(p.as)
	if err != nil {
		return err
	}
	var target *planexec.Target
	if p.policyFile != "" {
		if _, err := policy.LoadFile(p.policyFile); err != nil {
			return err
		}
		src, err := os.ReadFile(p.policyFile)
		if err != nil {
			return err
		}
		root, err := filepath.Abs(cmp.Or(p.dir, "."))
		if err != nil {
			return err
		}
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return warden.Errorf(warden.CodeInvalidInput, "project directory %s does not exist; pass --dir with an existing directory", root)
		}
		target = &planexec.Target{Policy: src, PolicyName: p.policyFile, Root: root}
	}
	in, err := openInstance(ctx, p.db)
	if err != nil {
		return err
	}
	defer in.Close()
	if target != nil {
		if err := in.Plans.SetTarget("", *target); err != nil {
			return err
		}
	}
	audit := decision.AuditOptions{Signer: in.SigningKey, Ledger: in.Ledger}
	if sg := in.Ledger.Signer(); sg != nil {
		audit.KeyName = sg.Name()
	}
	srv, err := controlmcp.New(in.Decisions, controlmcp.Options{
		DefaultActor: actor, Version: Version, Audit: audit, Logger: slog.New(slog.NewTextHandler(s.Err, nil)),
	})
	if err != nil {
		return err
	}
	db := p.db
	if db == "" {
		db = DefaultDB
	}
	who := "calls must name their actor"
	if actor != (decision.Actor{}) {
		who = "calls without an actor act as " + actor.String()
	}
	plans := "plans of actions run under the policy of their decision's session"
	if target != nil {
		plans = "plans of actions run under " + p.policyFile + " in " + target.Root
	}
	fmt.Fprintf(s.Err, "warden mcp: serving %d decision tools on stdio, decisions in %s; %s; %s\n", len(controlmcp.ToolNames), db, who, plans)
	return srv.Run(ctx, mcpproxy.StdioTransport(s.In, s.Out))
}

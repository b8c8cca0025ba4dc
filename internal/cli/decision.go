package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/planexec"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// decisionFlags are the flags every decision and template command shares:
// the local database or a server, who to act as locally, and JSON output.
type decisionFlags struct {
	localFlags
	remoteFlags
}

func (f *decisionFlags) register(cmd *cobra.Command, identity bool) {
	f.localFlags.register(cmd, identity)
	f.remoteFlags.register(cmd)
}

// withDecisions runs fn against the local database's decision service.
func withDecisions(ctx context.Context, db string, fn func(*decision.Service) error) error {
	in, err := openInstance(ctx, db)
	if err != nil {
		return err
	}
	defer in.Close()
	return fn(in.Decisions)
}

// localActor is the decision actor a local command acts as: a person,
// --as or the OS user.
func localActor(as string) decision.Actor {
	return decision.Actor{Type: decision.Human, ID: localIdentity(as)}
}

func newDecisionCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decision",
		Short: "Request, approve, execute and inspect decisions",
		Long: `Decision works with decisions: approval requests that need N of M
distinct approvers before their plan may execute, once. Each command
works on the local database (--db, default ` + DefaultDB + `), acting as
--as or your user name, or with --server URL on that server, acting as
the token's identity (--token or $WARDEN_TOKEN).`,
	}
	cmd.AddCommand(
		newDecisionRequestCmd(s),
		newDecisionListCmd(s),
		newDecisionShowCmd(s),
		newDecisionInspectCmd(s),
		newDecisionApproveCmd(s),
		newDecisionRevokeCmd(s),
		newDecisionRejectCmd(s),
		newDecisionExecuteCmd(s),
	)
	return cmd
}

// requestParams are the flags of decision request.
type requestParams struct {
	id, goal, plan, mode, template, expires string
	minApprovals, maxSteps                  int
	labels, approvers, modes, caps          []string
}

func newDecisionRequestCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	p := &requestParams{}
	cmd := &cobra.Command{
		Use:   "request --goal G [--plan FILE] [--mode dry_run|apply] [--min-approvals N] [--template NAME] [--label k=v]... [--approver ID]... [--expires 1h]",
		Short: "Request a decision",
		Long: `Request asks for a decision. The plan file holds a list of actions
{"tool", "input"}, which the built-in executor runs, or a description:
a JSON string, or text that is not JSON; "-" reads standard input.
Without --template the request sets its own policy (one approval and dry
runs unless told otherwise); with one, the flags given may only tighten
the template's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := p.body(cmd, s.In)
			if err != nil {
				return err
			}
			var st *httpapi.DecisionStatus
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				if p.id != "" {
					return usagef("--id works on the local database only; a server chooses the ids of the decisions it is asked for")
				}
				if err := c.do(cmd.Context(), "POST", "/v1/decisions", body, &st); err != nil {
					return err
				}
			} else {
				req, err := p.request(body, localActor(f.as))
				if err != nil {
					return err
				}
				req.ID = p.id
				err = withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					d, err := svc.Create(cmd.Context(), req)
					if err == nil {
						st = httpapi.NewDecisionStatus(d, time.Now(), true)
					}
					return err
				})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, st)
			}
			fmt.Fprintf(s.Out, "Requested decision %s: %s\n", st.ID, st.Goal)
			fmt.Fprintf(s.Out, "It needs %d approval%s; approve with: warden decision approve %s\n", st.Required, pluralS(st.Required), st.ID)
			return nil
		},
	}
	f.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&p.goal, "goal", "", "what the decision is for (required)")
	fl.StringVar(&p.id, "id", "", "the decision's id (default: a random UUID; local database only)")
	fl.StringVar(&p.plan, "plan", "", "a file holding the plan: JSON, or text; - for standard input")
	fl.StringVar(&p.mode, "mode", "", "dry_run (default) or apply")
	fl.IntVar(&p.minApprovals, "min-approvals", 0, "distinct approvals needed (default 1, or the template's)")
	fl.StringVar(&p.template, "template", "", "a template to take the policy from")
	fl.StringArrayVar(&p.labels, "label", nil, "a label, such as env=prod (repeatable)")
	fl.StringArrayVar(&p.approvers, "approver", nil, "an identity that may approve (repeatable; default: anyone but you)")
	fl.StringArrayVar(&p.modes, "allowed-mode", nil, "a mode the execution may use (repeatable)")
	fl.StringArrayVar(&p.caps, "require-capability", nil, "a capability the executor's adapter must have (repeatable)")
	fl.IntVar(&p.maxSteps, "max-steps", 0, "the most steps the execution may run")
	fl.StringVar(&p.expires, "expires", "", "when the decision expires unless executed: a duration such as 1h, or an RFC 3339 time")
	return cmd
}

// body returns the request as the API's JSON body: only the flags given.
func (p *requestParams) body(cmd *cobra.Command, stdin io.Reader) (map[string]any, error) {
	if strings.TrimSpace(p.goal) == "" {
		return nil, usagef("--goal is required: say what the decision is for")
	}
	b := map[string]any{"goal": p.goal}
	changed := cmd.Flags().Changed
	if p.mode != "" {
		b["mode"] = p.mode
	}
	if p.plan != "" {
		plan, err := readPlan(p.plan, stdin)
		if err != nil {
			return nil, err
		}
		b["plan"] = plan
	}
	if changed("min-approvals") {
		b["min_approvals"] = p.minApprovals
	}
	if changed("max-steps") {
		b["max_steps"] = p.maxSteps
	}
	if p.template != "" {
		b["template_name"] = p.template
	}
	for flag, list := range map[string][]string{"label": p.labels, "approver": p.approvers, "allowed-mode": p.modes, "require-capability": p.caps} {
		if !changed(flag) {
			continue
		}
		key := map[string]string{"label": "labels", "approver": "approvers", "allowed-mode": "allowed_modes", "require-capability": "require_adapter_capabilities"}[flag]
		b[key] = list
	}
	if p.expires != "" {
		t, err := parseExpiry("--expires", p.expires)
		if err != nil {
			return nil, err
		}
		b["expires_at"] = t.Format(time.RFC3339Nano)
	}
	return b, nil
}

// request turns the JSON body into a Request by actor, as the server does.
func (p *requestParams) request(body map[string]any, actor decision.Actor) (*decision.Request, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	r, err := decision.DecodeRequest(data)
	if err != nil {
		return nil, err
	}
	r.Actor = actor
	return r, nil
}

// readPlan reads a plan file: its JSON, or its text as a JSON string.
func readPlan(path string, stdin io.Reader) (json.RawMessage, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, decision.MaxPlanLen+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--plan %s: %v", path, err)
	}
	if len(data) > decision.MaxPlanLen {
		return nil, warden.Errorf(warden.CodeTooLarge, "--plan %s: the plan is larger than %d bytes", path, decision.MaxPlanLen)
	}
	if json.Valid(data) {
		return json.RawMessage(data), nil
	}
	text, _ := json.Marshal(strings.TrimRight(string(data), "\n"))
	return text, nil
}

// parseExpiry parses a duration from now (1h, 30m) or an RFC 3339 time.
func parseExpiry(flag, v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("%s %s: give a positive duration such as 1h", flag, v)
		}
		return time.Now().Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usagef("%s %q: give a duration such as 1h or 30m, or an RFC 3339 time such as 2030-01-01T12:00:00Z", flag, v)
	}
	return t, nil
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func newDecisionListCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var states, labels []string
	var requester, template, session, cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--state S]... [--label k=v]... [--requester ID] [--template NAME]",
		Short: "List decisions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("limit") && (limit < 1 || limit > decision.MaxLimit) {
				return usagef("--limit %d: give 1 to %d", limit, decision.MaxLimit)
			}
			var page httpapi.DecisionList
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				q := url.Values{"state": states, "label": labels}
				for k, v := range map[string]string{"requester": requester, "template": template, "session": session, "cursor": cursor} {
					if v != "" {
						q.Set(k, v)
					}
				}
				if limit > 0 {
					q.Set("limit", strconv.Itoa(limit))
				}
				path := "/v1/decisions"
				if e := q.Encode(); e != "" {
					path += "?" + e
				}
				if err := c.do(cmd.Context(), "GET", path, nil, &page); err != nil {
					return err
				}
			} else {
				filter := decision.Filter{Labels: labels, Requester: requester, Template: template, SessionID: session, Limit: limit, Cursor: cursor}
				for _, st := range states {
					filter.States = append(filter.States, decision.State(st))
				}
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					p, err := svc.List(cmd.Context(), filter)
					if err != nil {
						return err
					}
					now := time.Now()
					page.Next = p.Next
					for _, d := range p.Decisions {
						page.Decisions = append(page.Decisions, httpapi.NewDecisionStatus(d, now, false))
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			if page.Decisions == nil {
				page.Decisions = []*httpapi.DecisionStatus{}
			}
			if f.json {
				return writeJSON(s, page)
			}
			if len(page.Decisions) == 0 {
				fmt.Fprintln(s.Out, "No decisions.")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tAPPROVALS\tREQUESTER\tCREATED\tGOAL")
			for _, d := range page.Decisions {
				fmt.Fprintf(tw, "%s\t%s\t%d of %d\t%s\t%s\t%s\n", d.ID, d.State, d.ActiveApprovals, d.Required, d.Requester.ID,
					d.CreatedAt.Local().Format("2006-01-02 15:04"), truncate(singleLine(d.Goal), 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Next != "" {
				fmt.Fprintf(s.Out, "More: --cursor %q\n", page.Next)
			}
			return nil
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringArrayVar(&states, "state", nil, "only decisions in this recorded state (repeatable): pending_approval, executing, completed, failed, rejected, expired")
	fl.StringArrayVar(&labels, "label", nil, "only decisions with this exact label (repeatable)")
	fl.StringVar(&requester, "requester", "", "only decisions this identity requested")
	fl.StringVar(&template, "template", "", "only decisions made from this template")
	fl.StringVar(&session, "session", "", "only decisions of this session's gates")
	fl.IntVar(&limit, "limit", 0, "page size (default 100)")
	fl.StringVar(&cursor, "cursor", "", "continue a previous listing")
	return cmd
}

// singleLine returns s with line breaks as spaces.
func singleLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// getStatus returns decision id's status, locally or from the server.
func getStatus(ctx context.Context, f *decisionFlags, id string) (*httpapi.DecisionStatus, error) {
	var st *httpapi.DecisionStatus
	if c, err := f.client(); err != nil {
		return nil, err
	} else if c != nil {
		err := c.do(ctx, "GET", "/v1/decisions/"+url.PathEscape(id), nil, &st)
		return st, err
	}
	err := withDecisions(ctx, f.db, func(svc *decision.Service) error {
		d, err := svc.Get(ctx, id)
		if err == nil {
			st = httpapi.NewDecisionStatus(d, time.Now(), true)
		}
		return err
	})
	return st, err
}

func newDecisionShowCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	cmd := &cobra.Command{
		Use:     "show ID",
		Aliases: []string{"status"},
		Short:   "Show where a decision stands",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := getStatus(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(s, st)
			}
			printStatus(s.Out, st)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

// printStatus writes a decision's status for people.
func printStatus(w io.Writer, st *httpapi.DecisionStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("Decision", "%s", st.ID)
	row("Goal", "%s", singleLine(st.Goal))
	row("State", "%s", st.State)
	row("Requester", "%s", st.Requester)
	row("Mode", "%s", st.Mode)
	var approvers []string
	for _, a := range st.Approvals {
		name := a.Actor.ID
		switch {
		case a.Revoked():
			name += " (revoked)"
		case !a.ValidAt(time.Now()):
			name += " (expired)"
		}
		approvers = append(approvers, name)
	}
	votes := fmt.Sprintf("%d of %d", st.ActiveApprovals, st.Required)
	if len(approvers) > 0 {
		votes += ": " + strings.Join(approvers, ", ")
	}
	row("Approvals", "%s", votes)
	if st.Policy != nil && len(st.Policy.Approvers) > 0 {
		row("Approvers", "%s", strings.Join(st.Policy.Approvers, ", "))
	}
	if len(st.Labels) > 0 {
		row("Labels", "%s", strings.Join(st.Labels, ", "))
	}
	if st.Template != nil {
		row("Template", "%s (%s)", st.Template.Name, st.Template.Digest)
	}
	if st.ExpiresAt != nil {
		row("Expires", "%s", st.ExpiresAt.Local().Format(time.RFC3339))
	}
	for _, b := range st.BlockingReasons {
		row("Blocked", "%s: %s", b.Code, b.Message)
	}
	if r := st.Execution; r != nil {
		run := fmt.Sprintf("%s, %s, %d step%s", dashIfEmpty(r.RunID), r.Outcome(), r.StepsExecuted, pluralS(r.StepsExecuted))
		if r.Error != "" {
			run += ": " + r.Error
		}
		row("Run", "%s", run)
	}
	tw.Flush()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func newDecisionInspectCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var markdown, events bool
	cmd := &cobra.Command{
		Use:   "inspect ID [--json|--markdown]",
		Short: "Everything about a decision, its history verified",
		Long: `Inspect replays a decision's history, checking every event digest and
that the stored state matches, and shows the verdict, the approvals, the
policy, the execution and the timeline: as Markdown (the default) or as
JSON.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if markdown && f.json {
				return usagef("--json and --markdown exclude each other")
			}
			id := args[0]
			opts := decision.InspectOptions{IncludeEvents: events}
			var in *decision.Inspection
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				path := "/v1/decisions/" + url.PathEscape(id) + "/inspect?events=" + strconv.FormatBool(events)
				if !f.json {
					var b strings.Builder
					if err := c.download(cmd.Context(), path+"&format=markdown", &b); err != nil {
						return err
					}
					_, err := io.WriteString(s.Out, b.String())
					return err
				}
				if err := c.do(cmd.Context(), "GET", path, nil, &in); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					var err error
					in, err = svc.Inspect(cmd.Context(), id, opts)
					return err
				})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, in)
			}
			_, err := io.WriteString(s.Out, in.Markdown())
			return err
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print Markdown (the default)")
	cmd.Flags().BoolVar(&events, "events", false, "include the events")
	return cmd
}

func newDecisionApproveCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var comment, expires string
	cmd := &cobra.Command{
		Use:   "approve ID [--comment C] [--expires D] [--as NAME]",
		Short: "Approve a decision",
		Long: `Approve records your approval of a decision. Approvals count distinct
identities; the requester cannot approve its own decision. With
--expires the approval stops counting after that time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			opts := decision.ApproveOptions{Comment: comment}
			body := map[string]any{}
			if comment != "" {
				body["comment"] = comment
			}
			if expires != "" {
				t, err := parseExpiry("--expires", expires)
				if err != nil {
					return err
				}
				opts.ExpiresAt, body["expires_at"] = &t, t.Format(time.RFC3339Nano)
			}
			var st *decision.ApprovalStatus
			who := localIdentity(f.as)
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				// The server knows who the token is; --as does not apply.
				who = "your"
				if err := c.do(cmd.Context(), "POST", "/v1/decisions/"+url.PathEscape(id)+"/approve", body, &st); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					var err error
					st, err = svc.Approve(cmd.Context(), id, localActor(f.as), opts)
					return err
				})
				if err != nil {
					return err
				}
				who += "'s"
			}
			if f.json {
				return writeJSON(s, st)
			}
			if st.Approved {
				fmt.Fprintf(s.Out, "Approved %s: %d of %d approvals. Execute with: warden decision execute %s\n", st.DecisionID, st.Current, st.Required, st.DecisionID)
			} else {
				fmt.Fprintf(s.Out, "Recorded %s approval of %s: %d of %d approvals.\n", who, st.DecisionID, st.Current, st.Required)
			}
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&comment, "comment", "", "a comment recorded with the approval")
	cmd.Flags().StringVar(&expires, "expires", "", "when the approval stops counting: a duration such as 1h, or an RFC 3339 time")
	return cmd
}

func newDecisionRevokeCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke ID [--reason R] [--as NAME]",
		Short: "Withdraw your approval of a decision before it executes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			var st *decision.ApprovalStatus
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "POST", "/v1/decisions/"+url.PathEscape(id)+"/revoke", map[string]any{"reason": reason}, &st); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					var err error
					st, err = svc.Revoke(cmd.Context(), id, localActor(f.as), reason)
					return err
				})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, st)
			}
			fmt.Fprintf(s.Out, "Revoked the approval of %s: %d of %d approvals.\n", st.DecisionID, st.Current, st.Required)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the revocation)")
	return cmd
}

func newDecisionRejectCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var reason string
	cmd := &cobra.Command{
		Use:   "reject ID --reason R [--as NAME]",
		Short: "Reject a decision for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason is required: say why, so the requester and the record know")
			}
			id := args[0]
			var st *httpapi.DecisionStatus
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "POST", "/v1/decisions/"+url.PathEscape(id)+"/reject", map[string]any{"reason": reason}, &st); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					d, err := svc.Reject(cmd.Context(), id, localActor(f.as), reason)
					if err == nil {
						st = httpapi.NewDecisionStatus(d, time.Now(), false)
					}
					return err
				})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, st)
			}
			fmt.Fprintf(s.Out, "Rejected %s: %s\n", st.ID, reason)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	return cmd
}

func newDecisionExecuteCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var mode, adapter, policyFile, dir string
	cmd := &cobra.Command{
		Use:   "execute ID [--mode dry_run|apply] [--adapter ID] [--policy P [--dir D]] [--as NAME]",
		Short: "Execute an approved decision, at most once",
		Long: `Execute re-checks the decision's policy against the approvals valid now,
claims its one execution and runs its plan, a list of actions, through
the built-in executor: each action is evaluated by a Warden policy and run
by its adapter (a dry run only reports what it would do), in a session of
its own whose id is the run id. The policy is that of the session a gate's
decision is bound to, of --adapter session:ID, or --policy (with the
project root --dir, default the current directory). A second execute,
here or anywhere, is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if dir != "" && policyFile == "" {
				return usagef("--dir is the project root of --policy's plans; give --policy too")
			}
			var run *decision.Run
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				if policyFile != "" {
					return usagef("--policy works on the local database only; a server runs plans under its own policies (--adapter session:ID)")
				}
				body := map[string]any{}
				if mode != "" {
					body["mode"] = mode
				}
				if adapter != "" {
					body["adapter_id"] = adapter
				}
				if err := c.do(cmd.Context(), "POST", "/v1/decisions/"+url.PathEscape(id)+"/execute", body, &run); err != nil {
					return err
				}
			} else {
				var target *planexec.Target
				if policyFile != "" {
					t, err := planTarget(policyFile, dir)
					if err != nil {
						return err
					}
					target = t
				}
				in, err := openInstance(cmd.Context(), f.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if target != nil {
					if err := in.Plans.SetTarget("", *target); err != nil {
						return err
					}
				}
				run, err = in.Decisions.Execute(cmd.Context(), id, decision.ExecuteOptions{Actor: localActor(f.as), Mode: decision.Mode(mode), AdapterID: adapter})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, run)
			}
			fmt.Fprintf(s.Out, "Executed %s (%s): run %s, %d step%s.\n", run.DecisionID, run.Mode, run.RunID, run.StepsExecuted, pluralS(run.StepsExecuted))
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&mode, "mode", "", "dry_run or apply (default: the requested mode)")
	cmd.Flags().StringVar(&adapter, "adapter", "", "where the plan runs: session:ID for a session's policy, or a registered target")
	cmd.Flags().StringVar(&policyFile, "policy", "", "the policy the plan's actions run under when the decision is bound to no session")
	cmd.Flags().StringVar(&dir, "dir", "", "the project root of --policy's plan (default: the current directory)")
	return cmd
}

// planTarget reads a policy file for the built-in executor, checking it
// first, with the project root dir (the current directory when empty).
func planTarget(file, dir string) (*planexec.Target, error) {
	if _, err := policy.LoadFile(file); err != nil {
		return nil, err
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--policy %s: %v", file, err)
	}
	if dir == "" {
		dir = "."
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--dir %s: %v", dir, err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--dir %s is not an existing directory", dir)
	}
	return &planexec.Target{Policy: src, PolicyName: file, Root: root}, nil
}

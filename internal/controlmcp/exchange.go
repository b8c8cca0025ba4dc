package controlmcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

// CodeRouterDigestMismatch is returned by export_audit_package when the
// router digest the caller gives is not the one Warden recorded for the
// run. It is nexus-control's name for the same refusal.
const CodeRouterDigestMismatch = warden.CodeRouterDigestMismatch

// The inputs of the exchange tools, with nexus-control's field names.

type exportBundleIn struct {
	DecisionID              string `json:"decision_id"`
	IncludeTemplateSnapshot *bool  `json:"include_template_snapshot"`
	IncludeRouterLink       *bool  `json:"include_router_link"`
	Render                  *bool  `json:"render"`
}

type importBundleIn struct {
	Bundle            json.RawMessage `json:"bundle"`
	VerifyDigest      *bool           `json:"verify_digest"`
	ConflictMode      string          `json:"conflict_mode"`
	ReplayAfterImport *bool           `json:"replay_after_import"`
}

type exportAuditIn struct {
	DecisionID               string          `json:"decision_id"`
	EmbedRouterBundle        bool            `json:"embed_router_bundle"`
	RouterBundle             json.RawMessage `json:"router_bundle"`
	RouterBundleDigest       *string         `json:"router_bundle_digest"`
	VerifyRouterBundleDigest *bool           `json:"verify_router_bundle_digest"`
	Render                   *bool           `json:"render"`
}

// exchangeTools are nexus-control's bundle and audit package tools.
func (s *Server) exchangeTools() []*toolDef {
	return []*toolDef{
		define(&mcp.Tool{
			Name:  ToolExportBundle,
			Title: "Export a decision bundle",
			Description: "Export a decision as a portable bundle in nexus-control's format (bundle_version 0.5): its header, " +
				"every event with its digest, the template it was made from, the link to its execution, the canonical digest " +
				"and provenance, plus Warden's hash chain. The history is verified first. nexus-control imports it unchanged.",
			Annotations: readOnly(),
		}, object("", schema{
			"decision_id":               decisionIDProp(),
			"include_template_snapshot": flag("include the template section (it changes the digest)", true),
			"include_router_link":       flag("include the link to the execution (it changes the digest)", true),
			"render":                    flag("add a Markdown summary (rendered)", true),
		}, "decision_id"), s.exportBundle),

		define(&mcp.Tool{
			Name:  ToolImportBundle,
			Title: "Import a decision bundle",
			Description: "Store the decision a bundle carries, one exported by Warden or by nexus-control. Every check runs " +
				"first and is reported by name (digests, seq order, event ids, header, template, router link, provenance, " +
				"Warden's hash chain and replay); nothing is written unless the enforced ones pass. conflict_mode says what " +
				"happens when the decision id is taken: reject_on_conflict (DECISION_EXISTS), new_decision_id, or overwrite " +
				"(atomically).",
			Annotations: writes(true, false),
		}, object("", schema{
			"bundle":              typed([]string{"object", "string"}, "the bundle, as a JSON object or as its JSON text"),
			"verify_digest":       flag("enforce every digest the bundle carries", true),
			"conflict_mode":       typed("string", "what to do when the decision id is taken", "enum", []string{decision.ImportRejectOnConflict, decision.ImportNewDecisionID, decision.ImportOverwrite}, "default", decision.ImportRejectOnConflict),
			"replay_after_import": flag("also require nexus-control's replay to pass and verify the stored decision after the write", true),
		}, "bundle"), s.importBundle),

		define(&mcp.Tool{
			Name:  ToolExportAuditPackage,
			Title: "Export an audit package",
			Description: "Export an executed decision as an audit package (package_version 0.6): its bundle bound to its run " +
				"by one binding digest, in reference mode or, with embed_router_bundle, embedding Warden's record of the run. " +
				"Warden adds the approvers' identities, the action digest, the head of the decision's hash chain and, where " +
				"the server has them, ledger inclusion proofs and an Ed25519 signature. A decision that has not executed " +
				"successfully gets NO_ROUTER_LINK. warden verify checks the package.",
			// It changes no decision, but may sign a new ledger checkpoint.
			Annotations: writes(false, true),
		}, object("", schema{
			"decision_id":         decisionIDProp(),
			"embed_router_bundle": flag("embed Warden's record of the run (embedded mode) instead of referencing it", false),
			"router_bundle": typed([]string{"object", "null"},
				"a router bundle whose integrity.canonical_digest must be the run's recorded response digest; "+
					"the package embeds Warden's own record of the run, which has that digest"),
			"router_bundle_digest": typed([]string{"string", "null"},
				"the router digest to bind; it must be the run's recorded response digest (sha256:<hex>)"),
			"verify_router_bundle_digest": flag("check a given router bundle or digest against the run (Warden always does)", true),
			"render":                      flag("add a Markdown summary (rendered)", true),
		}, "decision_id"), s.exportAuditPackage),
	}
}

func (s *Server) exportBundle(ctx context.Context, in *exportBundleIn) (any, error) {
	b, err := s.svc.ExportBundle(ctx, in.DecisionID, decision.ExportOptions{
		IncludeTemplateSnapshot: boolOr(in.IncludeTemplateSnapshot, true),
		IncludeRouterLink:       boolOr(in.IncludeRouterLink, true),
	})
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	out := struct {
		Bundle   json.RawMessage `json:"bundle"`
		Digest   string          `json:"digest"`
		Rendered *string         `json:"rendered,omitempty"`
	}{Bundle: raw, Digest: b.Integrity.CanonicalDigest}
	if boolOr(in.Render, true) {
		r := renderBundle(b)
		out.Rendered = &r
	}
	return out, nil
}

func (s *Server) importBundle(ctx context.Context, in *importBundleIn) (any, error) {
	raw := bytes.TrimSpace(in.Bundle)
	if len(raw) > 0 && raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, fieldErr([]problem{{"bundle", err.Error()}})
		}
		raw = []byte(text)
	}
	b, err := nexus.ParseBundle(raw)
	if err != nil {
		return nil, bundleErr(err)
	}
	opts := decision.ImportOptions{
		Mode: in.ConflictMode, VerifyDigest: boolOr(in.VerifyDigest, true), ReplayAfterImport: boolOr(in.ReplayAfterImport, true),
	}
	res, err := s.svc.ImportBundle(ctx, b, opts)
	if err != nil {
		return nil, err
	}
	mode := res.Mode
	imported := struct {
		DecisionID         string `json:"decision_id"`
		EventsImported     int    `json:"events_imported"`
		OriginalDecisionID string `json:"original_decision_id,omitempty"`
		NewDecisionID      string `json:"new_decision_id,omitempty"`
	}{DecisionID: res.DecisionID, EventsImported: res.EventsImported, OriginalDecisionID: res.OriginalDecisionID}
	if res.OriginalDecisionID != "" {
		imported.NewDecisionID = res.DecisionID
	}
	type replayView struct {
		OK                bool                      `json:"ok"`
		State             decision.State            `json:"state"`
		BlockingReasons   []decision.BlockingReason `json:"blocking_reasons"`
		TimelineTruncated bool                      `json:"timeline_truncated"`
	}
	out := struct {
		Imported       any           `json:"imported"`
		DigestVerified bool          `json:"digest_verified"`
		ConflictMode   string        `json:"conflict_mode"`
		Replaced       bool          `json:"replaced"`
		ReplayRan      bool          `json:"replay_ran"`
		Replay         *replayView   `json:"replay,omitempty"`
		Report         *nexus.Report `json:"report"`
	}{Imported: imported, DigestVerified: res.DigestVerified, ConflictMode: mode, Replaced: res.Replaced, ReplayRan: opts.ReplayAfterImport, Report: res.Report}
	if opts.ReplayAfterImport {
		l, err := s.svc.Lifecycle(ctx, res.DecisionID, 0)
		if err != nil {
			return nil, err
		}
		out.Replay = &replayView{OK: true, State: l.State, BlockingReasons: l.BlockingReasons, TimelineTruncated: l.TimelineTruncated}
	}
	return out, nil
}

// bundleErr is BUNDLE_INVALID_SCHEMA for a bundle that does not parse,
// naming each field at fault under "bundle".
func bundleErr(err error) error {
	var pe *nexus.ParseError
	if errors.As(err, &pe) {
		msgs := make([]string, len(pe.Problems))
		list := make([]any, len(pe.Problems))
		for i, p := range pe.Problems {
			f := "bundle"
			if p.Field != "" {
				f += "." + p.Field
			}
			msgs[i] = f + ": " + p.Problem
			list[i] = map[string]any{"field": f, "message": p.Problem}
		}
		return &warden.Error{Code: decision.CodeBundleInvalid, Message: "not a decision bundle: " + strings.Join(msgs, "; "),
			Details: map[string]any{"errors": list}}
	}
	return &warden.Error{Code: decision.CodeBundleInvalid, Message: "bundle: not a JSON document: " + strings.TrimPrefix(err.Error(), "nexus: "),
		Details: map[string]any{"errors": []any{map[string]any{"field": "bundle", "message": err.Error()}}}}
}

func (s *Server) exportAuditPackage(ctx context.Context, in *exportAuditIn) (any, error) {
	opts := s.opts.Audit
	opts.Embed = in.EmbedRouterBundle
	// A router bundle or digest from the caller is checked against the run
	// Warden recorded, always: Warden never binds a router digest it did
	// not record.
	var given, field string
	if len(in.RouterBundle) > 0 && string(in.RouterBundle) != "null" {
		var rb struct {
			Integrity struct {
				CanonicalDigest string `json:"canonical_digest"`
			} `json:"integrity"`
		}
		if err := json.Unmarshal(in.RouterBundle, &rb); err != nil || rb.Integrity.CanonicalDigest == "" {
			return nil, fieldErr([]problem{{"router_bundle.integrity.canonical_digest", "is required: the router bundle's digest"}})
		}
		given, field = rb.Integrity.CanonicalDigest, "router_bundle"
		opts.Embed = true
	}
	if in.RouterBundleDigest != nil && *in.RouterBundleDigest != "" {
		if given != "" && given != *in.RouterBundleDigest {
			return nil, fieldErr([]problem{{"router_bundle_digest", "differs from router_bundle's integrity.canonical_digest"}})
		}
		given, field = *in.RouterBundleDigest, "router_bundle_digest"
	}
	if given != "" {
		d, err := s.svc.Get(ctx, in.DecisionID)
		if err != nil {
			return nil, err
		}
		if d.Execution != nil && d.Execution.ResponseDigest != "" && d.Execution.ResponseDigest != given {
			return nil, &warden.Error{Code: CodeRouterDigestMismatch,
				Message: fmt.Sprintf("%s: %s is not the digest Warden recorded for run %s (%s)", field, given, d.Execution.RunID, d.Execution.ResponseDigest),
				Details: map[string]any{"field": field, "expected": d.Execution.ResponseDigest, "actual": given}}
		}
	}
	p, err := s.svc.ExportAuditPackage(ctx, in.DecisionID, opts)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Package  json.RawMessage `json:"package"`
		Digest   string          `json:"digest"`
		Rendered *string         `json:"rendered,omitempty"`
	}{Package: raw, Digest: p.Integrity.BindingDigest}
	if boolOr(in.Render, true) {
		r := renderPackage(p)
		out.Rendered = &r
	}
	return out, nil
}

// renderBundle summarises a bundle in Markdown.
func renderBundle(b *nexus.Bundle) string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Decision bundle\n\n")
	fmt.Fprintf(&w, "- Bundle version: %s\n- Digest: `%s`\n\n", b.BundleVersion, b.Integrity.CanonicalDigest)
	writeHeader(&w, &b.Decision)
	fmt.Fprintf(&w, "## Events\n\n- Count: %d\n", len(b.Events))
	if n := len(b.Events); n > 0 {
		fmt.Fprintf(&w, "- First: #%d %s\n- Last: #%d %s\n", b.Events[0].Seq, b.Events[0].Type, b.Events[n-1].Seq, b.Events[n-1].Type)
	}
	w.WriteString("\n## Template\n\n")
	if t := b.TemplateSnapshot; t != nil && t.Present && t.Name != nil {
		fmt.Fprintf(&w, "- Name: %s\n", oneLine(*t.Name))
		if t.Digest != nil {
			fmt.Fprintf(&w, "- Digest: `%s`\n", *t.Digest)
		}
		if len(t.Overrides) > 0 && string(t.Overrides) != "null" {
			var ov map[string]any
			if json.Unmarshal(t.Overrides, &ov) == nil && len(ov) > 0 {
				keys := make([]string, 0, len(ov))
				for k := range ov {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				fmt.Fprintf(&w, "- Overrides: %s\n", strings.Join(keys, ", "))
			}
		}
	} else {
		w.WriteString("- none\n")
	}
	w.WriteString("\n## Router link\n\n")
	if l := b.RouterLink; l != nil && l.RunID != nil {
		fmt.Fprintf(&w, "- Run: `%s`\n", oneLine(*l.RunID))
		if l.AdapterID != nil {
			fmt.Fprintf(&w, "- Adapter: %s\n", oneLine(*l.AdapterID))
		}
		if l.ControlRouterLinkDigest != nil {
			fmt.Fprintf(&w, "- Link digest: `%s`\n", *l.ControlRouterLinkDigest)
		}
	} else {
		w.WriteString("- not executed\n")
	}
	fmt.Fprintf(&w, "\n## Integrity\n\n- Algorithm: %s\n- Digest: `%s`\n", b.Integrity.Alg, b.Integrity.CanonicalDigest)
	return w.String()
}

// renderPackage summarises an audit package in Markdown.
func renderPackage(p *nexus.AuditPackage) string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Audit package\n\n")
	fmt.Fprintf(&w, "- Package version: %s\n- Binding digest: `%s`\n\n", p.PackageVersion, p.Integrity.BindingDigest)
	w.WriteString("## Control bundle\n\n")
	writeFields(&w, &p.ControlBundle.Decision)
	fmt.Fprintf(&w, "- Digest: `%s`\n\n", p.ControlBundle.Integrity.CanonicalDigest)
	fmt.Fprintf(&w, "## Router\n\n- Mode: %s\n", p.Router.Mode)
	switch {
	case p.Router.Ref != nil:
		fmt.Fprintf(&w, "- Run: `%s`\n- Digest: `%s`\n", oneLine(p.Router.Ref.RunID), p.Router.Ref.Digest)
	case p.Router.Bundle != nil:
		var rb struct {
			RunID     string `json:"run_id"`
			Integrity struct {
				CanonicalDigest string `json:"canonical_digest"`
			} `json:"integrity"`
		}
		_ = json.Unmarshal(p.Router.Bundle, &rb)
		fmt.Fprintf(&w, "- Run: `%s`\n- Digest: `%s`\n", oneLine(rb.RunID), rb.Integrity.CanonicalDigest)
	}
	fmt.Fprintf(&w, "\n## Binding\n\n- Control digest: `%s`\n- Router digest: `%s`\n- Link digest: `%s`\n\n",
		p.Binding.ControlDigest, p.Binding.RouterDigest, p.Binding.ControlRouterLinkDigest)
	if x := p.Warden; x != nil {
		w.WriteString("## Warden\n\n")
		if x.ActionDigest != nil {
			fmt.Fprintf(&w, "- Action digest: `%s`\n", *x.ActionDigest)
		}
		ids := make([]string, len(x.Approvers))
		for i, a := range x.Approvers {
			ids[i] = oneLine(a.Actor.ID)
		}
		fmt.Fprintf(&w, "- Approved by: %s\n", orNone(strings.Join(ids, ", ")))
		if x.Signature != nil {
			key := "unnamed key"
			if x.Signature.KeyID != nil {
				key = *x.Signature.KeyID
			}
			fmt.Fprintf(&w, "- Signature: %s by `%s`\n", x.Signature.Alg, key)
		} else {
			w.WriteString("- Signature: none\n")
		}
		if x.Checkpoint != nil {
			var proofs []json.RawMessage
			_ = json.Unmarshal(x.InclusionProofs, &proofs)
			fmt.Fprintf(&w, "- Ledger: checkpoint with %d inclusion proof(s)\n", len(proofs))
		}
		w.WriteString("\n")
	}
	fmt.Fprintf(&w, "## Integrity\n\n- Algorithm: %s\n- Binding digest: `%s`\n", p.Integrity.Alg, p.Integrity.BindingDigest)
	return w.String()
}

func writeHeader(w *strings.Builder, h *nexus.BundleDecision) {
	w.WriteString("## Decision\n\n")
	writeFields(w, h)
	w.WriteString("\n")
}

func writeFields(w *strings.Builder, h *nexus.BundleDecision) {
	goal := "—"
	if h.Goal != nil {
		goal = oneLine(*h.Goal)
	}
	fmt.Fprintf(w, "- ID: `%s`\n- Status: %s\n- Mode: %s\n- Goal: %s\n", oneLine(h.DecisionID), h.Status, h.Mode, goal)
	if h.CreatedAt != "" {
		fmt.Fprintf(w, "- Created: %s\n", oneLine(h.CreatedAt))
	}
}

// oneLine keeps a value on one line, so that it cannot forge Markdown
// structure.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "`", "'").Replace(s)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

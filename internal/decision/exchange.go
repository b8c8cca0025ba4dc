package decision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

// The error codes of bundles and audit packages, as the shared set names
// them (nexus-control's names).
const (
	// CodeConflictModeInvalid is returned for an import conflict mode
	// other than the three of ImportOptions.Mode.
	CodeConflictModeInvalid = warden.CodeConflictModeInvalid
	// CodeBundleInvalid is returned for a bundle that is not one Warden can
	// read: a missing bundle, another bundle_version.
	CodeBundleInvalid = warden.CodeBundleInvalid
	// CodeNoRouterLink is returned when an audit package is asked of a
	// decision without an execution that has a run id and a response
	// digest.
	CodeNoRouterLink = warden.CodeNoRouterLink
)

// The conflict modes of ImportBundle, nexus-control's three.
const (
	// ImportRejectOnConflict refuses a bundle whose decision id is taken
	// (DECISION_EXISTS). It is the default.
	ImportRejectOnConflict = "reject_on_conflict"
	// ImportNewDecisionID imports a bundle whose decision id is taken under
	// a new id; a free id is kept.
	ImportNewDecisionID = "new_decision_id"
	// ImportOverwrite replaces the decision with the bundle's id, if there
	// is one, in one atomic write.
	ImportOverwrite = "overwrite"
)

// BundleExtension is the top-level key under which a bundle exported by
// Warden carries Warden's own hash chain ([BundleChain]). It sits outside
// the part of the bundle its canonical digest covers, as every unknown
// top-level key does, so nexus-control, which drops keys it does not know
// before it recomputes a digest, verifies and imports Warden's bundles
// unchanged. Nothing is lost by leaving it out of that digest: the chain
// is derived from the events, which the digest covers, and an import
// recomputes it.
const BundleExtension = "warden"

// BundleChain is the content of a bundle's BundleExtension: the digest of
// each event in Warden's hash chain, in seq order, so that an import can
// check that the events it rebuilds from the bundle are exactly the ones
// Warden exported.
type BundleChain struct {
	Version      int      `json:"version"`
	EventDigests []string `json:"event_digests"`
}

// ExportOptions qualify ExportBundle. nexus-control includes both sections
// by default; an audit package always includes them.
type ExportOptions struct {
	// IncludeTemplateSnapshot writes the template section of a decision
	// made from a template; otherwise {"present": false}.
	IncludeTemplateSnapshot bool `json:"include_template_snapshot"`
	// IncludeRouterLink writes the link to the decision's execution;
	// otherwise {}.
	IncludeRouterLink bool `json:"include_router_link"`
}

// ExportBundle exports decision id as a nexus-control decision bundle
// (bundle_version "0.5"), built from its history, which is verified and
// replayed first: a history that does not verify is not exported. Each event is
// written as nexus-control writes it: the same type, its payload under
// nexus-control's keys with unprefixed hex digests and Python isoformat
// timestamps, the actor {type, id}, the event digest over {event_type,
// payload}. Warden's own payload fields (the gate's session and action,
// expiries, approvers, the run's steps) stay in the payloads, where
// nexus-control ignores them, and Warden's hash chain travels in the
// BundleExtension. The bundle passes nexus.VerifyBundle, and ImportBundle
// rebuilds exactly the same history from it.
func (s *Service) ExportBundle(ctx context.Context, id string, opts ExportOptions) (*nexus.Bundle, error) {
	b, _, err := s.exportBundle(ctx, id, opts)
	return b, err
}

// exportBundle is ExportBundle, also returning the replayed decision.
func (s *Service) exportBundle(ctx context.Context, id string, opts ExportOptions) (*nexus.Bundle, *Decision, error) {
	events, err := s.Events(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	d, err := Replay(id, events)
	if err != nil {
		return nil, nil, err
	}
	nev, err := NexusEvents(events)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	b, err := nexus.BuildBundle(id, nev, nexus.BundleOptions{
		OmitTemplateSnapshot: !opts.IncludeTemplateSnapshot,
		OmitRouterLink:       !opts.IncludeRouterLink,
		Now:                  now,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("export decision %s: %w", id, err)
	}
	chain := BundleChain{Version: 1, EventDigests: make([]string, len(events))}
	for i := range events {
		chain.EventDigests[i] = events[i].Digest
	}
	raw, err := json.Marshal(chain)
	if err != nil {
		return nil, nil, err
	}
	b.Extra = map[string]json.RawMessage{BundleExtension: raw}
	return b, d, nil
}

// ImportOptions qualify ImportBundle.
type ImportOptions struct {
	// Mode is the conflict mode: ImportRejectOnConflict (the default when
	// empty), ImportNewDecisionID or ImportOverwrite.
	Mode string `json:"conflict_mode,omitempty"`
	// VerifyDigest enforces every digest the bundle carries: its
	// canonical digest, each event's digest, its provenance, the header,
	// template section and router link against the events, and Warden's
	// hash chain when the bundle has one. nexus-control verifies by
	// default; so should callers. Without it those checks are reported
	// but not enforced, and the history is hashed afresh.
	VerifyDigest bool `json:"verify_digest"`
	// ReplayAfterImport also requires the events to replay under
	// nexus-control's own rules, and re-reads the stored decision and
	// verifies it after the write. Warden's own replay, under its stricter
	// state machine, runs on every import before anything is written,
	// flag or not: a store never holds a history that does not replay.
	ReplayAfterImport bool `json:"replay_after_import"`
}

// ImportResult is what ImportBundle did.
type ImportResult struct {
	// DecisionID is the id the decision was stored under.
	DecisionID string `json:"decision_id"`
	// OriginalDecisionID is the bundle's decision id when it differs from
	// DecisionID (ImportNewDecisionID on a conflict).
	OriginalDecisionID string `json:"original_decision_id,omitempty"`
	// Mode is the conflict mode applied.
	Mode string `json:"conflict_mode"`
	// Replaced reports that an existing decision was overwritten.
	Replaced bool `json:"replaced"`
	// EventsImported is the number of events stored.
	EventsImported int `json:"events_imported"`
	// DigestVerified reports whether the bundle's digests were enforced.
	DigestVerified bool `json:"digest_verified"`
	// Report holds every check of the bundle, nexus-control's and
	// Warden's (CheckWardenChain, CheckWardenReplay and, after the write,
	// CheckStoredReplay).
	Report *nexus.Report `json:"report"`
}

// Names of the checks ImportBundle adds to a bundle's report.
const (
	// CheckWardenChain names the check that the events rebuilt from the
	// bundle hash to the chain it carries.
	CheckWardenChain = "warden_chain"
	// CheckWardenReplay names the check that the events replay under
	// Warden's state machine.
	CheckWardenReplay = "warden_replay"
	// CheckStoredReplay names the check, with ReplayAfterImport, that the
	// stored decision verifies and replays after the write.
	CheckStoredReplay = "stored_replay"
)

// ImportBundle stores the decision a bundle carries. It verifies first:
// nexus.VerifyBundle's checks (the digests, the seq order, the event ids,
// the header, the template section, the router link, the provenance), then
// Warden's. The events are rebuilt as Warden events (the inverse of
// ExportBundle's mapping: a bundle that Warden exported comes back
// exactly, which its carried chain proves; one exported by nexus-control
// gets a new chain) and must replay under Warden's state machine. Only
// then is anything written, under the conflict mode:
//
//   - ImportRejectOnConflict: a taken id gets DECISION_EXISTS;
//   - ImportNewDecisionID: a taken id is replaced by a new one;
//   - ImportOverwrite: the existing decision and its history are replaced
//     in one transaction (Store.Replace), so a failure leaves it intact.
//
// Errors: CONFLICT_MODE_INVALID, BUNDLE_INVALID_SCHEMA, INTEGRITY_MISMATCH
// (a digest check), REPLAY_INVALID (seq order, replay), DECISION_EXISTS.
// When verification fails the result is returned with the error, its
// Report naming every check that failed.
func (s *Service) ImportBundle(ctx context.Context, b *nexus.Bundle, opts ImportOptions) (*ImportResult, error) {
	mode := opts.Mode
	if mode == "" {
		mode = ImportRejectOnConflict
	}
	switch mode {
	case ImportRejectOnConflict, ImportNewDecisionID, ImportOverwrite:
	default:
		return nil, &warden.Error{Code: CodeConflictModeInvalid,
			Message: fmt.Sprintf("conflict_mode %q is not one of %s, %s, %s", mode, ImportRejectOnConflict, ImportNewDecisionID, ImportOverwrite)}
	}
	if b == nil {
		return nil, warden.Errorf(CodeBundleInvalid, "no bundle")
	}
	res := &ImportResult{Mode: mode, DigestVerified: opts.VerifyDigest}
	res.Report = nexus.VerifyBundle(b, nexus.VerifyOptions{})
	orig := b.Decision.DecisionID

	// Warden's checks: the history rebuilt, its chain, its replay.
	events, chainCheck, err := wardenEvents(b, opts.VerifyDigest)
	if err == nil {
		// Events that cannot be rebuilt have no chain to check; the
		// replay check below reports why.
		res.Report.Add(chainCheck)
	}
	var d *Decision
	replay := nexus.Check{Name: CheckWardenReplay}
	switch {
	case err != nil:
		replay.Message = "not replayed: " + err.Error()
	case checkID(orig) != nil:
		replay.Message = "decision_id: " + checkID(orig).Error()
	default:
		if d, err = Replay(orig, events); err != nil {
			replay.Message = err.Error()
		} else {
			replay.OK, replay.Message = true, fmt.Sprintf("%d events replay under Warden's state machine to state %s", len(events), d.State)
		}
	}
	res.Report.Add(replay)
	if err := importVerdict(res.Report, opts); err != nil {
		return res, err
	}

	target := orig
	switch mode {
	case ImportOverwrite:
		unlock := s.locks.lock(target)
		_, lerr := s.store.Load(ctx, target, []string{})
		existed := lerr == nil
		if lerr != nil && !errors.Is(lerr, ErrNotFound) {
			unlock()
			return res, lerr
		}
		err := s.store.Replace(ctx, d, events)
		unlock()
		if err != nil {
			return res, s.storeErr(err, target)
		}
		res.Replaced = existed
	default:
		for attempt := 1; ; attempt++ {
			err := s.store.Append(ctx, d, events)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrExists) || mode == ImportRejectOnConflict || attempt == maxAttempts {
				return res, s.storeErr(err, target)
			}
			target = s.newID()
			for i := range events {
				events[i].DecisionID = target
			}
			if d, err = Replay(target, events); err != nil {
				return res, err
			}
		}
	}
	res.DecisionID, res.EventsImported = target, len(events)
	if target != orig {
		res.OriginalDecisionID = orig
	}
	if opts.ReplayAfterImport {
		c := nexus.Check{Name: CheckStoredReplay}
		if _, err := s.Verify(ctx, target); err != nil {
			c.Message = "the stored decision does not verify: " + err.Error()
			res.Report.Add(c)
			return res, err
		}
		c.OK, c.Message = true, "the stored decision "+target+" verifies and replays to the imported state"
		res.Report.Add(c)
	}
	return res, nil
}

// importVerdict returns the error for the checks of an import report that
// failed and that opts enforce, or nil.
func importVerdict(r *nexus.Report, opts ImportOptions) error {
	enforced := map[string]warden.Code{
		nexus.CheckBundleVersion: CodeBundleInvalid,
		nexus.CheckEventSequence: CodeReplayInvalid,
		nexus.CheckEventIdentity: CodeIntegrityMismatch,
		CheckWardenChain:         CodeIntegrityMismatch,
		CheckWardenReplay:        CodeReplayInvalid,
	}
	if opts.VerifyDigest {
		for _, n := range []string{nexus.CheckBundleDigest, nexus.CheckEventDigests, nexus.CheckProvenance,
			nexus.CheckDecisionHeader, nexus.CheckTemplateSnapshot, nexus.CheckRouterLink} {
			enforced[n] = CodeIntegrityMismatch
		}
	}
	if opts.ReplayAfterImport {
		enforced[nexus.CheckReplay] = CodeReplayInvalid
	}
	var failed []nexus.Check
	var code warden.Code
	for _, c := range r.Failed() {
		cc, ok := enforced[c.Name]
		if !ok {
			continue
		}
		failed = append(failed, c)
		// The first failure in the report's order names the error, except
		// that a bundle Warden cannot read at all comes first.
		if code == "" || cc == CodeBundleInvalid {
			code = cc
		}
	}
	if len(failed) == 0 {
		return nil
	}
	parts := make([]string, len(failed))
	list := make([]any, len(failed))
	for i, c := range failed {
		parts[i] = c.Name + ": " + c.Message
		list[i] = c
	}
	return &warden.Error{Code: code,
		Message: fmt.Sprintf("the bundle fails %d check(s): %s", len(failed), strings.Join(parts, "; ")),
		Details: map[string]any{"checks": list}}
}

// wardenEvents rebuilds a bundle's events as Warden events and hashes
// them into a chain, and checks the chain the bundle carries, if any, when
// verify is set.
func wardenEvents(b *nexus.Bundle, verify bool) ([]Event, nexus.Check, error) {
	c := nexus.Check{Name: CheckWardenChain}
	id := b.Decision.DecisionID
	events := make([]Event, len(b.Events))
	var labels []string
	prev := ""
	for i := range b.Events {
		e, err := fromNexus(&b.Events[i], labels)
		if err != nil {
			c.Message = "not checked: " + err.Error()
			return nil, c, err
		}
		if e.Type == DecisionCreated {
			var p CreatedPayload
			if json.Unmarshal(e.Payload, &p) == nil {
				labels = p.Labels
			}
		}
		e.DecisionID, e.Prev = id, prev
		if e.Digest, err = e.ComputeDigest(); err != nil {
			err = replayErr(e.Seq, e.Type, "%v", err)
			c.Message = "not checked: " + err.Error()
			return nil, c, err
		}
		events[i], prev = e, e.Digest
	}

	raw, ok := b.Extra[BundleExtension]
	if !ok {
		c.OK, c.Message = true, "the bundle carries no Warden chain (not exported by Warden); the history was hashed afresh"
		return events, c, nil
	}
	var chain BundleChain
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&chain); err != nil || chain.Version != 1 {
		c.Message = fmt.Sprintf("the %q section is not a version 1 Warden chain", BundleExtension)
		if !verify {
			c.OK, c.Message = true, c.Message+"; ignored (digests not verified)"
		}
		return events, c, nil
	}
	bad := ""
	switch {
	case len(chain.EventDigests) != len(events):
		bad = fmt.Sprintf("the chain lists %d digests for %d events", len(chain.EventDigests), len(events))
		c.Expected, c.Actual = fmt.Sprint(len(events)), fmt.Sprint(len(chain.EventDigests))
	default:
		for i := range events {
			if chain.EventDigests[i] != events[i].Digest {
				bad = fmt.Sprintf("event %d (%s) rebuilds to Warden digest %s, the bundle's chain says %s",
					events[i].Seq, events[i].Type, events[i].Digest, chain.EventDigests[i])
				c.Expected, c.Actual = events[i].Digest, chain.EventDigests[i]
				break
			}
		}
	}
	switch {
	case bad == "":
		c.OK, c.Message = true, fmt.Sprintf("all %d events rebuild to the Warden hash chain the bundle carries", len(events))
	case verify:
		c.Message = bad
	default:
		c.OK, c.Expected, c.Actual = true, "", ""
		c.Message = bad + "; ignored (digests not verified), the history was hashed afresh"
	}
	return events, c, nil
}

// NexusEvents returns a decision's Warden events as nexus-control writes
// them, ready for nexus.BuildBundle: each with its seq, type, timestamp
// (nexus.FormatTimestamp), actor and payload under nexus-control's keys,
// and no digest (BuildBundle computes it). The mapping is the inverse of
// the one ImportBundle applies, so nothing is lost.
func NexusEvents(events []Event) ([]nexus.Event, error) {
	out := make([]nexus.Event, len(events))
	var labels json.RawMessage
	for i := range events {
		e := &events[i]
		p, err := toNexusPayload(e, labels)
		if err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", e.Seq, e.Type, err)
		}
		if e.Type == DecisionCreated {
			var f map[string]json.RawMessage
			if err := json.Unmarshal(e.Payload, &f); err != nil {
				return nil, err
			}
			labels = f["labels"]
		}
		out[i] = nexus.Event{
			Seq: e.Seq, Type: string(e.Type), Payload: p, TS: nexus.FormatTimestamp(e.TS),
			Actor: nexus.Actor{Type: e.Actor.Type, ID: e.Actor.ID},
		}
	}
	return out, nil
}

// toNexusPayload maps a Warden payload to nexus-control's form. labels
// are the decision's labels, which nexus-control repeats in
// POLICY_ATTACHED.
func toNexusPayload(e *Event, labels json.RawMessage) (json.RawMessage, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &f); err != nil {
		return nil, err
	}
	var err error
	convert := func(key string, fn func(json.RawMessage) (json.RawMessage, error)) {
		if v, ok := f[key]; ok && err == nil && string(v) != "null" {
			f[key], err = fn(v)
		}
	}
	switch e.Type {
	case DecisionCreated, DecisionExpired, ApprovalGranted:
		convert("expires_at", pyTime)
	case PolicyAttached:
		if _, ok := f["max_steps"]; !ok {
			f["max_steps"] = json.RawMessage("null")
		}
		if labels == nil {
			labels = json.RawMessage("[]")
		}
		f["labels"] = labels
		if _, ok := f["template_name"]; ok {
			convert("template_digest", unprefix)
			convert("template_snapshot", nexusSnapshot)
			if _, ok := f["overrides_applied"]; !ok {
				f["overrides_applied"] = json.RawMessage("{}")
			}
		}
	case ExecutionRequested:
		delete(f, "mode") // dry_run says it
	case ExecutionStarted:
		convert("router_request_digest", unprefix)
	case ExecutionCompleted:
		convert("response_digest", unprefix)
	}
	if err != nil {
		return nil, err
	}
	return nexus.Marshal(f)
}

// pyTime rewrites a JSON timestamp as Python's isoformat writes it.
func pyTime(v json.RawMessage) (json.RawMessage, error) {
	var t time.Time
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, err
	}
	return json.Marshal(nexus.FormatTimestamp(t))
}

// unprefix rewrites a "sha256:<hex>" digest as the bare hex nexus-control
// records.
func unprefix(v json.RawMessage) (json.RawMessage, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, err
	}
	if !canon.IsDigest(s) {
		return nil, fmt.Errorf("%q is not a sha256 digest", s)
	}
	return json.Marshal(nexus.StripDigestPrefix(s))
}

// nexusSnapshotFields is a template snapshot as nexus-control embeds it,
// with Warden's additions (approvers, self-approval, loosening) as keys
// nexus-control ignores.
type nexusSnapshotFields struct {
	Name                string   `json:"template_name"`
	Description         string   `json:"template_description"`
	MinApprovals        int      `json:"min_approvals"`
	AllowedModes        []Mode   `json:"allowed_modes"`
	RequireCapabilities []string `json:"require_adapter_capabilities"`
	MaxSteps            *int     `json:"max_steps"`
	Labels              []string `json:"labels"`
	Approvers           []string `json:"approvers,omitempty"`
	AllowSelfApproval   bool     `json:"allow_self_approval,omitempty"`
	AllowLoosening      bool     `json:"allow_loosening,omitempty"`
}

// nexusSnapshot rewrites Warden's template snapshot in nexus-control's
// shape.
func nexusSnapshot(v json.RawMessage) (json.RawMessage, error) {
	var t TemplateSnapshot
	if err := strictDecode(v, &t); err != nil {
		return nil, fmt.Errorf("template_snapshot: %w", err)
	}
	n := nexusSnapshotFields{
		Name: t.Name, Description: t.Description, MinApprovals: t.MinApprovals, AllowedModes: t.AllowedModes,
		RequireCapabilities: orEmpty(t.RequireCapabilities), Labels: orEmpty(t.Labels),
		Approvers: t.Approvers, AllowSelfApproval: t.AllowSelfApproval, AllowLoosening: t.AllowLoosening,
	}
	if t.MaxSteps > 0 {
		n.MaxSteps = &t.MaxSteps
	}
	return json.Marshal(n)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// strictDecode decodes one JSON value into v, refusing unknown keys.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the value")
	}
	return nil
}

// The payloads of a bundle's events as ImportBundle reads them:
// nexus-control's keys plus the ones Warden adds. Anything else is
// refused rather than dropped.
type (
	nxCreated struct {
		Goal          string          `json:"goal"`
		Plan          json.RawMessage `json:"plan"`
		RequestedMode Mode            `json:"requested_mode"`
		Labels        []string        `json:"labels"`
		ExpiresAt     *string         `json:"expires_at"`
		SessionID     string          `json:"session_id"`
		Action        *warden.Action  `json:"action"`
		ActionDigest  string          `json:"action_digest"`
	}
	nxPolicy struct {
		MinApprovals        int             `json:"min_approvals"`
		AllowedModes        []Mode          `json:"allowed_modes"`
		RequireCapabilities []string        `json:"require_adapter_capabilities"`
		MaxSteps            *int            `json:"max_steps"`
		Labels              []string        `json:"labels"`
		Approvers           []string        `json:"approvers"`
		AllowSelfApproval   bool            `json:"allow_self_approval"`
		TemplateName        string          `json:"template_name"`
		TemplateDigest      string          `json:"template_digest"`
		TemplateSnapshot    json.RawMessage `json:"template_snapshot"`
		OverridesApplied    map[string]any  `json:"overrides_applied"`
	}
	nxGranted struct {
		ExpiresAt *string `json:"expires_at"`
		Comment   *string `json:"comment"`
	}
	nxReason struct {
		Reason string `json:"reason"`
	}
	nxRequested struct {
		AdapterID string `json:"adapter_id"`
		DryRun    *bool  `json:"dry_run"`
	}
	nxStarted struct {
		RequestDigest string `json:"router_request_digest"`
	}
	nxCompleted struct {
		RunID          string `json:"run_id"`
		ResponseDigest string `json:"response_digest"`
		StepsExecuted  *int   `json:"steps_executed"`
		Steps          []Step `json:"steps"`
	}
	nxExpired struct {
		ExpiresAt string `json:"expires_at"`
	}
)

// fromNexus rebuilds a Warden event, without decision id, prev and digest,
// from a bundle event; labels are the decision's labels so far.
func fromNexus(ne *nexus.Event, labels []string) (Event, error) {
	typ := EventType(ne.Type)
	e := Event{Seq: ne.Seq, Type: typ, Actor: Actor{Type: ne.Actor.Type, ID: ne.Actor.ID}}
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, replayErr(ne.Seq, typ, format, args...)
	}
	if len(ne.Actor.Extra) > 0 {
		return bad("the actor has fields other than type and id")
	}
	ts, err := parsePyTime(ne.TS)
	if err != nil {
		return bad("ts: %v", err)
	}
	e.TS = ts
	payload := ne.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	decode := func(v any) error {
		if err := strictDecode(payload, v); err != nil {
			return replayErr(ne.Seq, typ, "payload: %v", err)
		}
		return nil
	}
	var p any
	switch typ {
	case DecisionCreated:
		var n nxCreated
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		c := CreatedPayload{Goal: n.Goal, Labels: orEmpty(n.Labels), RequestedMode: n.RequestedMode,
			SessionID: n.SessionID, Action: n.Action, ActionDigest: n.ActionDigest}
		if len(n.Plan) > 0 && string(n.Plan) != "null" {
			c.Plan = n.Plan
		}
		if n.ExpiresAt != nil {
			t, err := parsePyTime(*n.ExpiresAt)
			if err != nil {
				return bad("payload.expires_at: %v", err)
			}
			c.ExpiresAt = &t
		}
		p = c
	case PolicyAttached:
		var n nxPolicy
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		if n.Labels != nil && !slices.Equal(n.Labels, labels) && (len(n.Labels) > 0 || len(labels) > 0) {
			return bad("payload.labels %q differ from the decision's labels %q", n.Labels, labels)
		}
		pp := PolicyPayload{Policy: Policy{
			MinApprovals: n.MinApprovals, AllowedModes: n.AllowedModes, RequireCapabilities: orEmpty(n.RequireCapabilities),
			Approvers: n.Approvers, AllowSelfApproval: n.AllowSelfApproval,
		}}
		if len(pp.Approvers) == 0 {
			pp.Approvers = nil
		}
		if n.MaxSteps != nil {
			pp.MaxSteps = *n.MaxSteps
		}
		if n.TemplateName != "" {
			pp.TemplateName = n.TemplateName
			if n.TemplateDigest != "" {
				if !nexus.IsHexDigest(n.TemplateDigest) {
					return bad("payload.template_digest %q is not 64 hex digits", n.TemplateDigest)
				}
				pp.TemplateDigest = nexus.PrefixDigest(n.TemplateDigest)
			}
			if len(n.TemplateSnapshot) > 0 && string(n.TemplateSnapshot) != "null" {
				var ns nexusSnapshotFields
				if err := strictDecode(n.TemplateSnapshot, &ns); err != nil {
					return bad("payload.template_snapshot: %v", err)
				}
				ts := &TemplateSnapshot{Name: ns.Name, Description: ns.Description, TemplateContent: TemplateContent{
					Policy: Policy{MinApprovals: ns.MinApprovals, AllowedModes: ns.AllowedModes,
						RequireCapabilities: orEmpty(ns.RequireCapabilities), Approvers: ns.Approvers, AllowSelfApproval: ns.AllowSelfApproval},
					Labels: orEmpty(ns.Labels), AllowLoosening: ns.AllowLoosening,
				}}
				if ns.MaxSteps != nil {
					ts.MaxSteps = *ns.MaxSteps
				}
				if len(ts.Approvers) == 0 {
					ts.Approvers = nil
				}
				pp.TemplateSnapshot = ts
			}
			if len(n.OverridesApplied) > 0 {
				pp.OverridesApplied = n.OverridesApplied
			}
		}
		p = pp
	case ApprovalGranted:
		var n nxGranted
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		g := GrantedPayload{}
		if n.Comment != nil {
			g.Comment = *n.Comment
		}
		if n.ExpiresAt != nil && *n.ExpiresAt != "" {
			t, err := parsePyTime(*n.ExpiresAt)
			if err != nil {
				return bad("payload.expires_at: %v", err)
			}
			g.ExpiresAt = &t
		}
		p = g
	case ApprovalRevoked, DecisionRejected:
		var n nxReason
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		p = ReasonPayload(n)
	case ExecutionRequested:
		var n nxRequested
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		if n.DryRun == nil {
			return bad("payload.dry_run is missing")
		}
		mode := Apply
		if *n.DryRun {
			mode = DryRun
		}
		p = RequestedPayload{AdapterID: n.AdapterID, DryRun: *n.DryRun, Mode: mode}
	case ExecutionStarted:
		var n nxStarted
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		if !nexus.IsHexDigest(n.RequestDigest) {
			return bad("payload.router_request_digest %q is not 64 hex digits", n.RequestDigest)
		}
		p = StartedPayload{RequestDigest: nexus.PrefixDigest(n.RequestDigest)}
	case ExecutionCompleted:
		var n nxCompleted
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		if !nexus.IsHexDigest(n.ResponseDigest) {
			return bad("payload.response_digest %q is not 64 hex digits", n.ResponseDigest)
		}
		c := CompletedPayload{RunID: n.RunID, ResponseDigest: nexus.PrefixDigest(n.ResponseDigest), Steps: n.Steps}
		if n.StepsExecuted != nil {
			c.StepsExecuted = *n.StepsExecuted
		}
		p = c
	case ExecutionFailed:
		var n FailedPayload
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		p = n
	case DecisionExpired:
		var n nxExpired
		if err := decode(&n); err != nil {
			return Event{}, err
		}
		t, err := parsePyTime(n.ExpiresAt)
		if err != nil {
			return bad("payload.expires_at: %v", err)
		}
		p = ExpiredPayload{ExpiresAt: t}
	default:
		return bad("Warden does not know this event type")
	}
	if e.Payload, err = marshalPayload(p); err != nil {
		return bad("%v", err)
	}
	return e, nil
}

// parsePyTime parses a timestamp as nexus-control writes it (Python's
// isoformat of an aware datetime, "2025-01-15T10:00:00.123456+00:00") or
// RFC 3339, into UTC at microsecond precision. A time without offset is
// refused: it names no instant.
func parsePyTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time with a UTC offset", s)
	}
	if t.Nanosecond()%1000 != 0 {
		return time.Time{}, fmt.Errorf("%q is finer than a microsecond", s)
	}
	return Stamp(t), nil
}

// VerifyExport verifies a bundle or an audit package document, whichever
// data is, as `warden verify` does: nexus.Verify's checks (every check of
// the document, the Warden signature when opts.PublicKey is set or the
// package is signed) plus, for a package with ledger proofs, CheckLedger,
// which checks the proofs and, when opts.PublicKey is set, that the
// checkpoint is signed by the same key. The error reports a document
// that is neither or does not parse; a document that fails a check gives a
// report whose OK is false.
func VerifyExport(data []byte, opts nexus.VerifyOptions) (*nexus.Report, error) {
	opts.AuditChecks = append(slices.Clip(opts.AuditChecks), LedgerCheck(opts.PublicKey))
	return nexus.Verify(data, opts)
}

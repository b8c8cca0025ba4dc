package decision

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

// AuditOptions qualify ExportAuditPackage.
type AuditOptions struct {
	// Embed carries Warden's run record in the package as the router
	// bundle (embedded mode); otherwise the router is referenced by run
	// id and response digest (reference mode).
	Embed bool
	// Signer, when set, signs the package: an Ed25519 signature over the
	// binding digest and the Warden extension (nexus.SignAuditPackage).
	// An instance signs with its ledger signing key.
	Signer ed25519.PrivateKey
	// KeyName names the signing key in the extension ("key_name"), such
	// as the ledger key's name; it is covered by the signature.
	KeyName string
	// Approvers are the approvers' identities as an edge authenticated
	// them; nil derives them from the approvals that counted when the
	// decision executed (actor only, no separate identity).
	Approvers []nexus.ApproverIdentity
	// ActionDigest is the digest of the gated call the decision approved;
	// "" takes the decision's own (a decision raised by a gate has one).
	ActionDigest string
	// Ledger, when set, adds the ledger's latest signed checkpoint and the
	// inclusion proofs of the decision's ledger entries: those of the
	// gate in the decision's session, and every entry of the session the
	// run executed in when the run id names one (the built-in executor's
	// runs do).
	Ledger *ledger.Ledger
}

// The keys Warden adds to the extension of an audit package, besides the
// ones nexus.WardenExtension names. The signature covers them.
const (
	// ExtDecisionHead is the digest of the last event of the decision's
	// Warden hash chain, which commits to its whole history.
	ExtDecisionHead = "decision_head"
	// ExtKeyName is AuditOptions.KeyName.
	ExtKeyName = "key_name"
	// ExtRouterBundleDigest is, in embedded mode, the RFC 8785 digest of
	// the embedded run record, whose body nexus-control never hashes.
	ExtRouterBundleDigest = "router_bundle_digest"
)

// RunRecord is the router bundle of an audit package in embedded mode:
// the decision's run as Warden recorded it. Its integrity digest is the
// run's response digest, as nexus-control expects of a router bundle.
type RunRecord struct {
	RunID          string            `json:"run_id"`
	DecisionID     string            `json:"decision_id"`
	AdapterID      string            `json:"adapter_id"`
	Mode           Mode              `json:"mode"`
	RequestDigest  string            `json:"request_digest"`
	ResponseDigest string            `json:"response_digest"`
	StepsExecuted  int               `json:"steps_executed"`
	Steps          []Step            `json:"steps"`
	Integrity      map[string]string `json:"integrity"`
}

// ExportAuditPackage exports an audit package (package_version "0.6") of
// executed decision id: its bundle, with the template section and the
// router link, bound to its run, in reference or embedded mode, with
// Warden's extension: the action digest, the approvers' identities, the
// head of the decision's hash chain, the ledger checkpoint and inclusion
// proofs (with opts.Ledger) and, with opts.Signer, the Ed25519 signature.
// A decision without a run id and response digest (never executed, or
// failed) gets NO_ROUTER_LINK.
func (s *Service) ExportAuditPackage(ctx context.Context, id string, opts AuditOptions) (*nexus.AuditPackage, error) {
	b, d, err := s.exportBundle(ctx, id, ExportOptions{IncludeTemplateSnapshot: true, IncludeRouterLink: true})
	if err != nil {
		return nil, err
	}
	run := d.Execution
	if run == nil || run.RunID == "" || run.ResponseDigest == "" {
		return nil, warden.Errorf(CodeNoRouterLink, "decision %s has no router execution link: audit packages need an executed decision", id)
	}
	aopts := nexus.AuditOptions{ExportedAt: nexus.FormatTimestamp(s.now())}
	ext := &nexus.WardenExtension{Extra: map[string]json.RawMessage{}}
	if opts.Embed {
		rec := RunRecord{
			RunID: run.RunID, DecisionID: d.ID, AdapterID: run.AdapterID, Mode: run.Mode,
			RequestDigest: run.RequestDigest, ResponseDigest: run.ResponseDigest, StepsExecuted: run.StepsExecuted,
			Steps: run.Steps, Integrity: map[string]string{"alg": "sha256", "canonical_digest": run.ResponseDigest},
		}
		if rec.Steps == nil {
			rec.Steps = []Step{}
		}
		body, err := canon.Marshal(rec)
		if err != nil {
			return nil, err
		}
		aopts.RouterBundle = body
		ext.Extra[ExtRouterBundleDigest] = jsonString(canon.Digest(body))
	}
	p, err := nexus.BuildAuditPackage(b, aopts)
	if err != nil {
		if errors.Is(err, nexus.ErrNoRouterLink) {
			return nil, warden.Errorf(CodeNoRouterLink, "decision %s: %v", id, err)
		}
		return nil, fmt.Errorf("audit package of decision %s: %w", id, err)
	}

	if ad := cmpOr(opts.ActionDigest, d.ActionDigest); ad != "" {
		ext.ActionDigest = &ad
	}
	ext.Approvers = opts.Approvers
	if ext.Approvers == nil {
		ext.Approvers = countedApprovers(d)
	}
	ext.Extra[ExtDecisionHead] = jsonString(d.Head)
	if opts.KeyName != "" {
		ext.Extra[ExtKeyName] = jsonString(opts.KeyName)
	}
	if opts.Ledger != nil {
		if ext.Checkpoint, ext.InclusionProofs, err = ledgerProofs(ctx, opts.Ledger, d); err != nil {
			return nil, fmt.Errorf("audit package of decision %s: ledger proofs: %w", id, err)
		}
	}
	p.Warden = ext
	if opts.Signer != nil {
		if err := nexus.SignAuditPackage(p, opts.Signer); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// countedApprovers returns the approvers whose approval counted when the
// decision's execution was claimed, by identity.
func countedApprovers(d *Decision) []nexus.ApproverIdentity {
	out := []nexus.ApproverIdentity{}
	at := d.Execution.RequestedAt
	for _, a := range d.ApprovalList() {
		if !a.GrantedAt.After(at) && a.ValidAt(at) {
			out = append(out, nexus.ApproverIdentity{Actor: nexus.Actor{Type: a.Actor.Type, ID: a.Actor.ID}})
		}
	}
	return out
}

// LedgerCheckpoint is the checkpoint of an audit package's Warden
// extension: the signed tree head the inclusion proofs are relative to.
type LedgerCheckpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	// Root is the tree's root hash, standard base64.
	Root string `json:"root"`
	// Note is the signed note (ledger.Checkpoint.Note).
	Note string `json:"note"`
	// VerifierKey is the ledger's verifier key, as the exporter declared
	// it; a verifier should hold its own copy.
	VerifierKey string `json:"verifier_key"`
}

// LedgerProof is one inclusion proof of an audit package's Warden
// extension: a ledger entry and the RFC 6962 proof that it is the leaf at
// Index of the checkpoint's tree.
type LedgerProof struct {
	Index int64        `json:"index"`
	Entry ledger.Entry `json:"entry"`
	// Proof is the audit path, each hash in standard base64.
	Proof []string `json:"proof"`
}

// maxProvenEntries bounds the entries an audit package proves, so that a
// session with a very long history does not make the package huge.
const maxProvenEntries = 4096

// ledgerProofs returns the checkpoint and the inclusion proofs of the
// decision's ledger entries: the entries about its gated call in its
// session, and those of the session its run id names, if any.
func ledgerProofs(ctx context.Context, l *ledger.Ledger, d *Decision) (json.RawMessage, json.RawMessage, error) {
	var entries []ledger.Entry
	if d.SessionID != "" && d.ActionDigest != "" {
		all, err := l.Store().Entries(ctx, d.SessionID, 0, 0)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, gateEntries(all, d.ActionDigest)...)
	}
	if run := d.Execution; run != nil && run.RunID != "" && run.RunID != d.SessionID && len(run.RunID) <= ledger.MaxSessionIDLen {
		all, err := l.Store().Entries(ctx, run.RunID, 0, maxProvenEntries)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, all...)
	}
	if len(entries) == 0 {
		return nil, nil, nil
	}
	if len(entries) > maxProvenEntries {
		entries = entries[:maxProvenEntries]
	}
	last := int64(0)
	for _, e := range entries {
		last = max(last, e.Index)
	}
	cp, ok, err := l.Store().LatestCheckpoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	if ok && cp.Size > last {
		if root, err := l.TreeHash(ctx, cp.Size); err != nil || root != cp.Root {
			ok = false
		}
	}
	if !ok || cp.Size <= last {
		if cp, err = l.Checkpoint(ctx); err != nil {
			return nil, nil, err
		}
	}
	vkey := ""
	if l.Signer() != nil {
		vkey = l.Signer().VerifierKey()
	}
	cpj, err := json.Marshal(LedgerCheckpoint{Origin: cp.Origin, Size: cp.Size,
		Root: base64.StdEncoding.EncodeToString(cp.Root[:]), Note: string(cp.Note), VerifierKey: vkey})
	if err != nil {
		return nil, nil, err
	}
	proofs := make([]LedgerProof, len(entries))
	for i, e := range entries {
		p, err := l.ProveInclusion(ctx, e.Index, cp.Size)
		if err != nil {
			return nil, nil, err
		}
		lp := LedgerProof{Index: e.Index, Entry: e, Proof: make([]string, len(p))}
		for j, h := range p {
			lp.Proof[j] = base64.StdEncoding.EncodeToString(h[:])
		}
		proofs[i] = lp
	}
	pj, err := json.Marshal(proofs)
	if err != nil {
		return nil, nil, err
	}
	return cpj, pj, nil
}

// gateEntries returns a session's ledger entries about the call whose
// digest is digest: those that carry the digest (its evaluations, the
// gate's request and use) and those of the same actions and approvals
// (votes, the approval, the results).
func gateEntries(all []ledger.Entry, digest string) []ledger.Entry {
	type refs struct {
		Digest     string `json:"digest"`
		ActionID   string `json:"actionId"`
		ApprovalID string `json:"approvalId"`
	}
	parsed := make([]refs, len(all))
	actions, approvals := map[string]bool{}, map[string]bool{}
	for i, e := range all {
		_ = json.Unmarshal(e.Data, &parsed[i])
		if parsed[i].Digest == digest {
			if parsed[i].ActionID != "" {
				actions[parsed[i].ActionID] = true
			}
			if parsed[i].ApprovalID != "" {
				approvals[parsed[i].ApprovalID] = true
			}
		}
	}
	var out []ledger.Entry
	for i, e := range all {
		r := parsed[i]
		if r.Digest == digest || r.ActionID != "" && actions[r.ActionID] || r.ApprovalID != "" && approvals[r.ApprovalID] {
			out = append(out, e)
		}
	}
	return out
}

// CheckLedger names the check of an audit package's ledger checkpoint and
// inclusion proofs.
const CheckLedger = "warden_ledger"

// LedgerCheck returns the audit check of a package's ledger proofs: the
// checkpoint's signature, every proved entry's hash, and every inclusion
// proof against the checkpoint. With pub, the checkpoint must be signed
// by that key (an instance signs packages and checkpoints with the same
// ledger key); without, it is checked against the key the package
// declares, which proves consistency but not origin. A package without
// proofs passes with a message saying so.
func LedgerCheck(pub ed25519.PublicKey) nexus.AuditCheck {
	return func(p *nexus.AuditPackage, _ *nexus.Report) nexus.Check {
		c := nexus.Check{Name: CheckLedger}
		fail := func(format string, args ...any) nexus.Check {
			c.Message = fmt.Sprintf(format, args...)
			return c
		}
		if p.Warden == nil || p.Warden.Checkpoint == nil {
			if p.Warden != nil && p.Warden.InclusionProofs != nil {
				return fail("the package has inclusion proofs but no checkpoint")
			}
			c.OK, c.Message = true, "no ledger checkpoint or inclusion proofs to check"
			return c
		}
		var cp LedgerCheckpoint
		if err := strictDecode(p.Warden.Checkpoint, &cp); err != nil {
			return fail("warden.checkpoint: %v", err)
		}
		key := cp.VerifierKey
		authenticated := false
		if pub != nil {
			name, _, _ := strings.Cut(cp.VerifierKey, "+")
			k, err := note.NewEd25519VerifierKey(name, pub)
			if err != nil {
				return fail("the verifying key: %v", err)
			}
			key, authenticated = k, true
		}
		opened, err := ledger.OpenCheckpoint([]byte(cp.Note), []string{key})
		if err != nil {
			if authenticated {
				return fail("the checkpoint is not signed by the given key: %v", err)
			}
			return fail("the checkpoint's signature does not verify with the key it declares: %v", err)
		}
		if opened.Size != cp.Size || base64.StdEncoding.EncodeToString(opened.Root[:]) != cp.Root || opened.Origin != cp.Origin {
			return fail("the checkpoint's size, root or origin differ from its signed note")
		}
		var proofs []LedgerProof
		if p.Warden.InclusionProofs != nil {
			if err := json.Unmarshal(p.Warden.InclusionProofs, &proofs); err != nil {
				return fail("warden.inclusion_proofs: %v", err)
			}
		}
		digestSeen := false
		for i, lp := range proofs {
			leaf, err := lp.Entry.Leaf()
			if err != nil {
				return fail("inclusion_proofs[%d]: the entry does not verify: %v", i, err)
			}
			proof := make(tlog.RecordProof, len(lp.Proof))
			for j, s := range lp.Proof {
				raw, err := base64.StdEncoding.DecodeString(s)
				if err != nil || len(raw) != len(tlog.Hash{}) {
					return fail("inclusion_proofs[%d].proof[%d] is not a base64 hash", i, j)
				}
				copy(proof[j][:], raw)
			}
			if err := ledger.CheckInclusion(proof, opened.Size, opened.Root, lp.Index, leaf); err != nil {
				return fail("inclusion_proofs[%d] (session %s, seq %d): %v", i, lp.Entry.SessionID, lp.Entry.Seq, err)
			}
			if ad := p.Warden.ActionDigest; ad != nil && strings.Contains(string(lp.Entry.Data), `"digest":"`+*ad+`"`) {
				digestSeen = true
			}
		}
		if ad := p.Warden.ActionDigest; ad != nil && len(proofs) > 0 && !digestSeen && gateProofsExpected(p) {
			return fail("no proved ledger entry carries the action digest %s", *ad)
		}
		how := "signed by the given key"
		if !authenticated {
			how = "signed by the key the package declares (give the public key to authenticate it)"
		}
		c.OK = true
		c.Message = fmt.Sprintf("checkpoint of tree size %d %s; %d ledger entries verify and are included", opened.Size, how, len(proofs))
		return c
	}
}

// gateProofsExpected reports whether a package's proofs should cover its
// action digest: when the decision is bound to a session, which its
// DECISION_CREATED payload says.
func gateProofsExpected(p *nexus.AuditPackage) bool {
	for _, e := range p.ControlBundle.Events {
		if e.Type == string(DecisionCreated) {
			var c struct {
				SessionID string `json:"session_id"`
			}
			_ = json.Unmarshal(e.Payload, &c)
			return c.SessionID != ""
		}
	}
	return false
}

// SigningKey returns the Ed25519 private key of a ledger private key in
// note format ("PRIVATE+KEY+<name>+<hash>+<base64>"), the key an instance
// signs its checkpoints and its audit packages with.
func SigningKey(skey string) (ed25519.PrivateKey, error) {
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("not a private key in note format")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 private key")
	}
	return ed25519.NewKeyFromSeed(raw[1:]), nil
}

// VerifierPublicKey returns the Ed25519 public key of a ledger verifier
// key ("<name>+<hash>+<base64>"), the key that verifies an instance's
// checkpoints and audit packages.
func VerifierPublicKey(vkey string) (ed25519.PublicKey, error) {
	if _, err := note.NewVerifier(strings.TrimSpace(vkey)); err != nil {
		return nil, err
	}
	parts := strings.SplitN(strings.TrimSpace(vkey), "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 verifier key")
	}
	return slices.Clone(ed25519.PublicKey(raw[1:])), nil
}

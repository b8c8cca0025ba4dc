package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/warden"
)

// ledgerFor returns the ledger, or an error saying the server has none.
func (s *server) ledgerFor() (*ledger.Ledger, error) {
	if s.ledger == nil {
		return nil, warden.Errorf(warden.CodeNotFound, "this server keeps no ledger")
	}
	return s.ledger, nil
}

// sessionEntries returns the entries of a session the principal may see.
func (s *server) sessionEntries(r *http.Request, p auth.Principal) ([]ledger.Entry, error) {
	l, err := s.ledgerFor()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return nil, err
	}
	return l.Store().Entries(r.Context(), id, 0, 0)
}

// detLedger answers det-acp's GET /sessions/{id}/ledger: the session's
// entries filtered by ?types=a,b&limit=N&offset=N.
func (s *server) detLedger(r *http.Request, p auth.Principal) (int, any, error) {
	entries, err := s.sessionEntries(r, p)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	f := ledger.Filter{}
	if t := q.Get("types"); t != "" {
		f.Types = strings.Split(t, ",")
	}
	for name, dst := range map[string]*int{"limit": &f.Limit, "offset": &f.Offset} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, nil, invalid("query parameter %s must be a whole number ≥ 0, not %q", name, v)
			}
			*dst = n
		}
	}
	got := ledger.Query(entries, f)
	if got == nil {
		got = []ledger.Entry{}
	}
	return http.StatusOK, map[string]any{"entries": got, "total": len(entries), "returned": len(got)}, nil
}

// detLedgerSummary answers GET /sessions/{id}/ledger/summary.
func (s *server) detLedgerSummary(r *http.Request, p auth.Principal) (int, any, error) {
	entries, err := s.sessionEntries(r, p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"summary": ledger.Summarize(entries)}, nil
}

// detLedgerVerify answers GET /sessions/{id}/ledger/verify with det-acp's
// integrity report over the stored chain: every hash recomputed and every
// link followed.
func (s *server) detLedgerVerify(r *http.Request, p auth.Principal) (int, any, error) {
	entries, err := s.sessionEntries(r, p)
	if err != nil {
		return 0, nil, err
	}
	integrity := map[string]any{"valid": true, "totalEntries": len(entries), "firstSeq": 0, "lastSeq": 0}
	if len(entries) > 0 {
		integrity["firstSeq"], integrity["lastSeq"] = entries[0].Seq, entries[len(entries)-1].Seq
	}
	prev := ledger.Genesis
	for i, e := range entries {
		msg := ""
		switch {
		case e.Seq != int64(i+1):
			msg = "seq " + strconv.FormatInt(e.Seq, 10) + " out of order"
		case e.Prev != prev:
			msg = "hash chain broken at seq " + strconv.FormatInt(e.Seq, 10)
		default:
			if err := e.Verify(); err != nil {
				msg = "hash mismatch at seq " + strconv.FormatInt(e.Seq, 10)
			}
		}
		if msg != "" {
			integrity["valid"], integrity["brokenAt"], integrity["error"] = false, e.Seq, msg
			break
		}
		prev = e.Hash
	}
	return http.StatusOK, map[string]any{"integrity": integrity}, nil
}

// v1Ledger answers GET /v1/sessions/{id}/ledger: every entry of the session.
func (s *server) v1Ledger(r *http.Request, p auth.Principal) (int, any, error) {
	entries, err := s.sessionEntries(r, p)
	if err != nil {
		return 0, nil, err
	}
	if entries == nil {
		entries = []ledger.Entry{}
	}
	return http.StatusOK, map[string]any{"entries": entries, "total": len(entries)}, nil
}

// v1LedgerExport answers GET /v1/sessions/{id}/ledger/export with the
// bytes warden ledger export writes: the entries as JSONL and the signed
// trailer. It is built whole before the first byte is sent, so that a
// failure is still answered as an error.
func (s *server) v1LedgerExport(r *http.Request, p auth.Principal) (int, any, error) {
	l, err := s.signedLedger()
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	var buf bytes.Buffer
	if err := l.Export(r.Context(), &buf, id); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return 0, nil, warden.Errorf(warden.CodeNotFound, "session %q has no ledger entries", id)
		}
		return 0, nil, err
	}
	return http.StatusOK, blob{contentType: jsonlType, data: buf.Bytes()}, nil
}

// jsonlType is the media type of ledger exports.
const jsonlType = "application/x-ndjson"

// signedLedger returns the ledger if it signs, or an error saying what the
// server lacks.
func (s *server) signedLedger() (*ledger.Ledger, error) {
	l, err := s.ledgerFor()
	if err != nil {
		return nil, err
	}
	if l.Signer() == nil {
		return nil, warden.Errorf(warden.CodeNotFound, "this server does not sign its ledger")
	}
	return l, nil
}

// v1Checkpoint answers GET /v1/ledger/checkpoint: a checkpoint signed now
// over the whole ledger, with the key that verifies it.
func (s *server) v1Checkpoint(r *http.Request, _ auth.Principal) (int, any, error) {
	l, err := s.signedLedger()
	if err != nil {
		return 0, nil, err
	}
	c, err := l.Checkpoint(r.Context())
	if errors.Is(err, ledger.ErrNotFound) {
		return 0, nil, warden.Errorf(warden.CodeNotFound, "the ledger is empty: there is nothing to checkpoint yet")
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"origin": c.Origin, "size": c.Size, "root": base64.StdEncoding.EncodeToString(c.Root[:]),
		"note": string(c.Note), "verifierKey": l.Signer().VerifierKey(),
	}, nil
}

// v1Proof answers GET /v1/ledger/proof?index=N[&size=M]: the RFC 6962
// inclusion proof of entry N in the tree of the first M entries.
func (s *server) v1Proof(r *http.Request, _ auth.Principal) (int, any, error) {
	l, err := s.ledgerFor()
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	size, err := l.Store().TreeSize(ctx)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	index, err := strconv.ParseInt(q.Get("index"), 10, 64)
	if err != nil {
		return 0, nil, invalid("query parameter index must be an entry's index in the tree, such as index=0")
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > size {
			return 0, nil, invalid("query parameter size must be between 1 and the tree size %d", size)
		}
		size = n
	}
	if index < 0 || index >= size {
		return 0, nil, invalid("index %d is outside the tree of %d entries", index, size)
	}
	proof, err := l.ProveInclusion(ctx, index, size)
	if err != nil {
		return 0, nil, err
	}
	root, err := l.TreeHash(ctx, size)
	if err != nil {
		return 0, nil, err
	}
	hashes := make([]string, len(proof))
	for i, h := range proof {
		hashes[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return http.StatusOK, map[string]any{"index": index, "size": size, "root": base64.StdEncoding.EncodeToString(root[:]), "proof": hashes}, nil
}

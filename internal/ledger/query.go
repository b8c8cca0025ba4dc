package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Filter selects entries for Query, with det-acp's queryLedger semantics.
type Filter struct {
	// SessionID keeps entries of this session (empty: any).
	SessionID string
	// Types keeps entries whose type is listed (empty: any).
	Types []string
	// After keeps entries strictly later than this time (zero: unset).
	After time.Time
	// Before keeps entries strictly earlier than this time (zero: unset).
	Before time.Time
	// Limit keeps at most this many entries (0 or less: unset).
	Limit int
	// Offset skips this many entries first (0 or less: unset).
	Offset int
}

// Query returns the entries that pass f, in their original order. Filters
// apply in det-acp's order: sessionId, types, after, before, then offset,
// then limit. An entry whose ts does not parse fails any time filter.
func Query(entries []Entry, f Filter) []Entry {
	out := []Entry{}
	for _, e := range entries {
		if f.SessionID != "" && e.SessionID != f.SessionID {
			continue
		}
		if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
			continue
		}
		if !f.After.IsZero() || !f.Before.IsZero() {
			ts, err := ParseTime(e.TS)
			if err != nil {
				continue
			}
			if !f.After.IsZero() && !ts.After(f.After) {
				continue
			}
			if !f.Before.IsZero() && !ts.Before(f.Before) {
				continue
			}
		}
		out = append(out, e)
	}
	if f.Offset > 0 {
		if f.Offset >= len(out) {
			return []Entry{}
		}
		out = out[f.Offset:]
	}
	if f.Limit > 0 && f.Limit < len(out) {
		out = out[:f.Limit]
	}
	return out
}

// Summary is a session's activity counted from its ledger entries. The JSON
// field names are det-acp's summarizeSessionLedger report, except that
// termination reasons are not reported as "errors".
type Summary struct {
	SessionID            string        `json:"sessionId"`
	TotalEntries         int           `json:"totalEntries"`
	StateChanges         []StateChange `json:"stateChanges"`
	ActionsEvaluated     int           `json:"actionsEvaluated"`
	ActionsAllowed       int           `json:"actionsAllowed"`
	ActionsDenied        int           `json:"actionsDenied"`
	ActionsGated         int           `json:"actionsGated"`
	ResultsRecorded      int           `json:"resultsRecorded"`
	ActionsRolledBack    int           `json:"actionsRolledBack"`
	GatesRequested       int           `json:"gatesRequested"`
	GatesApproved        int           `json:"gatesApproved"`
	GatesRejected        int           `json:"gatesRejected"`
	EscalationsTriggered int           `json:"escalationsTriggered"`
	// Errors are the error messages of failed action results (action:result
	// with success false). det-acp put termination reasons here.
	Errors []string `json:"errors"`
	// Terminated reports a session:terminate entry.
	Terminated bool `json:"terminated"`
	// TerminationReason is the reason of the last session:terminate entry.
	TerminationReason string `json:"terminationReason,omitempty"`
}

// StateChange is one session:state_change entry.
type StateChange struct {
	From string `json:"from"`
	To   string `json:"to"`
	TS   string `json:"ts"`
}

// Summarize counts a session's activity from its entries: evaluations by
// verdict (action:evaluate data "verdict": allow, deny or gate), results,
// rollbacks, gates, escalations, state changes, failed results and the
// termination reason. SessionID is set when all entries share one session.
// Data that is not an object, or lacks a field, counts as absent.
func Summarize(entries []Entry) Summary {
	s := Summary{TotalEntries: len(entries), StateChanges: []StateChange{}, Errors: []string{}}
	for i, e := range entries {
		if i == 0 {
			s.SessionID = e.SessionID
		} else if e.SessionID != s.SessionID {
			s.SessionID = ""
		}
		var d struct {
			Verdict *string `json:"verdict"`
			Success *bool   `json:"success"`
			Error   any     `json:"error"`
			Reason  *string `json:"reason"`
			From    *string `json:"from"`
			To      *string `json:"to"`
		}
		// Lenient: a field of the wrong type simply counts as absent.
		if bytes.HasPrefix(bytes.TrimSpace(e.Data), []byte("{")) {
			_ = json.Unmarshal(e.Data, &d)
		}
		switch e.Type {
		case "action:evaluate":
			s.ActionsEvaluated++
			if d.Verdict != nil {
				switch *d.Verdict {
				case "allow":
					s.ActionsAllowed++
				case "deny":
					s.ActionsDenied++
				case "gate":
					s.ActionsGated++
				}
			}
		case "action:result":
			s.ResultsRecorded++
			if d.Success != nil && !*d.Success {
				msg := "action failed"
				switch x := d.Error.(type) {
				case string:
					msg = x
				case nil:
				default:
					if b, err := json.Marshal(x); err == nil {
						msg = string(b)
					}
				}
				s.Errors = append(s.Errors, msg)
			}
		case "action:rollback":
			s.ActionsRolledBack++
		case "gate:requested":
			s.GatesRequested++
		case "gate:approved":
			s.GatesApproved++
		case "gate:rejected":
			s.GatesRejected++
		case "escalation:triggered":
			s.EscalationsTriggered++
		case "session:state_change":
			sc := StateChange{TS: e.TS}
			if d.From != nil {
				sc.From = *d.From
			}
			if d.To != nil {
				sc.To = *d.To
			}
			s.StateChanges = append(s.StateChanges, sc)
		case "session:terminate":
			s.Terminated = true
			s.TerminationReason = ""
			if d.Reason != nil {
				s.TerminationReason = *d.Reason
			}
		}
	}
	return s
}

// ReadEntries reads the entries of a Warden export or a det-acp ledger file,
// in file order, without verifying hashes or signatures (use Verify for
// that). Lines must parse strictly; trailing blank lines and CRLF endings
// are accepted. An export's trailer is not returned as an entry, but gives
// each proven entry its Index; other entries have Index -1. Data is kept as
// it appears in the file.
func ReadEntries(r io.Reader) ([]Entry, error) {
	lr := newLineReader(r)
	var (
		entries   []Entry
		blank     int
		tr        *trailerBody
		trailerAt int
	)
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lr.line+1, err)
		}
		if isBlank(line) {
			if blank == 0 {
				blank = lr.line
			}
			continue
		}
		if blank != 0 && (len(entries) > 0 || tr != nil) {
			return nil, fmt.Errorf("%w: line %d: blank line between entries", ErrInvalid, blank)
		}
		blank = 0
		if trailerAt != 0 {
			return nil, fmt.Errorf("%w: line %d: content after the trailer on line %d", ErrInvalid, lr.line, trailerAt)
		}
		if isTrailer(line) {
			t, err := parseTrailer(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lr.line, err)
			}
			tr, trailerAt = &t, lr.line
			continue
		}
		raw, err := parseEntryLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lr.line, err)
		}
		entries = append(entries, Entry{
			Seq: raw.seq, TS: raw.ts, Hash: raw.hash, Prev: raw.prev,
			SessionID: raw.sessionID, Type: raw.typ, Data: bytes.Clone(raw.data), Index: -1,
		})
	}
	if entries == nil {
		entries = []Entry{}
	}
	if tr != nil {
		for _, p := range tr.Proofs {
			if p.Seq >= 1 && p.Seq <= int64(len(entries)) && entries[p.Seq-1].Seq == p.Seq && p.Index >= 0 {
				entries[p.Seq-1].Index = p.Index
			}
		}
	}
	return entries, nil
}

package gateway

import "testing"

func TestMemStore(t *testing.T) {
	StoreConformance(t, func(*testing.T) Store { return memLedger{NewMemStore()} })
}

// memLedger lets the suite read MemStore's ledger back.
type memLedger struct{ *MemStore }

func (m memLedger) LedgerTypes(_ *testing.T, sessionID string) []string {
	var out []string
	for _, e := range m.Ledger() {
		if e.SessionID == sessionID {
			out = append(out, e.Type)
		}
	}
	return out
}

package ledger

import (
	"context"
	"errors"
	"testing"
)

func TestMemStoreConformance(t *testing.T) {
	StoreConformance(t, func(t *testing.T) Store { return NewMemStore() })
}

// TestMemStoreRejectsWrongHashes checks the check that only MemStore makes
// (SQL stores are not required to recompute the tree).
func TestMemStoreRejectsWrongHashes(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	es, hs := conformBatch(t, s, conformClock(), Record{"a", "x", map[string]any{}}, Record{"a", "y", map[string]any{}})
	hs[len(hs)-1].Hash[0] ^= 1
	if err := s.Append(ctx, es, hs); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Append with a wrong stored hash = %v; want ErrInvalid", err)
	}
	if n, _ := s.TreeSize(ctx); n != 0 {
		t.Fatalf("TreeSize = %d after a refused append", n)
	}
}

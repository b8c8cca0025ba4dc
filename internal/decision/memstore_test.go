package decision

import "testing"

func TestMemStoreConformance(t *testing.T) {
	StoreConformance(t, func(*testing.T) Store { return NewMemStore() })
}

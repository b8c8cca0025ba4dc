package gateway

import (
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 20000 {
		id := newID(16)
		if len(id) != 16 || strings.HasPrefix(id, "-") || strings.HasPrefix(id, "_") {
			t.Fatalf("bad id %q", id)
		}
		if strings.Trim(id, idAlphabet) != "" {
			t.Fatalf("id %q has characters outside the alphabet", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

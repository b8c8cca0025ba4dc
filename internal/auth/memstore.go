package auth

import (
	"context"
	"slices"
	"sync"
)

// MemStore is a Store in memory, for tests and for servers that need no
// persistent tokens.
type MemStore struct {
	mu     sync.RWMutex
	byID   map[string]Token
	byHash map[string]string // hash → id
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{byID: map[string]Token{}, byHash: map[string]string{}}
}

func clone(t Token) Token {
	t.Groups = slices.Clone(t.Groups)
	return t
}

// Put implements Store.
func (m *MemStore) Put(ctx context.Context, t Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.byID[t.ID]; ok {
		delete(m.byHash, old.Hash)
	}
	m.byID[t.ID] = clone(t)
	m.byHash[t.Hash] = t.ID
	return nil
}

// ByHash implements Store.
func (m *MemStore) ByHash(ctx context.Context, hash string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.byHash[hash]
	if !ok {
		return Token{}, ErrNotFound
	}
	return clone(m.byID[id]), nil
}

// List implements Store.
func (m *MemStore) List(ctx context.Context) ([]Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]Token, 0, len(m.byID))
	for _, t := range m.byID {
		out = append(out, clone(t))
	}
	m.mu.RUnlock()
	slices.SortFunc(out, compareTokens)
	return out, nil
}

func compareTokens(a, b Token) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// Revoke implements Store.
func (m *MemStore) Revoke(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byID[id]
	if !ok {
		return ErrNotFound
	}
	t.Revoked = true
	m.byID[id] = t
	return nil
}

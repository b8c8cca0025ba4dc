package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/wardenhq/warden/internal/auth"
)

// TokenStore implements auth.Store.
type TokenStore struct{ db *DB }

var _ auth.Store = (*TokenStore)(nil)

// NewTokenStore returns the token store over db.
func NewTokenStore(db *DB) *TokenStore { return &TokenStore{db: db} }

// Put implements auth.Store.
func (s *TokenStore) Put(ctx context.Context, t auth.Token) error {
	body, err := json.Marshal(tokenRow(t))
	if err != nil {
		return err
	}
	return s.db.update(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, hash, body) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, body = excluded.body`, t.ID, t.Hash, string(body))
		return err
	})
}

// storedToken is a token as stored: auth.Token's JSON leaves its Hash out,
// so the record carries it explicitly.
type storedToken struct {
	auth.Token
	StoredHash string `json:"hash"`
}

func tokenRow(t auth.Token) storedToken { return storedToken{Token: t, StoredHash: t.Hash} }

func scanToken(body string) (auth.Token, error) {
	var st storedToken
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return auth.Token{}, fmt.Errorf("token record: %w", err)
	}
	st.Token.Hash = st.StoredHash
	return st.Token, nil
}

// ByHash implements auth.Store.
func (s *TokenStore) ByHash(ctx context.Context, hash string) (auth.Token, error) {
	var body string
	err := s.db.read.QueryRowContext(ctx, `SELECT body FROM tokens WHERE hash = ?`, hash).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Token{}, auth.ErrNotFound
	} else if err != nil {
		return auth.Token{}, err
	}
	return scanToken(body)
}

// List implements auth.Store.
func (s *TokenStore) List(ctx context.Context) ([]auth.Token, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT body FROM tokens ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		t, err := scanToken(body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke implements auth.Store.
func (s *TokenStore) Revoke(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx wtx) error {
		var body string
		err := tx.QueryRowContext(ctx, `SELECT body FROM tokens WHERE id = ?`, id).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return auth.ErrNotFound
		} else if err != nil {
			return err
		}
		t, err := scanToken(body)
		if err != nil {
			return err
		}
		if t.Revoked {
			return nil
		}
		t.Revoked = true
		nb, err := json.Marshal(tokenRow(t))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tokens SET body = ? WHERE id = ?`, string(nb), id)
		return err
	})
}

package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

var _ storage.Tokens = (*Store)(nil)

const (
	tokenColumns = "id, user_id, name, hash, ceiling, created_at, expires_at, last_used_at"
	// tokenUserColumns are tokenColumns of t, then userColumns of u.
	tokenUserColumns = "t.id, t.user_id, t.name, t.hash, t.ceiling, t.created_at, t.expires_at, t.last_used_at, " +
		"u.id, u.username, u.password_hash, u.is_admin, u.is_service_account"
)

// scanToken reads tokenColumns, then the columns of extra.
func scanToken(row pgx.Row, extra ...any) (storage.Token, error) {
	var t storage.Token
	var ceiling *string
	err := row.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Hash, &ceiling, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt}, extra...)...)
	if ceiling != nil {
		t.Ceiling = permission.Level(*ceiling)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if t.LastUsedAt != nil {
		at := t.LastUsedAt.UTC()
		t.LastUsedAt = &at
	}
	return t, err
}

// ceilingArg stores "no ceiling" as NULL.
func ceilingArg(l permission.Level) any {
	if l == "" {
		return nil
	}
	return string(l)
}

// CreateToken implements storage.Tokens.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) (storage.Token, error) {
	var got storage.Token
	err := s.change(ctx, func(q querier) (err error) {
		got, err = scanToken(q.QueryRow(ctx,
			"INSERT INTO tokens (user_id, name, hash, ceiling, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING "+tokenColumns,
			t.UserID, t.Name, t.Hash, ceilingArg(t.Ceiling), t.CreatedAt, t.ExpiresAt))
		return err
	})
	return got, err
}

// TokenByHash implements storage.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (storage.Token, storage.User, error) {
	var u storage.User
	t, err := scanToken(s.pool.QueryRow(ctx, "SELECT "+tokenUserColumns+
		" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1", hash),
		&u.ID, &u.Username, &u.PasswordHash, &u.IsAdmin, &u.IsServiceAccount)
	return t, u, classify(err)
}

// TokensOfUser implements storage.Tokens.
func (s *Store) TokensOfUser(ctx context.Context, userID int32) ([]storage.Token, error) {
	return queryAll(ctx, s, func(r pgx.Row) (storage.Token, error) { return scanToken(r) },
		"SELECT "+tokenColumns+" FROM tokens WHERE user_id = $1 ORDER BY id", userID)
}

// RotateToken implements storage.Tokens.
func (s *Store) RotateToken(ctx context.Context, userID int32, name string, hash []byte, createdAt, expiresAt time.Time) (storage.Token, error) {
	var t storage.Token
	err := s.change(ctx, func(q querier) (err error) {
		t, err = scanToken(q.QueryRow(ctx,
			"UPDATE tokens SET hash = $1, created_at = $2, expires_at = $3, last_used_at = NULL WHERE user_id = $4 AND name = $5 RETURNING "+tokenColumns,
			hash, createdAt, expiresAt, userID, name))
		return err
	})
	return t, err
}

// RevokeToken implements storage.Tokens.
func (s *Store) RevokeToken(ctx context.Context, userID int32, name string) error {
	return s.change(ctx, func(q querier) error {
		return oneRow(q.Exec(ctx, "DELETE FROM tokens WHERE user_id = $1 AND name = $2", userID, name))
	})
}

// TouchToken implements storage.Tokens.
func (s *Store) TouchToken(ctx context.Context, id int32, at, notBefore time.Time) error {
	_, err := s.pool.Exec(ctx,
		"UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
		at, id, notBefore)
	return classify(err)
}

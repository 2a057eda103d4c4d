package sqlite

import (
	"context"
	"database/sql"
	"time"

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
func scanToken(row scanner, extra ...any) (storage.Token, error) {
	var t storage.Token
	var ceiling sql.NullString
	var created, expires int64
	var lastUsed sql.NullInt64
	err := row.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Hash, &ceiling, &created, &expires, &lastUsed}, extra...)...)
	t.Ceiling = permission.Level(ceiling.String)
	t.CreatedAt, t.ExpiresAt = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC()
	if lastUsed.Valid {
		at := time.UnixMicro(lastUsed.Int64).UTC()
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
	err := s.change(ctx, func(w writer) (err error) {
		got, err = scanToken(w.QueryRowContext(ctx,
			"INSERT INTO tokens (user_id, name, hash, ceiling, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING "+tokenColumns,
			t.UserID, t.Name, t.Hash, ceilingArg(t.Ceiling), t.CreatedAt.UnixMicro(), t.ExpiresAt.UnixMicro()))
		return err
	})
	return got, err
}

// TokenByHash implements storage.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (storage.Token, storage.User, error) {
	var u storage.User
	t, err := scanToken(s.read.QueryRowContext(ctx, "SELECT "+tokenUserColumns+
		" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?", hash),
		&u.ID, &u.Username, &u.PasswordHash, &u.IsAdmin, &u.IsServiceAccount)
	return t, u, classify(err)
}

// TokensOfUser implements storage.Tokens.
func (s *Store) TokensOfUser(ctx context.Context, userID int32) ([]storage.Token, error) {
	return queryAll(ctx, s.read, func(r scanner) (storage.Token, error) { return scanToken(r) }, "SELECT "+tokenColumns+" FROM tokens WHERE user_id = ? ORDER BY id", userID)
}

// RotateToken implements storage.Tokens.
func (s *Store) RotateToken(ctx context.Context, userID int32, name string, hash []byte, createdAt, expiresAt time.Time) (storage.Token, error) {
	var t storage.Token
	err := s.change(ctx, func(w writer) (err error) {
		t, err = scanToken(w.QueryRowContext(ctx,
			"UPDATE tokens SET hash = ?, created_at = ?, expires_at = ?, last_used_at = NULL WHERE user_id = ? AND name = ? RETURNING "+tokenColumns,
			hash, createdAt.UnixMicro(), expiresAt.UnixMicro(), userID, name))
		return err
	})
	return t, err
}

// RevokeToken implements storage.Tokens.
func (s *Store) RevokeToken(ctx context.Context, userID int32, name string) error {
	return s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx, "DELETE FROM tokens WHERE user_id = ? AND name = ?", userID, name)
		return oneRow(res, err)
	})
}

// TouchToken implements storage.Tokens.
func (s *Store) TouchToken(ctx context.Context, id int32, at, notBefore time.Time) error {
	_, err := s.write.ExecContext(ctx,
		"UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
		at.UnixMicro(), id, notBefore.UnixMicro())
	return classify(err)
}

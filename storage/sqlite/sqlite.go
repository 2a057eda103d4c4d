// Package sqlite is the embedded, zero-setup Store: one database file, written
// through a single connection (SQLite allows one writer) and read through a pool.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store keeps users and grants in one SQLite file.
type Store struct {
	write *sql.DB // one connection: writes queue here instead of failing with SQLITE_BUSY
	read  *sql.DB
	tap   func(storage.AuditEvent) // see TapAudit
}

var (
	_ storage.Store    = (*Store)(nil)
	_ storage.Migrator = (*Store)(nil)
	_ storage.Pool     = (*Store)(nil)
)

// PathFromURL turns a SQLAlchemy-style URL into a file path:
// sqlite:///relative.db and sqlite:////absolute/path.db.
func PathFromURL(raw string) (string, error) {
	rest, ok := strings.CutPrefix(raw, "sqlite:///")
	if !ok || rest == "" {
		return "", fmt.Errorf("a SQLite URL looks like sqlite:///relative.db or sqlite:////absolute.db, not %q", raw)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", fmt.Errorf("a SQLite URL takes no query or fragment: %q", raw)
	}
	return rest, nil
}

// Open opens (creating if needed) the database file at path.
func Open(path string) (*Store, error) {
	dsn := (&url.URL{Scheme: "file", Opaque: url.PathEscape(path), RawQuery: url.Values{
		"_pragma": {"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}.Encode()}).String()
	write := sql.OpenDB(tracedConnector{dsn, &sqlite.Driver{}})
	write.SetMaxOpenConns(1)
	read := sql.OpenDB(tracedConnector{dsn, &sqlite.Driver{}})
	read.SetMaxOpenConns(8)
	// All of them stay open: database/sql keeps 2 idle by default, so 8 callers
	// at once reopened connections (and re-prepared statements) on every burst.
	read.SetMaxIdleConns(8)
	s := &Store{write: write, read: read}
	if err := write.Ping(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, classify(err))
	}
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.write.Close(), s.read.Close())
}

// classify turns driver errors into storage sentinels; anything else passes through
// (and is reported as an internal error without its text).
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", storage.ErrAlreadyExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", storage.ErrNotFound, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %v", storage.ErrUnavailable, err)
		}
	}
	return err
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE), committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.auditEnded(ctx, classify(err))
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.auditEnded(ctx, classify(err))
	}
	return s.auditEnded(ctx, classify(tx.Commit()))
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

const userColumns = "id, username, password_hash, is_admin, is_service_account"

func scanUser(row scanner) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.IsAdmin, &u.IsServiceAccount)
	return u, err
}

// CreateUser implements storage.Store.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string, isAdmin bool) (storage.User, error) {
	var u storage.User
	err := s.change(ctx, func(w writer) (err error) {
		u, err = scanUser(w.QueryRowContext(ctx,
			"INSERT INTO users (username, password_hash, is_admin) VALUES (?, ?, ?) RETURNING "+userColumns,
			username, passwordHash, isAdmin))
		return err
	})
	return u, err
}

// UserByName implements storage.Store.
func (s *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, userByNameQuery, username))
	return u, classify(err)
}

const userByNameQuery = "SELECT " + userColumns + " FROM users WHERE username = ?"

// ListUsers implements storage.Store.
func (s *Store) ListUsers(ctx context.Context, afterID int32, limit int) ([]storage.User, error) {
	return queryAll(ctx, s.read, scanUser,
		"SELECT "+userColumns+" FROM users WHERE id > ? ORDER BY id LIMIT ?", afterID, sqlLimit(limit))
}

// CreateServiceAccount implements storage.Store.
func (s *Store) CreateServiceAccount(ctx context.Context, username string) (storage.User, error) {
	var u storage.User
	err := s.change(ctx, func(w writer) (err error) {
		u, err = scanUser(w.QueryRowContext(ctx,
			"INSERT INTO users (username, password_hash, is_admin, is_service_account) VALUES (?, '', 0, 1) RETURNING "+userColumns,
			username))
		return err
	})
	return u, err
}

// ListServiceAccounts implements storage.Store.
func (s *Store) ListServiceAccounts(ctx context.Context, afterID int32, limit int) ([]storage.User, error) {
	return queryAll(ctx, s.read, scanUser,
		"SELECT "+userColumns+" FROM users WHERE is_service_account AND id > ? ORDER BY id LIMIT ?", afterID, sqlLimit(limit))
}

// querier is a pool or a transaction, to read rows from.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs a query on q (the read pool, or a transaction) and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(row scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, classify(err)
		}
		all = append(all, v)
	}
	return all, classify(rows.Err())
}

// sqlLimit maps "no limit" to SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// SetPasswordHash implements storage.Store.
func (s *Store) SetPasswordHash(ctx context.Context, username, passwordHash string) error {
	return s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE username = ?", passwordHash, username)
		return oneRow(res, err)
	})
}

func oneRow(res sql.Result, err error) error {
	if err != nil {
		return classify(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// countAdminsQuery reads the users_admins index (0008), not the whole table.
const countAdminsQuery = "SELECT count(*) FROM users WHERE is_admin"

// checkNotLastAdmin fails with ErrLastAdmin when username is the only admin.
// It runs inside a write transaction, which SQLite serializes, so the count holds.
func checkNotLastAdmin(ctx context.Context, tx *sql.Tx, username string) error {
	var isAdmin bool
	if err := tx.QueryRowContext(ctx, "SELECT is_admin FROM users WHERE username = ?", username).Scan(&isAdmin); err != nil {
		return err
	}
	if !isAdmin {
		return nil
	}
	var admins int
	if err := tx.QueryRowContext(ctx, countAdminsQuery).Scan(&admins); err != nil {
		return err
	}
	if admins <= 1 {
		return storage.ErrLastAdmin
	}
	return nil
}

// SetAdmin implements storage.Store.
func (s *Store) SetAdmin(ctx context.Context, username string, isAdmin bool) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if !isAdmin {
			if err := checkNotLastAdmin(ctx, tx, username); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, "UPDATE users SET is_admin = ? WHERE username = ?", isAdmin, username)
		if err := oneRow(res, err); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// DeleteUser implements storage.Store. Grants go with the user (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkNotLastAdmin(ctx, tx, username); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM users WHERE username = ?", username)
		if err := oneRow(res, err); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// CountAdmins implements storage.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return classify(s.read.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)").Scan(&one))
}

func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, countAdminsQuery).Scan(&n)
	return n, classify(err)
}

const grantSelect = `SELECT g.user_id, u.username, g.workspace, g.resource_type, g.resource_id, g.permission
FROM grants g JOIN users u ON u.id = g.user_id `

func scanGrant(row scanner) (storage.Grant, error) {
	var g storage.Grant
	err := row.Scan(&g.UserID, &g.Username, &g.Workspace, &g.Resource.Type, &g.Resource.ID, &g.Level)
	if g.Workspace == workspace.Default {
		g.Workspace = ""
	}
	return g, err
}

// CreateGrant implements storage.Store.
func (s *Store) CreateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	var g storage.Grant
	ws := workspace.From(ctx)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO grants (user_id, workspace, resource_type, resource_id, permission) VALUES (?, ?, ?, ?, ?)",
			userID, ws, r.Type, r.ID, l); err != nil {
			return err
		}
		var err error
		g, err = scanGrant(tx.QueryRowContext(ctx, grantSelect+"WHERE g.user_id = ? AND g.workspace = ? AND g.resource_type = ? AND g.resource_id = ?", userID, ws, r.Type, r.ID))
		if err != nil {
			return err
		}
		return audited(ctx, tx)
	})
	return g, err
}

// Grant implements storage.Store.
func (s *Store) Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error) {
	g, err := scanGrant(s.read.QueryRowContext(ctx, grantQuery, userID, workspace.From(ctx), r.Type, r.ID))
	return g, classify(err)
}

// grantQuery reads one grant: a user's on a resource in a workspace.
const grantQuery = grantSelect + "WHERE g.user_id = ? AND g.workspace = ? AND g.resource_type = ? AND g.resource_id = ?"

const updateGrantStatement = "UPDATE grants SET permission = ? WHERE user_id = ? AND workspace = ? AND resource_type = ? AND resource_id = ?"

// UpdateGrant implements storage.Store.
func (s *Store) UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	var g storage.Grant
	ws := workspace.From(ctx)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, updateGrantStatement, l, userID, ws, r.Type, r.ID)
		if err := oneRow(res, err); err != nil {
			return err
		}
		g, err = scanGrant(tx.QueryRowContext(ctx, grantQuery, userID, ws, r.Type, r.ID))
		if err != nil {
			return err
		}
		return audited(ctx, tx)
	})
	return g, err
}

// DeleteGrant implements storage.Store.
func (s *Store) DeleteGrant(ctx context.Context, userID int32, r permission.Resource) error {
	return s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx,
			"DELETE FROM grants WHERE user_id = ? AND workspace = ? AND resource_type = ? AND resource_id = ?", userID, workspace.From(ctx), r.Type, r.ID)
		return oneRow(res, err)
	})
}

// DeleteResourceGrants implements storage.Store. Audited, it reads the grants
// and deletes them in one transaction, then inserts the row if there were any.
func (s *Store) DeleteResourceGrants(ctx context.Context, r permission.Resource) error {
	const where = "workspace = ? AND resource_type = ? AND resource_id = ?"
	args := []any{workspace.From(ctx), r.Type, r.ID}
	if _, ok := storage.AuditFrom(ctx); !ok {
		_, err := s.write.ExecContext(ctx, "DELETE FROM grants WHERE "+where, args...)
		return classify(err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, grantSelect+"WHERE g.workspace = ? AND g.resource_type = ? AND g.resource_id = ? ORDER BY g.user_id", args...)
		if err != nil {
			return err
		}
		var removed []storage.Grant
		for rows.Next() {
			g, err := scanGrant(rows)
			if err != nil {
				rows.Close()
				return err
			}
			removed = append(removed, g)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil || len(removed) == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE "+where, args...); err != nil {
			return err
		}
		if err := storage.AuditChanged(ctx, storage.AuditGrantsOf(removed), nil); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// MoveGrants implements storage.Store.
func (s *Store) MoveGrants(ctx context.Context, grants []storage.Grant, to permission.Resource) error {
	ws := workspace.From(ctx)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var moved, replaced []storage.Grant
		for _, g := range grants {
			if g.Resource.Type != to.Type {
				return fmt.Errorf("move grants from %s to %s: the types differ", g.Resource, to)
			}
			var level string
			err := tx.QueryRowContext(ctx, `DELETE FROM grants WHERE workspace = ? AND resource_type = ? AND resource_id = ? AND user_id = ?
				AND EXISTS (SELECT 1 FROM grants WHERE workspace = ? AND resource_type = ? AND resource_id = ? AND user_id = ? AND permission = ?)
				RETURNING permission`,
				ws, to.Type, to.ID, g.UserID, ws, g.Resource.Type, g.Resource.ID, g.UserID, g.Level).Scan(&level)
			switch {
			case err == nil:
				replaced = append(replaced, storage.Grant{UserID: g.UserID, Username: g.Username, Level: permission.Level(level)})
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE grants SET resource_id = ?
				WHERE workspace = ? AND resource_type = ? AND resource_id = ? AND user_id = ? AND permission = ?`,
				to.ID, ws, g.Resource.Type, g.Resource.ID, g.UserID, g.Level)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				moved = append(moved, g)
			}
		}
		if len(moved) == 0 {
			return nil
		}
		if err := storage.AuditGrantsMoved(ctx, to, moved, replaced); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// GrantsOfUsers implements storage.Store.
func (s *Store) GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	// A JSON array keeps this one statement with one parameter, whatever the page size.
	ids := make([]string, len(userIDs))
	for i, id := range userIDs {
		ids[i] = fmt.Sprint(id)
	}
	return queryAll(ctx, s.read, scanGrant, grantsOfUsersQuery, "["+strings.Join(ids, ",")+"]", workspace.From(ctx))
}

// grantsOfUsersQuery reads the grants from the grants_user_id index alone (0008).
const grantsOfUsersQuery = grantSelect +
	"WHERE g.user_id IN (SELECT value FROM json_each(?)) AND g.workspace = ? ORDER BY g.user_id, g.resource_type, g.resource_id"

// GrantsOnResource implements storage.Store.
func (s *Store) GrantsOnResource(ctx context.Context, r permission.Resource, afterUserID int32, limit int) ([]storage.Grant, error) {
	return queryAll(ctx, s.read, scanGrant, grantSelect+
		"WHERE g.workspace = ? AND g.resource_type = ? AND g.resource_id = ? AND g.user_id > ? ORDER BY g.user_id LIMIT ?",
		workspace.From(ctx), r.Type, r.ID, afterUserID, sqlLimit(limit))
}

// GrantsInEveryWorkspace implements storage.Store.
func (s *Store) GrantsInEveryWorkspace(ctx context.Context, userID int32, r permission.Resource) ([]storage.Grant, error) {
	return queryAll(ctx, s.read, scanGrant, grantSelect+
		"WHERE g.user_id = ? AND g.resource_type = ? AND g.resource_id = ? ORDER BY g.workspace", userID, r.Type, r.ID)
}

// AllGrantsOfUser implements storage.Store.
func (s *Store) AllGrantsOfUser(ctx context.Context, userID int32) ([]storage.Grant, error) {
	return queryAll(ctx, s.read, scanGrant, grantSelect+
		"WHERE g.user_id = ? ORDER BY g.workspace, g.resource_type, g.resource_id", userID)
}

// CreateBatch implements storage.Store. A grant's user is found by name inside
// the transaction, so it may be one the batch has just created.
func (s *Store) CreateBatch(ctx context.Context, b storage.Batch) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, u := range b.Users {
			if _, err := tx.ExecContext(ctx, "INSERT INTO users (username, password_hash, is_admin) VALUES (?, ?, ?)",
				u.Username, u.PasswordHash, u.IsAdmin); err != nil {
				return err
			}
		}
		for _, g := range b.Grants {
			res, err := tx.ExecContext(ctx,
				"INSERT INTO grants (user_id, workspace, resource_type, resource_id, permission) SELECT id, ?, ?, ?, ? FROM users WHERE username = ?",
				cmp.Or(g.Workspace, workspace.Default), g.Resource.Type, g.Resource.ID, g.Level, g.Username)
			if err := oneRow(res, err); err != nil {
				return err
			}
		}
		roleIDs := make([]int32, len(b.Roles))
		for i, r := range b.Roles {
			var id int32
			if err := tx.QueryRowContext(ctx, "INSERT INTO roles (workspace, name, description) VALUES (?, ?, ?) RETURNING id",
				r.Workspace, r.Name, r.Description).Scan(&id); err != nil {
				return err
			}
			roleIDs[i] = id
			for _, p := range r.Permissions {
				if _, err := tx.ExecContext(ctx, "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?)",
					id, p.ResourceType, p.Pattern, p.Level); err != nil {
					return err
				}
			}
			for _, m := range r.Members {
				res, err := tx.ExecContext(ctx, "INSERT INTO user_role_assignments (user_id, role_id) SELECT id, ? FROM users WHERE username = ?", id, m)
				if err := oneRow(res, err); err != nil {
					return err
				}
			}
		}
		for _, ev := range b.Audit {
			if err := audited(storage.WithAudit(ctx, ev), tx); err != nil {
				return err
			}
		}
		for i, r := range b.Roles {
			if r.Audit == nil {
				continue
			}
			if err := audited(storage.AuditCreated(storage.WithAudit(ctx, *r.Audit), strconv.Itoa(int(roleIDs[i]))), tx); err != nil {
				return err
			}
		}
		return audited(ctx, tx)
	})
}

// PoolStats adds up the writer's connection and the readers'.
func (s *Store) PoolStats() storage.PoolStats {
	var total storage.PoolStats
	for _, db := range []*sql.DB{s.write, s.read} {
		st := db.Stats()
		total.Open += st.OpenConnections
		total.InUse += st.InUse
		total.Idle += st.Idle
		total.Max += st.MaxOpenConnections
		total.Waits += st.WaitCount
		total.WaitTime += st.WaitDuration
	}
	return total
}

// Package postgres is the production Store: users and grants in Postgres through
// a pgx connection pool, shared by any number of mlflow-auth replicas.
package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultConnectTimeout bounds each connection attempt when the URL sets no
// connect_timeout, so a database that is down fails fast instead of hanging.
const DefaultConnectTimeout = 3 * time.Second

// Store keeps users and grants in Postgres.
type Store struct {
	pool *pgxpool.Pool
	tap  func(storage.AuditEvent) // see TapAudit
}

var (
	_ storage.Store    = (*Store)(nil)
	_ storage.Migrator = (*Store)(nil)
	_ storage.Pool     = (*Store)(nil)
)

// Open connects to the database at a postgres:// or postgresql:// URL (libpq
// syntax: connect_timeout, sslmode, search_path, pool_max_conns, ... in the query)
// and checks that it answers. A database that cannot be reached gives an error
// matching storage.ErrUnavailable.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, errors.New("a Postgres URL starts with postgres:// or postgresql://")
	}
	cfg, err := pgxpool.ParseConfig(rawURL) // its errors redact the password
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.PingTimeout == 0 {
		// The pool pings connections that sat idle before handing them out; a
		// silent network must not stall that ping forever.
		cfg.PingTimeout = cfg.ConnConfig.ConnectTimeout
	}
	cfg.ConnConfig.Tracer = queryTracer{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", classify(err))
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// classify turns driver errors into storage sentinels, wrapping both the sentinel
// and the original error so the driver's text stays available for logs. Anything
// else passes through (and is reported as an internal error without its text).
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch code := pe.Code; {
		case code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", storage.ErrAlreadyExists, err)
		case code == "23503": // foreign_key_violation: the user is gone
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		case strings.HasPrefix(code, "08"), // connection exception
			code == "57P01", // admin_shutdown
			code == "57P02", // crash_shutdown
			code == "57P03", // cannot_connect_now (starting up, shutting down)
			code == "53300", // too_many_connections
			code == "25006", // read_only_sql_transaction: a standby during failover
			code == "40001", // serialization_failure, still after inTx's retries
			code == "40P01": // deadlock_detected, likewise
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		// The caller went away; that says nothing about the database.
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) ||
		errors.As(err, &ne) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.SafeToRetry(err) ||
		pgconn.Timeout(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// txAttempts bounds how often inTx runs a transaction that Postgres aborted as
// a deadlock or serialization failure.
const txAttempts = 5

// inTx runs fn in one transaction, committing when fn returns nil. A transaction
// that Postgres aborted to break a deadlock or a serialization conflict changed
// nothing, so it runs again, after a short random pause that lets its rival finish.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.auditEnded(ctx, s.retried(ctx, func() error { return s.tryTx(ctx, fn) }))
}

// retried runs a transaction attempt as inTx does.
func (s *Store) retried(ctx context.Context, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if attempt == txAttempts || !conflict(err) {
			return classify(err)
		}
		pause := time.Duration(rand.Int64N(int64(attempt) * int64(10*time.Millisecond)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return classify(err)
		}
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx) // a failed rollback closes the connection; the pool drops it
		return err
	}
	return tx.Commit(ctx)
}

// conflict reports a transaction aborted by serialization_failure or deadlock_detected.
func conflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

const userColumns = "id, username, password_hash, is_admin, is_service_account"

func scanUser(row pgx.Row) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.IsAdmin, &u.IsServiceAccount)
	return u, err
}

// limitArg maps "no limit" to LIMIT NULL.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}

// CreateUser implements storage.Store.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string, isAdmin bool) (storage.User, error) {
	var u storage.User
	err := s.change(ctx, func(q querier) (err error) {
		u, err = scanUser(q.QueryRow(ctx,
			"INSERT INTO users (username, password_hash, is_admin) VALUES ($1, $2, $3) RETURNING "+userColumns,
			username, passwordHash, isAdmin))
		return err
	})
	return u, err
}

// UserByName implements storage.Store.
func (s *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE username = $1", username))
	return u, classify(err)
}

// CreateServiceAccount implements storage.Store.
func (s *Store) CreateServiceAccount(ctx context.Context, username string) (storage.User, error) {
	var u storage.User
	err := s.change(ctx, func(q querier) (err error) {
		u, err = scanUser(q.QueryRow(ctx,
			"INSERT INTO users (username, password_hash, is_admin, is_service_account) VALUES ($1, '', false, true) RETURNING "+userColumns,
			username))
		return err
	})
	return u, err
}

// ListServiceAccounts implements storage.Store.
func (s *Store) ListServiceAccounts(ctx context.Context, afterID int32, limit int) ([]storage.User, error) {
	return queryAll(ctx, s, scanUser,
		"SELECT "+userColumns+" FROM users WHERE is_service_account AND id > $1 ORDER BY id LIMIT $2", afterID, limitArg(limit))
}

// ListUsers implements storage.Store.
func (s *Store) ListUsers(ctx context.Context, afterID int32, limit int) ([]storage.User, error) {
	return queryAll(ctx, s, scanUser,
		"SELECT "+userColumns+" FROM users WHERE id > $1 ORDER BY id LIMIT $2", afterID, limitArg(limit))
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	return all, classify(err)
}

// oneRow turns "no row affected" into ErrNotFound.
func oneRow(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return classify(err)
	}
	if tag.RowsAffected() == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// SetPasswordHash implements storage.Store.
func (s *Store) SetPasswordHash(ctx context.Context, username, passwordHash string) error {
	return s.change(ctx, func(q querier) error {
		return oneRow(q.Exec(ctx, "UPDATE users SET password_hash = $1 WHERE username = $2", passwordHash, username))
	})
}

// adminLock is the pg_advisory_xact_lock key that serializes demotions and
// deletions: "mlflowad" (admins) as a bigint.
const adminLock int64 = 0x6d6c666c6f776164

// countAdminsQuery reads the users_admins index (0008), not the whole table.
const countAdminsQuery = "SELECT count(*) FROM users WHERE is_admin"

// checkNotLastAdmin fails with ErrNotFound when username does not exist and with
// ErrLastAdmin when it is the only admin.
//
// Under READ COMMITTED two transactions could each count two admins and each
// demote one. So every demotion or deletion first takes one transaction-scoped
// advisory lock: a second one waits for the first to commit, and its later
// statements see the first one's result. (Locking the admin rows instead, even in
// id order, deadlocked under 16 concurrent callers.) Promotions take no lock;
// they only add admins.
func checkNotLastAdmin(ctx context.Context, tx pgx.Tx, username string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", adminLock); err != nil {
		return err
	}
	var isAdmin bool
	if err := tx.QueryRow(ctx, "SELECT is_admin FROM users WHERE username = $1", username).Scan(&isAdmin); err != nil {
		return err
	}
	if !isAdmin {
		return nil
	}
	var admins int
	if err := tx.QueryRow(ctx, countAdminsQuery).Scan(&admins); err != nil {
		return err
	}
	if admins <= 1 {
		return storage.ErrLastAdmin
	}
	return nil
}

// SetAdmin implements storage.Store.
func (s *Store) SetAdmin(ctx context.Context, username string, isAdmin bool) error {
	if isAdmin {
		return s.change(ctx, func(q querier) error {
			return oneRow(q.Exec(ctx, "UPDATE users SET is_admin = true WHERE username = $1", username))
		})
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkNotLastAdmin(ctx, tx, username); err != nil {
			return err
		}
		if err := oneRow(tx.Exec(ctx, "UPDATE users SET is_admin = false WHERE username = $1", username)); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// DeleteUser implements storage.Store. Grants go with the user (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkNotLastAdmin(ctx, tx, username); err != nil {
			return err
		}
		if err := oneRow(tx.Exec(ctx, "DELETE FROM users WHERE username = $1", username)); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// CountAdmins implements storage.Store.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "SELECT 1 FROM users LIMIT 1")
	return classify(err)
}

func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, countAdminsQuery).Scan(&n)
	return n, classify(err)
}

const (
	grantColumns = "g.user_id, u.username, g.workspace, g.resource_type, g.resource_id, g.permission"
	grantSelect  = "SELECT " + grantColumns + " FROM grants g JOIN users u ON u.id = g.user_id "
)

// grantReturning makes a write to grants (a statement ending in RETURNING *)
// return the written row the way grantSelect does, in the same statement.
func grantReturning(write string) string {
	return "WITH g AS (" + write + ") SELECT " + grantColumns + " FROM g JOIN users u ON u.id = g.user_id"
}

func scanGrant(row pgx.Row) (storage.Grant, error) {
	var g storage.Grant
	var ws, typ, level string
	err := row.Scan(&g.UserID, &g.Username, &ws, &typ, &g.Resource.ID, &level)
	g.Resource.Type, g.Level = permission.ResourceType(typ), permission.Level(level)
	if ws != workspace.Default {
		g.Workspace = ws
	}
	return g, err
}

// CreateGrant implements storage.Store.
func (s *Store) CreateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	var g storage.Grant
	err := s.change(ctx, func(q querier) (err error) {
		g, err = scanGrant(q.QueryRow(ctx, grantReturning(
			"INSERT INTO grants (user_id, resource_type, resource_id, permission, workspace) VALUES ($1, $2, $3, $4, $5) RETURNING *"),
			userID, string(r.Type), r.ID, string(l), workspace.From(ctx)))
		return err
	})
	return g, err
}

// Grant implements storage.Store.
func (s *Store) Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error) {
	g, err := scanGrant(s.pool.QueryRow(ctx,
		grantSelect+"WHERE g.user_id = $1 AND g.resource_type = $2 AND g.resource_id = $3 AND g.workspace = $4",
		userID, string(r.Type), r.ID, workspace.From(ctx)))
	return g, classify(err)
}

// UpdateGrant implements storage.Store.
func (s *Store) UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	var g storage.Grant
	err := s.change(ctx, func(q querier) (err error) {
		g, err = scanGrant(q.QueryRow(ctx, grantReturning(
			"UPDATE grants SET permission = $4 WHERE user_id = $1 AND resource_type = $2 AND resource_id = $3 AND workspace = $5 RETURNING *"),
			userID, string(r.Type), r.ID, string(l), workspace.From(ctx)))
		return err
	})
	return g, err
}

// DeleteGrant implements storage.Store.
func (s *Store) DeleteGrant(ctx context.Context, userID int32, r permission.Resource) error {
	return s.change(ctx, func(q querier) error {
		return oneRow(q.Exec(ctx,
			"DELETE FROM grants WHERE user_id = $1 AND resource_type = $2 AND resource_id = $3 AND workspace = $4",
			userID, string(r.Type), r.ID, workspace.From(ctx)))
	})
}

// DeleteResourceGrants implements storage.Store. Audited, it deletes and
// reads what it deleted in one statement, then inserts the row if there was any.
func (s *Store) DeleteResourceGrants(ctx context.Context, r permission.Resource) error {
	const del = "DELETE FROM grants WHERE resource_type = $1 AND resource_id = $2 AND workspace = $3"
	args := []any{string(r.Type), r.ID, workspace.From(ctx)}
	if _, ok := storage.AuditFrom(ctx); !ok {
		_, err := s.pool.Exec(ctx, del, args...)
		return classify(err)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, grantReturning(del+" RETURNING *")+" ORDER BY g.user_id", args...)
		if err != nil {
			return err
		}
		removed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Grant, error) { return scanGrant(row) })
		if err != nil || len(removed) == 0 {
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
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var moved, replaced []storage.Grant
		for _, g := range grants {
			if g.Resource.Type != to.Type {
				return fmt.Errorf("move grants from %s to %s: the types differ", g.Resource, to)
			}
			var level string
			err := tx.QueryRow(ctx, `DELETE FROM grants WHERE resource_type = $1 AND resource_id = $2 AND user_id = $3 AND workspace = $6
				AND EXISTS (SELECT 1 FROM grants WHERE resource_type = $1 AND resource_id = $4 AND user_id = $3 AND permission = $5 AND workspace = $6)
				RETURNING permission`,
				string(to.Type), to.ID, g.UserID, g.Resource.ID, string(g.Level), ws).Scan(&level)
			switch {
			case err == nil:
				replaced = append(replaced, storage.Grant{UserID: g.UserID, Username: g.Username, Level: permission.Level(level)})
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE grants SET resource_id = $1
				WHERE resource_type = $2 AND resource_id = $3 AND user_id = $4 AND permission = $5 AND workspace = $6`,
				to.ID, string(g.Resource.Type), g.Resource.ID, g.UserID, string(g.Level), ws)
			if err != nil {
				return err
			}
			if tag.RowsAffected() > 0 {
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
	return queryAll(ctx, s, scanGrant, grantsOfUsersQuery, userIDs, workspace.From(ctx))
}

// grantsOfUsersQuery reads the grants from the grants_user_id index alone (0008).
const grantsOfUsersQuery = grantSelect +
	"WHERE g.user_id = ANY($1) AND g.workspace = $2 ORDER BY g.user_id, g.resource_type, g.resource_id"

// GrantsOnResource implements storage.Store.
func (s *Store) GrantsOnResource(ctx context.Context, r permission.Resource, afterUserID int32, limit int) ([]storage.Grant, error) {
	return queryAll(ctx, s, scanGrant, grantSelect+
		"WHERE g.resource_type = $1 AND g.resource_id = $2 AND g.user_id > $3 AND g.workspace = $5 ORDER BY g.user_id LIMIT $4",
		string(r.Type), r.ID, afterUserID, limitArg(limit), workspace.From(ctx))
}

// GrantsInEveryWorkspace implements storage.Store.
func (s *Store) GrantsInEveryWorkspace(ctx context.Context, userID int32, r permission.Resource) ([]storage.Grant, error) {
	return queryAll(ctx, s, scanGrant, grantSelect+
		"WHERE g.user_id = $1 AND g.resource_type = $2 AND g.resource_id = $3 ORDER BY g.workspace", userID, string(r.Type), r.ID)
}

// AllGrantsOfUser implements storage.Store.
func (s *Store) AllGrantsOfUser(ctx context.Context, userID int32) ([]storage.Grant, error) {
	return queryAll(ctx, s, scanGrant, grantSelect+
		"WHERE g.user_id = $1 ORDER BY g.workspace, g.resource_type, g.resource_id", userID)
}

// CreateBatch implements storage.Store. The statements go to the server as one
// pipelined batch inside the transaction, so a large import costs few round
// trips; a grant's user is found by name, so it may be one the batch creates.
func (s *Store) CreateBatch(ctx context.Context, b storage.Batch) error {
	if len(b.Users)+len(b.Grants)+len(b.Roles) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		var byName []bool // per statement: it finds a user by name, so it must write a row
		queue := func(named bool, sql string, args ...any) {
			batch.Queue(sql, args...)
			byName = append(byName, named)
		}
		for _, u := range b.Users {
			queue(false, "INSERT INTO users (username, password_hash, is_admin) VALUES ($1, $2, $3)",
				u.Username, u.PasswordHash, u.IsAdmin)
		}
		for _, g := range b.Grants {
			queue(true, "INSERT INTO grants (user_id, resource_type, resource_id, permission, workspace) SELECT id, $1, $2, $3, $5 FROM users WHERE username = $4",
				string(g.Resource.Type), g.Resource.ID, string(g.Level), g.Username, cmp.Or(g.Workspace, workspace.Default))
		}
		// A role is found by its (workspace, name), unique, so its rows can follow it in the same batch.
		for _, r := range b.Roles {
			queue(false, "INSERT INTO roles (workspace, name, description) VALUES ($1, $2, $3)", r.Workspace, r.Name, r.Description)
			for _, p := range r.Permissions {
				queue(false, "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) SELECT id, $3, $4, $5 FROM roles WHERE workspace = $1 AND name = $2",
					r.Workspace, r.Name, p.ResourceType, p.Pattern, string(p.Level))
			}
			for _, m := range r.Members {
				queue(true, "INSERT INTO user_role_assignments (user_id, role_id) SELECT u.id, r.id FROM users u, roles r WHERE u.username = $1 AND r.workspace = $2 AND r.name = $3",
					m, r.Workspace, r.Name)
			}
		}
		results := tx.SendBatch(ctx, batch)
		for i := range batch.Len() {
			tag, err := results.Exec()
			if err != nil {
				results.Close()
				return err
			}
			if byName[i] && tag.RowsAffected() == 0 {
				results.Close()
				return storage.ErrNotFound // the grant's or assignment's user does not exist
			}
		}
		if err := results.Close(); err != nil {
			return err
		}
		for _, ev := range b.Audit {
			if err := audited(storage.WithAudit(ctx, ev), tx); err != nil {
				return err
			}
		}
		for _, r := range b.Roles {
			if r.Audit == nil {
				continue
			}
			var id int32
			if err := tx.QueryRow(ctx, "SELECT id FROM roles WHERE workspace = $1 AND name = $2", r.Workspace, r.Name).Scan(&id); err != nil {
				return err
			}
			if err := audited(storage.AuditCreated(storage.WithAudit(ctx, *r.Audit), strconv.Itoa(int(id))), tx); err != nil {
				return err
			}
		}
		return audited(ctx, tx)
	})
}

// PoolStats is the pgx pool's state.
func (s *Store) PoolStats() storage.PoolStats {
	st := s.pool.Stat()
	return storage.PoolStats{Open: int(st.TotalConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
		Max: int(st.MaxConns()), Waits: st.EmptyAcquireCount(), WaitTime: st.EmptyAcquireWaitTime()}
}

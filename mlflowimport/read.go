package mlflowimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	sqlitedriver "modernc.org/sqlite" // also the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
)

// Read opens the MLflow auth database at a SQLAlchemy URL without writing to it
// (sqlite:///relative.db, sqlite:////absolute.db, postgresql://..., postgres://...,
// postgresql+psycopg2://...), reads it in one snapshot and maps it to mlflow-auth's terms.
func Read(ctx context.Context, rawURL string) (*Source, error) {
	db, opts, tablesQuery, err := openSource(rawURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open the MLflow database: %w", err)
	}
	defer tx.Rollback() // read-only: nothing to commit
	r, err := readRaw(ctx, tx, tablesQuery)
	if err != nil {
		return nil, fmt.Errorf("read the MLflow database: %w", sourceError(err))
	}
	return build(r), nil
}

// sourceError says what the source database's refusal to be read means for an import.
func sourceError(err error) error {
	const missingColumn = "its tables lack columns that MLflow's schema has (%w)"
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42703" { // undefined_column
		return fmt.Errorf(missingColumn, err)
	}
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("the file is not a SQLite database, or it is damaged (%w)", err)
	case sqlite3.SQLITE_ERROR: // the statement does not fit the tables
		return fmt.Errorf(missingColumn, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("another process kept the file locked for 10 seconds: import again once MLflow is stopped or idle (%w)", err)
	}
	return err
}

// SQLitePath is the file a SQLite source URL names, with or without
// SQLAlchemy's driver (sqlite+pysqlite:///basic_auth.db).
func SQLitePath(rawURL string) (string, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	if scheme, _, _ = strings.Cut(scheme, "+"); scheme != "sqlite" {
		return "", fmt.Errorf("%q is not a SQLite URL", rawURL)
	}
	return sqlite.PathFromURL("sqlite://" + rest)
}

// openSource opens the database read-only and says how to list its tables.
func openSource(rawURL string) (*sql.DB, *sql.TxOptions, string, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, nil, "", errors.New("--from must be a SQLAlchemy URL such as sqlite:///basic_auth.db or postgresql://user:password@host/db")
	}
	scheme, _, _ = strings.Cut(scheme, "+") // postgresql+psycopg2 → postgresql: the driver is Python's business
	switch scheme {
	case "sqlite":
		path, err := SQLitePath(rawURL)
		if err != nil {
			return nil, nil, "", err
		}
		if info, err := os.Stat(path); err != nil {
			return nil, nil, "", fmt.Errorf("the MLflow database: %w", err)
		} else if info.IsDir() {
			return nil, nil, "", fmt.Errorf("the MLflow database %s is a directory: give the basic_auth.db file in it", path)
		}
		// mode=ro: SQLite itself refuses every write, and a missing file is not created.
		dsn := (&url.URL{Scheme: "file", Opaque: url.PathEscape(path), RawQuery: "mode=ro&_pragma=busy_timeout(10000)"}).String()
		db, err := sql.Open("sqlite", dsn)
		return db, &sql.TxOptions{ReadOnly: true},
			"SELECT name FROM sqlite_master WHERE type = 'table'", err
	case "postgres", "postgresql":
		cfg, err := pgx.ParseConfig("postgresql://" + rest) // its errors redact the password
		if err != nil {
			return nil, nil, "", err
		}
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = 10 * time.Second
		}
		// REPEATABLE READ: every table is read from one snapshot, even while MLflow runs.
		return stdlib.OpenDB(*cfg), &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
			"SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)", nil
	}
	return nil, nil, "", fmt.Errorf("unsupported MLflow database %q: mlflow-auth reads SQLite and Postgres", scheme+"://")
}

// raw is the source database as stored, before any interpretation.
type raw struct {
	tables     map[string]bool
	revision   string // alembic_version_auth.version_num
	users      []rawUser
	direct     []rawRow // rows of the classic per-resource tables
	workspaces []rawRow // rows of workspace_permissions (key = workspace)
	roles      map[int64]rawRole
	roleCopies map[int64]int // how many roles of the source have each id
	rolePerms  []rawRolePerm
	members    map[int64][]int64 // role id → user ids
}

type rawUser struct {
	id    int64
	name  sql.NullString
	hash  sql.NullString
	admin sql.NullBool
}

// rawRow is one row of a classic table: a user's level on one resource.
type rawRow struct {
	table     string
	typ       string // MLflow's resource type name
	key       string // MLflow's key: experiment id, model name, "<experiment id>/<scorer name>", ...
	workspace string
	userID    int64
	level     sql.NullString
}

type rawRole struct {
	name, workspace string
	description     *string
}

type rawRolePerm struct {
	roleID       int64
	typ, pattern string
	level        sql.NullString
}

// classicTables are MLflow's per-resource permission tables (2.5 to 3.12) and
// how each row names its resource, as an SQL expression both engines accept.
var classicTables = []struct{ table, typ, key string }{
	{"experiment_permissions", "experiment", "experiment_id"},
	{"registered_model_permissions", "registered_model", "name"},
	{"scorer_permissions", "scorer", "experiment_id || '/' || scorer_name"},
	{"gateway_secret_permissions", "gateway_secret", "secret_id"},
	{"gateway_endpoint_permissions", "gateway_endpoint", "endpoint_id"},
	{"gateway_model_definition_permissions", "gateway_model_definition", "model_definition_id"},
}

// readRaw reads every table the importer may need; build decides what counts.
func readRaw(ctx context.Context, tx *sql.Tx, tablesQuery string) (*raw, error) {
	r := &raw{tables: map[string]bool{}, roles: map[int64]rawRole{}, roleCopies: map[int64]int{}, members: map[int64][]int64{}}
	names, err := queryAll(ctx, tx, "the list of tables", tablesQuery, func(rows *sql.Rows) (n string, err error) { return n, rows.Scan(&n) })
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		r.tables[n] = true
	}
	if !r.tables["users"] {
		return nil, errors.New("it has no users table: this is not an MLflow basic-auth database")
	}
	if r.tables["alembic_version_auth"] {
		versions, err := queryAll(ctx, tx, "alembic_version_auth", "SELECT version_num FROM alembic_version_auth",
			func(rows *sql.Rows) (v string, err error) { return v, rows.Scan(&v) })
		if err != nil {
			return nil, err
		}
		r.revision = strings.Join(versions, ",")
	}
	r.users, err = queryAll(ctx, tx, "users", "SELECT id, username, password_hash, is_admin FROM users ORDER BY id",
		func(rows *sql.Rows) (u rawUser, err error) { return u, rows.Scan(&u.id, &u.name, &u.hash, &u.admin) })
	if err != nil {
		return nil, err
	}
	for _, c := range classicTables {
		if !r.tables[c.table] {
			continue
		}
		workspace := "'default'"
		if c.table == "registered_model_permissions" {
			// The workspace column came with MLflow 3.10; older models are all in "default".
			if has, err := hasColumn(ctx, tx, c.table, "workspace"); err != nil {
				return nil, err
			} else if has {
				workspace = "workspace"
			}
		}
		rows, err := queryAll(ctx, tx, c.table, "SELECT user_id, "+c.key+", "+workspace+", permission FROM "+c.table+" ORDER BY id",
			func(rows *sql.Rows) (row rawRow, err error) {
				row.table, row.typ = c.table, c.typ
				return row, rows.Scan(&row.userID, &row.key, &row.workspace, &row.level)
			})
		if err != nil {
			return nil, err
		}
		r.direct = append(r.direct, rows...)
	}
	if r.tables["workspace_permissions"] {
		r.workspaces, err = queryAll(ctx, tx, "workspace_permissions", "SELECT user_id, workspace, permission FROM workspace_permissions ORDER BY workspace, user_id",
			func(rows *sql.Rows) (row rawRow, err error) {
				row.table, row.typ = "workspace_permissions", "workspace"
				err = rows.Scan(&row.userID, &row.key, &row.level)
				row.workspace = row.key
				return row, err
			})
		if err != nil {
			return nil, err
		}
	}
	if !r.hasRoleTables() {
		return r, nil
	}
	type idRole struct {
		id int64
		rawRole
	}
	roles, err := queryAll(ctx, tx, "roles", "SELECT id, name, workspace, description FROM roles",
		func(rows *sql.Rows) (r idRole, err error) {
			return r, rows.Scan(&r.id, &r.name, &r.workspace, &r.description)
		})
	if err != nil {
		return nil, err
	}
	for _, role := range roles {
		if r.roleCopies[role.id]++; r.roleCopies[role.id] == 1 {
			r.roles[role.id] = role.rawRole
		}
	}
	r.rolePerms, err = queryAll(ctx, tx, "role_permissions", "SELECT role_id, resource_type, resource_pattern, permission FROM role_permissions ORDER BY id",
		func(rows *sql.Rows) (p rawRolePerm, err error) {
			return p, rows.Scan(&p.roleID, &p.typ, &p.pattern, &p.level)
		})
	if err != nil {
		return nil, err
	}
	assignments, err := queryAll(ctx, tx, "user_role_assignments", "SELECT role_id, user_id FROM user_role_assignments ORDER BY id",
		func(rows *sql.Rows) (a [2]int64, err error) { return a, rows.Scan(&a[0], &a[1]) })
	if err != nil {
		return nil, err
	}
	assigned := map[[2]int64]bool{}
	for _, a := range assignments {
		if !assigned[a] { // an assignment listed twice is one
			assigned[a] = true
			r.members[a[0]] = append(r.members[a[0]], a[1])
		}
	}
	return r, nil
}

func (r *raw) hasRoleTables() bool {
	return r.tables["roles"] && r.tables["role_permissions"] && r.tables["user_role_assignments"]
}

// hasColumn looks at the columns of an empty result, which works on every engine.
func hasColumn(ctx context.Context, tx *sql.Tx, table, column string) (bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	for _, c := range cols {
		if strings.EqualFold(c, column) {
			return true, nil
		}
	}
	return false, nil
}

// queryAll reads every row of query on table. A value that does not scan (NULL
// where MLflow writes none, text where it writes a number) refuses the import:
// what MLflow made of such a row cannot be known.
func queryAll[T any](ctx context.Context, tx *sql.Tx, table, query string, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s holds a value MLflow never writes there (NULL, or one of another type), so it cannot be imported: correct or delete that row and import again (%w)", table, err)
		}
		all = append(all, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	return all, nil
}

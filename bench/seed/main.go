// Command seed fills an empty mlflow-auth database with a large, regular data set
// for bench/scale.sh: USERS users named user-0000001 and on (ids 1 to USERS), ten
// direct grants each (eight experiments and two registered models, out of 100,000 of
// each), 100 roles of ten experiment permissions, and one role per user.
//
//	go run ./bench/seed -database-url sqlite:////tmp/scale.db -users 1000000
//
// It applies the server's own migrations first, so the rows land in the real
// schema. Every user gets the same password hash, hashed once here (production
// scrypt of "scale-password"): a million scrypts would take a day of CPU and
// measure nothing the benchmark needs. Rows go in with the fastest path each
// backend has: Postgres COPY, SQLite prepared inserts in one transaction. Both
// write grants in the order of their unique key and rebuild the other grant
// indexes afterwards from their own definitions, and Postgres skips the
// foreign-key triggers during the load (every row is valid by construction),
// which takes a superuser. A database that already holds users is left as it is.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"iter"
	"log"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// Password is what every seeded user signs in with.
const Password = "scale-password"

const (
	grantsPerUser = 10 // k = 0..7 on experiments, 8 and 9 on registered models
	resources     = 100_000
	roles         = 100
	rolePerms     = 10
)

func main() {
	dbURL := flag.String("database-url", "", "sqlite:///file.db or postgres://...")
	users := flag.Int("users", 1_000_000, "how many users (ten grants each)")
	flag.Parse()
	if *dbURL == "" || *users < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	start := time.Now()
	seeded, err := seed(ctx, *dbURL, *users)
	if err != nil {
		log.Fatal(err)
	}
	if !seeded {
		fmt.Println("seed: the database holds users already; left as it is")
		return
	}
	fmt.Printf("seed: %d users, %d grants, %d roles in %s\n", *users, *users*grantsPerUser, roles, time.Since(start).Round(time.Second))
}

// seed migrates the database and loads it, unless it has users.
func seed(ctx context.Context, dbURL string, users int) (bool, error) {
	hash, err := password.Default.Hash(Password)
	if err != nil {
		return false, err
	}
	if strings.HasPrefix(dbURL, "sqlite:") {
		path, err := sqlite.PathFromURL(dbURL)
		if err != nil {
			return false, err
		}
		store, err := sqlite.Open(path)
		if err != nil {
			return false, err
		}
		if err := migrate(ctx, store); err != nil {
			return false, err
		}
		return seedSQLite(ctx, path, users, hash)
	}
	store, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return false, err
	}
	if err := migrate(ctx, store); err != nil {
		return false, err
	}
	return seedPostgres(ctx, dbURL, users, hash)
}

func migrate(ctx context.Context, store interface {
	storage.Migrator
	Close() error
}) error {
	defer store.Close()
	return store.Migrate(ctx)
}

// The rows, in the order they are written.

type grant struct {
	id, user int
	typ, res string
	level    permission.Level
}

// levels spreads READ, EDIT and MANAGE over the grants.
var levels = [3]permission.Level{permission.Read, permission.Edit, permission.Manage}

// grants yields every grant by (resource type, resource id, user), the unique
// key's order. Grant k of user u is on resource 10·(u mod 10,000) + k, so the
// holders of resource e are the users e/10 + j·10,000, and every resource has
// about users/10,000 of them.
func grants(users int) iter.Seq[grant] {
	return func(yield func(grant) bool) {
		id := 0
		for _, kind := range []struct {
			typ, prefix string
			k           func(int) bool
		}{
			{string(permission.Experiment), "", func(k int) bool { return k < 8 }},
			{string(permission.RegisteredModel), "model-", func(k int) bool { return k >= 8 }},
		} {
			var names []string
			for e := range resources {
				if kind.k(e % 10) {
					names = append(names, kind.prefix+strconv.Itoa(e))
				}
			}
			slices.Sort(names) // text order, as the index has it
			for _, name := range names {
				e, _ := strconv.Atoi(strings.TrimPrefix(name, kind.prefix))
				for u := e / 10; u <= users; u += resources / 10 {
					if u == 0 {
						continue
					}
					id++
					if !yield(grant{id, u, kind.typ, name, levels[(u+e)%3]}) {
						return
					}
				}
			}
		}
	}
}

func username(u int) string { return fmt.Sprintf("user-%07d", u) }

// role r's permission j is READ on experiment 100,000 + 10·r + j, outside the
// direct grants' range; user u holds role u mod 100 + 1.
func rolePattern(r, j int) string { return strconv.Itoa(resources + 10*r + j) }
func roleOf(u int) int            { return u%roles + 1 }

// SQLite.

func seedSQLite(ctx context.Context, path string, users int, hash string) (bool, error) {
	dsn := (&url.URL{Scheme: "file", Opaque: url.PathEscape(path), RawQuery: url.Values{
		// A load cut short by a crash is started again on a new file, so it need not wait for the disk.
		"_pragma": {"foreign_keys(1)", "synchronous(OFF)", "cache_size(-1048576)"},
	}.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return false, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)").Scan(&n); err != nil || n > 0 {
		return false, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	indexes, err := sqliteIndexes(ctx, tx)
	if err != nil {
		return false, err
	}
	for name := range indexes {
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return false, err
		}
	}
	insert := func(query string, rows iter.Seq[[]any]) error {
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer st.Close()
		for row := range rows {
			if _, err := st.ExecContext(ctx, row...); err != nil {
				return fmt.Errorf("%s: %w", query, err)
			}
		}
		return nil
	}
	for _, t := range tables(users, hash) {
		if err := insert(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", t.name, strings.Join(t.columns, ", "),
			strings.TrimSuffix(strings.Repeat("?, ", len(t.columns)), ", ")), t.rows); err != nil {
			return false, err
		}
	}
	for _, ddl := range indexes {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return false, err
		}
	}
	return true, tx.Commit()
}

// sqliteIndexes are the grants table's own indexes (not its UNIQUE key's) by name.
func sqliteIndexes(ctx context.Context, tx *sql.Tx) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'grants' AND sql IS NOT NULL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			return nil, err
		}
		out[name] = ddl
	}
	return out, rows.Err()
}

// table is the rows of one table, for either backend.
type table struct {
	name    string
	columns []string
	rows    iter.Seq[[]any]
}

func tables(users int, hash string) []table {
	return []table{
		{"users", []string{"id", "username", "password_hash", "is_admin", "is_service_account"}, func(yield func([]any) bool) {
			for u := 1; u <= users; u++ {
				if !yield([]any{u, username(u), hash, false, false}) {
					return
				}
			}
		}},
		{"grants", []string{"id", "user_id", "workspace", "resource_type", "resource_id", "permission"}, func(yield func([]any) bool) {
			for g := range grants(users) {
				if !yield([]any{g.id, g.user, workspace.Default, g.typ, g.res, string(g.level)}) {
					return
				}
			}
		}},
		{"roles", []string{"id", "workspace", "name", "description"}, func(yield func([]any) bool) {
			for r := 1; r <= roles; r++ {
				if !yield([]any{r, workspace.Default, fmt.Sprintf("role-%03d", r), "seeded for bench/scale.sh"}) {
					return
				}
			}
		}},
		{"role_permissions", []string{"id", "role_id", "resource_type", "resource_pattern", "permission"}, func(yield func([]any) bool) {
			for r := 1; r <= roles; r++ {
				for j := range rolePerms {
					if !yield([]any{(r-1)*rolePerms + j + 1, r, string(permission.Experiment), rolePattern(r, j), string(permission.Read)}) {
						return
					}
				}
			}
		}},
		{"user_role_assignments", []string{"id", "user_id", "role_id"}, func(yield func([]any) bool) {
			for u := 1; u <= users; u++ {
				if !yield([]any{u, u, roleOf(u)}) {
					return
				}
			}
		}},
	}
}

// Postgres.

func seedPostgres(ctx context.Context, dbURL string, users int, hash string) (bool, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var full bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&full); err != nil || full {
		return false, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	// Foreign keys are triggers; a replica session does not fire them.
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		return false, err
	}
	indexes, err := postgresIndexes(ctx, tx)
	if err != nil {
		return false, err
	}
	for name := range indexes {
		if _, err := tx.Exec(ctx, "DROP INDEX "+pgx.Identifier{name}.Sanitize()); err != nil {
			return false, err
		}
	}
	for _, t := range tables(users, hash) {
		next, stop := iter.Pull(t.rows)
		var row []any
		src := pgx.CopyFromFunc(func() ([]any, error) {
			var ok bool
			row, ok = next()
			if !ok {
				return nil, nil
			}
			return row, nil
		})
		_, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, src)
		stop()
		if err != nil {
			return false, fmt.Errorf("copy %s: %w", t.name, err)
		}
		// The ids were given, so the identity column's sequence must move past them.
		if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))", t.name, t.name)); err != nil {
			return false, err
		}
	}
	for _, ddl := range indexes {
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	// What autovacuum would do soon after a load this size, done now so the
	// benchmark does not run while it happens.
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	return true, err
}

// postgresIndexes are the grants table's indexes that back no constraint, by name.
func postgresIndexes(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = 'grants'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			return nil, err
		}
		out[name] = ddl
	}
	return out, rows.Err()
}

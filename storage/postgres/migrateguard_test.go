package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// guardSchema is a fresh schema where setup ran, with a store opened on it
// whose search_path is path ("$self" stands for the schema; "" for it alone).
func guardSchema(t *testing.T, path string, setup ...string) (*Store, *storagetest.PostgresSchema) {
	t.Helper()
	ctx := context.Background()
	db := storagetest.NewPostgresSchema(t)
	raw, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	for _, sql := range setup {
		if _, err := raw.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	u, _ := url.Parse(db.URL)
	if path != "" {
		q := u.Query()
		q.Set("search_path", strings.ReplaceAll(path, "$self", db.Name))
		u.RawQuery = q.Encode()
	}
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// A first start that failed on MLflow's database before Migrate looked (it had
// made schema_migrations, then stopped at the users table) has applied no
// migration: the next start is refused in words too, not with Postgres's.
func TestMigrateRefusesMLflowsDatabaseAfterAFailedStart(t *testing.T) {
	s, _ := guardSchema(t, "", storagetest.MLflowUsersTable, createMigrationsTable)
	storagetest.WantForeignTablesRefused(t, s)
}

// MLflow's tables in another schema of the database, later on the search_path,
// are no obstacle: mlflow-auth's tables are made in its own schema, the first.
func TestMigrateBesideMLflowsSchema(t *testing.T) {
	ctx := context.Background()
	_, mlflow := guardSchema(t, "", storagetest.MLflowUsersTable)
	s, db := guardSchema(t, "$self,"+mlflow.Name)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate beside MLflow's schema: %v", err)
	}
	var n int
	if err := db.Admin.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('users', 'schema_migrations')",
		db.Name).Scan(&n); err != nil || n != 2 {
		t.Fatalf("mlflow-auth's users and schema_migrations in its schema: %d, %v", n, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("a second start: %v", err)
	}
}

// A view or a sequence named as one of mlflow-auth's tables, in its schema, is
// refused in words as a table is.
func TestMigrateRefusesRelationsOfItsNames(t *testing.T) {
	for what, sql := range map[string]string{
		"view":     "CREATE VIEW users AS SELECT 1 AS id",
		"sequence": "CREATE SEQUENCE users",
	} {
		t.Run(what, func(t *testing.T) {
			s, _ := guardSchema(t, "", sql)
			storagetest.WantForeignTablesRefused(t, s)
		})
	}
}

// A schema whose name needs quoting (capitals) is looked in as it is named.
func TestMigrateInAQuotedSchema(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewPostgresSchema(t)
	name := "Auth_" + db.Name
	if _, err := db.Admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Admin.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE") })
	u, _ := url.Parse(db.URL)
	q := u.Query()
	q.Set("search_path", pgx.Identifier{name}.Sanitize())
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate in schema %s: %v", name, err)
	}
}

package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// TestConformance runs the shared storage suite on a fresh database file per test.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.OpenFunc {
		path := filepath.Join(t.TempDir(), "auth.db")
		return func() (storagetest.Backend, error) { return sqlite.Open(path) }
	})
}

// Pointed at MLflow's own basic_auth.db (its users table), or a database with
// a view or an index of one of mlflow-auth's table names, or MLflow's users
// table beside a schema_migrations that holds no migration, Migrate refuses in
// words, not with SQLite's "already exists".
func TestMigrateRefusesRelationsOfItsNames(t *testing.T) {
	for what, setup := range map[string]string{
		"MLflow's users table": storagetest.MLflowUsersTable,
		"view":                 "CREATE VIEW users AS SELECT 1 AS id",
		"index":                "CREATE TABLE other (x); CREATE INDEX users ON other (x)",
		"empty schema_migrations": storagetest.MLflowUsersTable +
			"; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)",
	} {
		t.Run(what, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "auth.db")
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(setup); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			storagetest.WantForeignTablesRefused(t, s)
		})
	}
}

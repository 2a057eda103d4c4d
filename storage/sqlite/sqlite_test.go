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

// Pointed at MLflow's own basic_auth.db, Migrate refuses in words, rather than
// failing on its users table with SQLite's.
func TestMigrateRefusesMLflowsDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "basic_auth.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(storagetest.MLflowUsersTable); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storagetest.WantForeignTablesRefused(t, s)
}

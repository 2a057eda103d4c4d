package storagetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
)

// NewSQLite is a fresh, migrated SQLite store in the test's temporary directory,
// closed when the test ends.
func NewSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "auth.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

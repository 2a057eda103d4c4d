package sqlite_test

import (
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

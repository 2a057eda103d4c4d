package sqlite_test

import (
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

func BenchmarkGrantChange(b *testing.B) {
	storagetest.BenchmarkGrantChange(b, storagetest.NewSQLite(b))
}

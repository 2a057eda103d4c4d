package postgres

import (
	"context"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

func BenchmarkGrantChange(b *testing.B) {
	s, err := Open(context.Background(), storagetest.NewPostgresSchema(b).URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	storagetest.BenchmarkGrantChange(b, s)
}

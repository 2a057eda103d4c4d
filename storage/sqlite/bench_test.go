package sqlite_test

import (
	"context"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

func BenchmarkGrantChange(b *testing.B) {
	storagetest.BenchmarkGrantChange(b, storagetest.NewSQLite(b))
}

// BenchmarkUsersGetReads is what users/get reads after its (cached) user: the
// user's grants and roles, for a user with one grant and no role.
func BenchmarkUsersGetReads(b *testing.B) {
	ctx := context.Background()
	s := storagetest.NewSQLite(b)
	u, err := s.CreateUser(ctx, "alice", "hash", false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateGrant(ctx, u.ID, permission.Resource{Type: permission.Experiment, ID: "1"}, permission.Edit); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if g, err := s.GrantsOfUsers(ctx, []int32{u.ID}); err != nil || len(g) != 1 {
			b.Fatal(g, err)
		}
		if _, err := s.RolesOfUser(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
	}
}

package service

import (
	"context"
	"fmt"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// What the proxy pays per request to learn a user's permissions, by how many grants
// the user holds (every experiment a user creates adds one).
func BenchmarkGuardPermissions(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("grants=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db := storagetest.NewSQLite(b)
			u, err := db.CreateUser(ctx, "alice", "x", false)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				if _, err := db.CreateGrant(ctx, u.ID, permission.Resource{Type: permission.Experiment, ID: fmt.Sprint(i)}, permission.Manage); err != nil {
					b.Fatal(err)
				}
			}
			g := guard{&core{store: db, resolver: resolve.New(db, permission.NoPermissions)}}
			b.ReportAllocs()
			for b.Loop() {
				level := g.Permissions(ctx, storage.User{ID: u.ID, Username: "alice"})
				if l, err := level(permission.Resource{Type: permission.Experiment, ID: "7"}); err != nil || l.Level != permission.Manage {
					b.Fatal(l, err)
				}
			}
		})
	}
}

// The same for a user whose access comes through roles (issue 9): one direct grant,
// and 20 roles of 50 permissions each among 10,000 roles in the store. Compare with
// grants=10 above: nothing may load all roles per request.
func BenchmarkGuardPermissionsWithRoles(b *testing.B) {
	ctx := context.Background()
	db := storagetest.NewSQLite(b)
	u, err := db.CreateUser(ctx, "alice", "x", false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateGrant(ctx, u.ID, permission.Resource{Type: permission.Experiment, ID: "7"}, permission.Manage); err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		r, err := db.CreateRole(ctx, resolve.Workspace, fmt.Sprint("role-", i), nil)
		if err != nil {
			b.Fatal(err)
		}
		if i%500 != 0 { // 20 of them are alice's, each with 50 permissions
			continue
		}
		for j := range 50 {
			if _, err := db.AddRolePermission(ctx, r.ID, string(permission.Experiment), fmt.Sprint(1000+i+j), permission.Read); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := db.AssignRole(ctx, u.ID, r.ID); err != nil {
			b.Fatal(err)
		}
	}
	g := guard{&core{store: db, resolver: resolve.New(grantStore{db, db}, permission.NoPermissions)}}
	b.ReportAllocs()
	for b.Loop() {
		level := g.Permissions(ctx, storage.User{ID: u.ID, Username: "alice"})
		if l, err := level(permission.Resource{Type: permission.Experiment, ID: "7"}); err != nil || l.Level != permission.Manage {
			b.Fatal(l, err)
		}
	}
}

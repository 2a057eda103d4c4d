package permcache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
	"github.com/mlflow-auth/mlflow-auth/storage/usercache"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

func experiment(id string) permission.Resource {
	return permission.Resource{Type: permission.Experiment, ID: id}
}

// A lookup, a missing grant included, is answered from memory until the TTL
// passes: a grant written behind the cache's back shows only then.
func TestRemembersForTTL(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	u, err := db.CreateUser(ctx, "bob", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	c := New(time.Minute, &usercache.Local{})
	clock := time.Now()
	c.now = func() time.Time { return clock }
	s, r := c.Store(db), c.Roles(db)
	if _, err := s.Grant(ctx, u.ID, experiment("1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Grant = %v, want ErrNotFound", err)
	}
	if holds, err := r.HoldsRoleIn(ctx, u.ID, workspace.Default); err != nil || holds {
		t.Fatalf("HoldsRoleIn = %v, %v", holds, err)
	}
	if roles, err := r.RolesOfUser(ctx, u.ID); err != nil || len(roles) != 0 {
		t.Fatalf("RolesOfUser = %v, %v", roles, err)
	}
	if _, err := db.CreateGrant(ctx, u.ID, experiment("1"), permission.Read); err != nil {
		t.Fatal(err)
	}
	role, err := db.CreateRole(ctx, workspace.Default, "readers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AssignRole(ctx, u.ID, role.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Grant(ctx, u.ID, experiment("1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("within the TTL: %v, want the remembered ErrNotFound", err)
	}
	if holds, _ := r.HoldsRoleIn(ctx, u.ID, workspace.Default); holds {
		t.Fatal("within the TTL: holds a role, want the remembered none")
	}
	if roles, _ := r.RolesOfUser(ctx, u.ID); len(roles) != 0 {
		t.Fatalf("within the TTL: roles %v, want the remembered none", roles)
	}
	clock = clock.Add(time.Minute)
	if g, err := s.Grant(ctx, u.ID, experiment("1")); err != nil || g.Level != permission.Read {
		t.Fatalf("after the TTL: %+v, %v; want READ", g, err)
	}
	if roles, err := r.RolesOfUser(ctx, u.ID); err != nil || len(roles) != 1 || roles[0].Name != "readers" {
		t.Fatalf("after the TTL: RolesOfUser = %v, %v", roles, err)
	}
	if holds, err := r.HoldsRoleIn(ctx, u.ID, workspace.Default); err != nil || !holds {
		t.Fatalf("after the TTL: HoldsRoleIn = %v, %v", holds, err)
	}
}

// Lookups are kept per workspace, and at most max of them: one more forgets all.
func TestKeysAndBound(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	u, err := db.CreateUser(ctx, "bob", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	c := New(time.Hour, &usercache.Local{})
	s := c.Store(db)
	elsewhere := workspace.With(ctx, "elsewhere")
	if _, err := s.CreateGrant(elsewhere, u.ID, experiment("1"), permission.Edit); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Grant(ctx, u.ID, experiment("1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the default workspace: %v, want ErrNotFound", err)
	}
	if g, err := s.Grant(elsewhere, u.ID, experiment("1")); err != nil || g.Level != permission.Edit {
		t.Fatalf("elsewhere: %+v, %v; want EDIT", g, err)
	}
	if grants, err := s.GrantsOfUsers(ctx, []int32{u.ID}); err != nil || len(grants) != 0 {
		t.Fatalf("the default workspace's grants: %v, %v", grants, err)
	}

	c.max = 3 // three entries now: two grants and one user's grants
	if _, err := db.CreateGrant(ctx, u.ID, experiment("1"), permission.Read); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Grant(ctx, u.ID, experiment("1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("remembered: %v, want ErrNotFound", err)
	}
	if _, err := s.Grant(ctx, u.ID, experiment("2")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if g, err := s.Grant(ctx, u.ID, experiment("1")); err != nil || g.Level != permission.Read {
		t.Fatalf("after the bound forgot it: %+v, %v; want READ", g, err)
	}

	// A user's every grant counts one for each.
	c.max = maxEntries
	c.flush("")
	if grants, err := s.GrantsOfUsers(ctx, []int32{u.ID}); err != nil || len(grants) != 1 {
		t.Fatalf("the default workspace's grants: %v, %v", grants, err)
	}
	if c.size != 2 {
		t.Fatalf("one lookup of one grant counts %d, want 2", c.size)
	}
}

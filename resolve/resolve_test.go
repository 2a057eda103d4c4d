package resolve

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// countingStore counts the grant reads of the store it wraps.
type countingStore struct {
	Grants
	points, bulks, roleReads atomic.Int32
}

func (s *countingStore) RoleGrantsOfUser(ctx context.Context, userID int32, workspace, resourceType, resourceID string) ([]storage.RoleGrant, error) {
	s.roleReads.Add(1)
	return s.Grants.RoleGrantsOfUser(ctx, userID, workspace, resourceType, resourceID)
}

func (s *countingStore) Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error) {
	s.points.Add(1)
	return s.Grants.Grant(ctx, userID, r)
}

func (s *countingStore) GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error) {
	s.bulks.Add(1)
	return s.Grants.GrantsOfUsers(ctx, userIDs)
}

// A session gives each resource its direct grant (above the default, or
// NO_PERMISSIONS) or the default, looking the first few up one by one and then
// loading all of the user's direct grants once, and likewise reading the role
// grants that name each of the first few, then their type's once; admins manage
// everything.
func TestSessionLevels(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	alice, err := db.CreateUser(ctx, "alice", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	exp := func(i int) permission.Resource {
		return permission.Resource{Type: permission.Experiment, ID: fmt.Sprint(i)}
	}
	want := map[permission.Resource]permission.Level{}
	for i := range 30 {
		want[exp(i)] = permission.Read // the default
		if i%3 == 0 {
			levels := []permission.Level{permission.Manage, permission.Edit, permission.NoPermissions}
			want[exp(i)] = levels[i%9/3]
			if _, err := db.CreateGrant(ctx, alice.ID, exp(i), want[exp(i)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	store := &countingStore{Grants: db}
	level := New(store, permission.Read).Session(ctx, alice).Level
	check := func(i int) {
		t.Helper()
		if l, err := level(exp(i)); err != nil || l != want[exp(i)] {
			t.Errorf("experiment %d: %v, %v; want %v", i, l, err, want[exp(i)])
		}
	}
	for i := range PointLookups {
		check(i)
		check(i) // remembered, not asked again
	}
	// Two point lookups more, each read once: the user's grant on the workspace
	// itself, and on every experiment ("*").
	if p, b := store.points.Load(), store.bulks.Load(); p != PointLookups+2 || b != 0 {
		t.Errorf("after %d resources: %d point lookups, %d loads", PointLookups, p, b)
	}
	for i := PointLookups; i < 30; i++ {
		check(i)
	}
	for i := range 30 {
		check(i)
	}
	if p, b := store.points.Load(), store.bulks.Load(); p != PointLookups+2 || b != 1 {
		t.Errorf("after 30 resources: %d point lookups, %d loads", p, b)
	}
	if n := store.roleReads.Load(); n != PointLookups+1 {
		t.Errorf("after 30 experiments: %d reads of role grants, want %d (one per resource, then the type's)", n, PointLookups+1)
	}

	admin := New(store, permission.Read).Session(ctx, storage.User{ID: 99, Username: "root", IsAdmin: true})
	if l, err := admin.Level(exp(3)); err != nil || l != permission.Manage {
		t.Errorf("admin: %v, %v", l, err)
	}
}

// A decision is made inside the request's workspace: that workspace's direct
// grants and roles count, and a workspace MANAGE role makes its holder the
// admin of that workspace alone.
func TestWorkspaceDecisions(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	inWS := func(name string) context.Context { return workspace.With(ctx, name) }
	user := func(name string) storage.User {
		u, err := db.CreateUser(ctx, name, "x", false)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	role := func(ws, name, typ, pattern string, l permission.Level, holder storage.User) {
		r, err := db.CreateRole(ctx, ws, name, nil)
		if err == nil {
			_, err = db.AddRolePermission(ctx, r.ID, typ, pattern, l)
		}
		if err == nil {
			_, err = db.AssignRole(ctx, holder.ID, r.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	e1 := permission.Resource{Type: permission.Experiment, ID: "1"}
	if _, err := db.CreateGrant(inWS("team-a"), alice.ID, e1, permission.Read); err != nil {
		t.Fatal(err)
	}
	// carol's direct MANAGE on team-c itself (MLflow 3.12's workspace permission).
	if _, err := db.CreateGrant(inWS("team-c"), carol.ID, workspace.Resource, permission.Manage); err != nil {
		t.Fatal(err)
	}
	role(workspace.Default, "viewers", "experiment", "*", permission.Edit, alice)
	role("team-a", "blocked", "experiment", "1", permission.Deny, bob)
	role("team-a", "admins", "workspace", "*", permission.Manage, bob)
	role("team-b", "blocked", "experiment", "*", permission.Deny, alice)

	r := New(db, permission.NoPermissions)
	for _, c := range []struct {
		ws   string
		u    storage.User
		want Decision
	}{
		{workspace.Default, alice, Decision{Level: permission.Edit, By: ByRole, Role: "viewers"}},
		{"team-a", alice, Decision{Level: permission.Read, By: ByGrant}},
		{"team-b", alice, Decision{Level: permission.Deny, By: ByRole, Role: "blocked"}},
		{"team-c", alice, Decision{Level: permission.NoPermissions, By: ByDefault}},
		{"team-a", bob, Decision{Level: permission.Manage, By: ByRole, Role: "admins"}},
		{workspace.Default, bob, Decision{Level: permission.NoPermissions, By: ByDefault}},
		{"team-b", bob, Decision{Level: permission.NoPermissions, By: ByDefault}},
		{"team-c", carol, Decision{Level: permission.Manage, By: ByGrant}},
		{workspace.Default, carol, Decision{Level: permission.NoPermissions, By: ByDefault}},
	} {
		if d, err := r.Decision(inWS(c.ws), c.u, e1); err != nil || d != c.want {
			t.Errorf("%s in %s: %+v, %v; want %+v", c.u.Username, c.ws, d, err, c.want)
		}
	}
}

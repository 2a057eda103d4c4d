package usercache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// A user's grants and roles, read recently, are answered without the database
// (users/get reads both on every call): a grant made behind the cache's back
// shows only after the TTL, while every grant and role write through either of
// two caches sharing a notifier (two replicas) is seen by both on the next read.
func TestGrantsAndRoles(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	bob, err := db.CreateUser(ctx, "bob", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	exp := func(id string) permission.Resource { return permission.Resource{Type: permission.Experiment, ID: id} }
	n := &Local{}
	here, there := New(db, time.Hour, n), New(db, time.Hour, n)
	clock := time.Now()
	here.now = func() time.Time { return clock }
	hereRoles, thereRoles := here.Roles(db), there.Roles(db)
	// What each cache answers: "grants: experiment/1=READ ... | roles: name[permissions] ...".
	view := func(c *Store, r *Roles) string {
		t.Helper()
		grants, err := c.GrantsOfUsers(ctx, []int32{bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		roles, err := r.RolesOfUser(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		s := "grants:"
		for _, g := range grants {
			s += fmt.Sprintf(" %s/%s=%s", g.Resource.Type, g.Resource.ID, g.Level)
		}
		s += " | roles:"
		for _, role := range roles {
			s += " " + role.Name + fmt.Sprint(len(role.Permissions))
		}
		return s
	}
	want := func(what, v string) {
		t.Helper()
		for name, got := range map[string]string{"here": view(here, hereRoles), "there": view(there, thereRoles)} {
			if got != v {
				t.Fatalf("%s after %s: %q, want %q", name, what, got, v)
			}
		}
	}
	want("nothing", "grants: | roles:")

	// Behind the caches' back: remembered until the TTL.
	if _, err := db.CreateGrant(ctx, bob.ID, exp("1"), permission.Read); err != nil {
		t.Fatal(err)
	}
	role, err := db.CreateRole(ctx, "default", "readers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AssignRole(ctx, bob.ID, role.ID); err != nil {
		t.Fatal(err)
	}
	if got := view(here, hereRoles); got != "grants: | roles:" {
		t.Fatalf("within the TTL: %q, want the remembered nothing", got)
	}
	clock = clock.Add(time.Hour)
	if got := view(here, hereRoles); got != "grants: experiment/1=READ | roles: readers0" {
		t.Fatalf("after the TTL: %q", got)
	}
	n.Changed(ctx, "") // there, too, forgets what it remembered
	want("a flush", "grants: experiment/1=READ | roles: readers0")

	// Through a cache: seen at once by both.
	steps := []struct {
		what  string
		write func() error
		want  string
	}{
		{"a grant", func() error { _, err := here.CreateGrant(ctx, bob.ID, exp("2"), permission.Edit); return err },
			"grants: experiment/1=READ experiment/2=EDIT | roles: readers0"},
		{"a grant update", func() error { _, err := there.UpdateGrant(ctx, bob.ID, exp("1"), permission.Manage); return err },
			"grants: experiment/1=MANAGE experiment/2=EDIT | roles: readers0"},
		{"a grant deletion", func() error { return here.DeleteGrant(ctx, bob.ID, exp("2")) },
			"grants: experiment/1=MANAGE | roles: readers0"},
		{"a resource's deletion", func() error { return there.DeleteResourceGrants(ctx, exp("1")) },
			"grants: | roles: readers0"},
		{"a batch", func() error {
			return here.CreateBatch(ctx, storage.Batch{Grants: []storage.Grant{{Username: "bob", Resource: exp("3"), Level: permission.Read}}})
		}, "grants: experiment/3=READ | roles: readers0"},
		{"a move", func() error {
			gs, err := db.GrantsOfUsers(ctx, []int32{bob.ID})
			if err != nil {
				return err
			}
			return there.MoveGrants(ctx, gs, exp("4"))
		}, "grants: experiment/4=READ | roles: readers0"},
		{"a role permission", func() error {
			_, err := hereRoles.AddRolePermission(ctx, role.ID, string(permission.Experiment), "*", permission.Read)
			return err
		}, "grants: experiment/4=READ | roles: readers1"},
		{"a renamed role", func() error {
			name := "viewers"
			_, err := thereRoles.UpdateRole(ctx, role.ID, &name, nil)
			return err
		}, "grants: experiment/4=READ | roles: viewers1"},
		{"an unassignment", func() error { return hereRoles.UnassignRole(ctx, bob.ID, role.ID) },
			"grants: experiment/4=READ | roles:"},
		{"an assignment", func() error { _, err := thereRoles.AssignRole(ctx, bob.ID, role.ID); return err },
			"grants: experiment/4=READ | roles: viewers1"},
		{"a role deletion", func() error { return hereRoles.DeleteRole(ctx, role.ID) },
			"grants: experiment/4=READ | roles:"},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		want(s.what, s.want)
	}
}

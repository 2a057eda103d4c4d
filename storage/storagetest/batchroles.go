package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

func batchRole(workspace, name string, members []string, perms ...storage.RolePermission) storage.BatchRole {
	return storage.BatchRole{Role: storage.Role{Workspace: workspace, Name: name, Permissions: perms}, Members: members}
}

func rolePerm(typ, pattern string, l permission.Level) storage.RolePermission {
	return storage.RolePermission{ID: 999, RoleID: 999, ResourceType: typ, Pattern: pattern, Level: l} // ids are ignored
}

// rolesSnapshot shows every role with its permissions (without ids) and members by name.
func rolesSnapshot(t *testing.T, s Backend) []string {
	t.Helper()
	ctx := context.Background()
	roles, err := s.ListRoles(ctx, "", 0, 0)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	users, err := s.ListUsers(ctx, 0, 0)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	names := map[int32]string{}
	for _, u := range users {
		names[u.ID] = u.Username
	}
	var out []string
	for _, r := range roles {
		desc := "<nil>"
		if r.Description != nil {
			desc = *r.Description
		}
		var perms []string
		for _, p := range r.Permissions {
			if p.RoleID != r.ID {
				t.Errorf("role %d has permission %+v of another role", r.ID, p)
			}
			perms = append(perms, fmt.Sprintf("%s/%s/%s", p.ResourceType, p.Pattern, p.Level))
		}
		as, err := s.RoleAssignments(ctx, r.ID)
		if err != nil {
			t.Fatalf("RoleAssignments(%d): %v", r.ID, err)
		}
		var members []string
		for _, a := range as {
			members = append(members, names[a.UserID])
		}
		out = append(out, fmt.Sprintf("%s/%s/%s%v%v", r.Workspace, r.Name, desc, perms, members))
	}
	return out
}

// CreateBatch creates roles with their permissions (DENY and wildcards included)
// in their workspaces, held by users of the batch and existing users.
func testCreateBatchRoles(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "carol", false)
	mustCreateRole(t, s, "existing")
	b := storage.Batch{
		Users: []storage.User{batchUser("alice", false), batchUser("bob", false)},
		Roles: []storage.BatchRole{
			batchRole("default", "team", []string{"alice", "carol"},
				rolePerm("experiment", "*", permission.Read), rolePerm("experiment", "7", permission.Deny),
				rolePerm("workspace", "*", permission.Manage)),
			{Role: storage.Role{Workspace: "other", Name: "team", Description: strp("in another workspace"),
				Permissions: []storage.RolePermission{rolePerm("registered_model", "m", permission.Edit)}}, Members: []string{"bob"}},
			batchRole("default", "empty", nil),
		},
	}
	if err := s.CreateBatch(ctx, b); err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	got := rolesSnapshot(t, s)
	want := []string{
		"default/existing/<nil>[][]",
		"default/team/<nil>[experiment/*/READ experiment/7/DENY workspace/*/MANAGE][alice carol]",
		"other/team/in another workspace[registered_model/m/EDIT][bob]",
		"default/empty/<nil>[][]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("roles after CreateBatch:\n got  %q\n want %q", got, want)
	}
	// The resolver's read sees them: alice holds the team's grants on experiments.
	alice, err := s.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	grants, err := s.RoleGrantsOfUser(ctx, alice.ID, "default", "experiment", "7")
	if err != nil {
		t.Fatalf("RoleGrantsOfUser: %v", err)
	}
	var levels []string
	for _, g := range grants {
		levels = append(levels, g.RoleName+"/"+g.ResourceType+"/"+g.Pattern+"/"+string(g.Level))
	}
	slices.Sort(levels)
	if w := []string{"team/experiment/*/READ", "team/experiment/7/DENY", "team/workspace/*/MANAGE"}; !slices.Equal(levels, w) {
		t.Fatalf("RoleGrantsOfUser(alice, experiment 7) = %q, want %q", levels, w)
	}
}

// A batch whose role, role permission or assignment cannot be written writes nothing.
func testCreateBatchRolesAllOrNothing(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "carol", false)
	mustCreateRole(t, s, "existing")
	users, grants := snapshot(t, s)
	roles := rolesSnapshot(t, s)
	for _, c := range []struct {
		name string
		b    storage.Batch
		want error
	}{
		{"existing role", storage.Batch{
			Users: []storage.User{batchUser("u1", false)},
			Roles: []storage.BatchRole{batchRole("default", "new", []string{"u1"}), batchRole("default", "existing", nil)},
		}, storage.ErrAlreadyExists},
		{"role twice", storage.Batch{
			Roles: []storage.BatchRole{batchRole("w", "r", nil), batchRole("w", "r", nil)},
		}, storage.ErrAlreadyExists},
		{"permission twice", storage.Batch{
			Roles: []storage.BatchRole{batchRole("default", "new", nil,
				rolePerm("experiment", "*", permission.Read), rolePerm("experiment", "*", permission.Deny))},
		}, storage.ErrAlreadyExists},
		{"member missing", storage.Batch{
			Users: []storage.User{batchUser("u1", false)},
			Roles: []storage.BatchRole{batchRole("default", "new", []string{"u1", "nobody"}, rolePerm("experiment", "1", permission.Edit))},
		}, storage.ErrNotFound},
		{"member twice", storage.Batch{
			Roles: []storage.BatchRole{batchRole("default", "new", []string{"carol", "carol"})},
		}, storage.ErrAlreadyExists},
	} {
		wantErr(t, c.name, s.CreateBatch(ctx, c.b), c.want)
		gotUsers, gotGrants := snapshot(t, s)
		if got := rolesSnapshot(t, s); !slices.Equal(got, roles) || !slices.Equal(gotUsers, users) || !slices.Equal(gotGrants, grants) {
			t.Fatalf("%s: the refused batch left changes: roles %q users %+v grants %q", c.name, got, gotUsers, gotGrants)
		}
	}
}

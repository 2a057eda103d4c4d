package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// roleTests cover every method of storage.Roles.
var roleTests = []struct {
	name string
	fn   func(t *testing.T, open OpenFunc)
}{
	{"CreateRole", testCreateRole},
	{"CreateRoleDuplicate", testCreateRoleDuplicate},
	{"RoleMissing", testRoleMissing},
	{"ListRoles", testListRoles},
	{"UpdateRole", testUpdateRole},
	{"DeleteRole", testDeleteRole},
	{"AddRolePermission", testAddRolePermission},
	{"UpdateAndRemoveRolePermission", testUpdateAndRemoveRolePermission},
	{"AssignRole", testAssignRole},
	{"UnassignRole", testUnassignRole},
	{"DeleteUserRemovesAssignments", testDeleteUserRemovesAssignments},
	{"ConcurrentAssignRole", testConcurrentAssignRole},
	{"RoleGrantsOfUser", testRoleGrantsOfUser},
	{"RoleHoldersOf", testRoleHoldersOf},
	{"UsersSharingWorkspaces", testUsersSharingWorkspaces},
	{"CreateBatchRoles", testCreateBatchRoles},
	{"CreateBatchRolesAllOrNothing", testCreateBatchRolesAllOrNothing},
}

func strp(s string) *string { return &s }

func mustCreateRole(t *testing.T, s Backend, name string) storage.Role {
	t.Helper()
	r, err := s.CreateRole(context.Background(), "default", name, nil)
	if err != nil {
		t.Fatalf("CreateRole(%q): %v", name, err)
	}
	return r
}

func mustAddRolePermission(t *testing.T, s Backend, role storage.Role, typ, pattern string, l permission.Level) storage.RolePermission {
	t.Helper()
	p, err := s.AddRolePermission(context.Background(), role.ID, typ, pattern, l)
	if err != nil {
		t.Fatalf("AddRolePermission(%d, %s, %s, %s): %v", role.ID, typ, pattern, l, err)
	}
	return p
}

func mustAssign(t *testing.T, s Backend, u storage.User, r storage.Role) storage.RoleAssignment {
	t.Helper()
	a, err := s.AssignRole(context.Background(), u.ID, r.ID)
	if err != nil {
		t.Fatalf("AssignRole(%d, %d): %v", u.ID, r.ID, err)
	}
	return a
}

// roleKey shows a role with its permissions, description "<nil>" when unset.
func roleKey(r storage.Role) string {
	desc := "<nil>"
	if r.Description != nil {
		desc = *r.Description
	}
	return fmt.Sprintf("%d/%s/%s/%s%v", r.ID, r.Workspace, r.Name, desc, permKeys(r.Permissions))
}

func permKeys(ps []storage.RolePermission) []string {
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = fmt.Sprintf("%d/%d/%s/%s/%s", p.ID, p.RoleID, p.ResourceType, p.Pattern, p.Level)
	}
	return keys
}

func wantRoles(t *testing.T, what string, got, want []storage.Role) {
	t.Helper()
	g, w := make([]string, len(got)), make([]string, len(want))
	for i, r := range got {
		g[i] = roleKey(r)
	}
	for i, r := range want {
		w[i] = roleKey(r)
	}
	if !slices.Equal(g, w) {
		t.Fatalf("%s:\n got  %q\n want %q", what, g, w)
	}
}

func testCreateRole(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	plain := mustCreateRole(t, s, "readers")
	described, err := s.CreateRole(ctx, "default", "writers", strp("can write"))
	if err != nil {
		t.Fatalf("CreateRole with a description: %v", err)
	}
	if plain.ID <= 0 || described.ID <= plain.ID {
		t.Fatalf("ids %d then %d: want positive and increasing", plain.ID, described.ID)
	}
	wantRoles(t, "created", []storage.Role{plain, described}, []storage.Role{
		{ID: plain.ID, Name: "readers", Workspace: "default"},
		{ID: described.ID, Name: "writers", Workspace: "default", Description: strp("can write")},
	})
	if plain.Permissions == nil {
		t.Error("a new role's Permissions is nil, want an empty list")
	}
	got, err := s.Role(ctx, described.ID)
	if err != nil {
		t.Fatalf("Role: %v", err)
	}
	wantRoles(t, "read back", []storage.Role{got}, []storage.Role{described})
}

func testCreateRoleDuplicate(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateRole(t, s, "readers")
	_, err := s.CreateRole(ctx, "default", "readers", strp("again"))
	wantErr(t, "CreateRole of a taken name", err, storage.ErrAlreadyExists)
	if _, err := s.CreateRole(ctx, "other", "readers", nil); err != nil {
		t.Fatalf("the same name in another workspace: %v", err)
	}
}

func testRoleMissing(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	_, err := s.Role(ctx, 404)
	wantErr(t, "Role", err, storage.ErrNotFound)
	_, err = s.RolePermissions(ctx, 404)
	wantErr(t, "RolePermissions", err, storage.ErrNotFound)
	_, err = s.RoleAssignments(ctx, 404)
	wantErr(t, "RoleAssignments", err, storage.ErrNotFound)
	_, err = s.RolePermission(ctx, 404)
	wantErr(t, "RolePermission", err, storage.ErrNotFound)
	_, err = s.UpdateRole(ctx, 404, strp("x"), nil)
	wantErr(t, "UpdateRole", err, storage.ErrNotFound)
	wantErr(t, "DeleteRole", s.DeleteRole(ctx, 404), storage.ErrNotFound)
	_, err = s.AddRolePermission(ctx, 404, "experiment", "*", permission.Read)
	wantErr(t, "AddRolePermission", err, storage.ErrNotFound)
	_, err = s.UpdateRolePermission(ctx, 404, permission.Read)
	wantErr(t, "UpdateRolePermission", err, storage.ErrNotFound)
	wantErr(t, "RemoveRolePermission", s.RemoveRolePermission(ctx, 404), storage.ErrNotFound)
}

func testListRoles(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	var all []storage.Role
	for i := range 5 {
		r := mustCreateRole(t, s, fmt.Sprintf("role-%d", i))
		r.Permissions = []storage.RolePermission{mustAddRolePermission(t, s, r, "experiment", fmt.Sprint(i), permission.Edit)}
		all = append(all, r)
	}
	other, err := s.CreateRole(ctx, "other", "elsewhere", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRoles(ctx, "default", 0, 0)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	wantRoles(t, "every role of default", got, all)
	got, err = s.ListRoles(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantRoles(t, "every role", got, append(slices.Clone(all), other))
	got, err = s.ListRoles(ctx, "default", all[1].ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantRoles(t, "a page after the second", got, all[2:4])
	got, err = s.ListRoles(ctx, "nowhere", 0, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListRoles of an empty workspace = %v, %v; want none", got, err)
	}
}

func testUpdateRole(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	r := mustCreateRole(t, s, "readers")
	mustCreateRole(t, s, "writers")
	p := mustAddRolePermission(t, s, r, "registered_model", "*", permission.Read)

	got, err := s.UpdateRole(ctx, r.ID, nil, strp("reads"))
	if err != nil {
		t.Fatalf("UpdateRole description: %v", err)
	}
	want := storage.Role{ID: r.ID, Name: "readers", Workspace: "default", Description: strp("reads"), Permissions: []storage.RolePermission{p}}
	wantRoles(t, "after setting the description", []storage.Role{got}, []storage.Role{want})

	got, err = s.UpdateRole(ctx, r.ID, strp("viewers"), nil)
	if err != nil {
		t.Fatalf("UpdateRole name: %v", err)
	}
	want.Name = "viewers"
	wantRoles(t, "after renaming (the description stays)", []storage.Role{got}, []storage.Role{want})

	_, err = s.UpdateRole(ctx, r.ID, strp("writers"), nil)
	wantErr(t, "renaming onto a taken name", err, storage.ErrAlreadyExists)
	got, err = s.Role(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRoles(t, "after the refused rename", []storage.Role{got}, []storage.Role{want})
}

func testDeleteRole(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	r := mustCreateRole(t, s, "doomed")
	kept := mustCreateRole(t, s, "kept")
	p := mustAddRolePermission(t, s, r, "experiment", "*", permission.Read)
	mustAssign(t, s, alice, r)
	keptAssignment := mustAssign(t, s, alice, kept)

	if err := s.DeleteRole(ctx, r.ID); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	_, err := s.Role(ctx, r.ID)
	wantErr(t, "Role after DeleteRole", err, storage.ErrNotFound)
	_, err = s.RolePermission(ctx, p.ID)
	wantErr(t, "its permission after DeleteRole", err, storage.ErrNotFound)
	roles, err := s.RolesOfUser(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRoles(t, "alice's roles after DeleteRole", roles, []storage.Role{kept})
	as, err := s.RoleAssignments(ctx, kept.ID)
	if err != nil || !slices.Equal(as, []storage.RoleAssignment{keptAssignment}) {
		t.Fatalf("the other role's assignments = %v, %v; want %v", as, err, keptAssignment)
	}
	wantErr(t, "DeleteRole again", s.DeleteRole(ctx, r.ID), storage.ErrNotFound)
}

func testAddRolePermission(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	r := mustCreateRole(t, s, "mixed")
	wild := mustAddRolePermission(t, s, r, "experiment", "*", permission.Read)
	deny := mustAddRolePermission(t, s, r, "experiment", "7", permission.Level("DENY"))
	model := mustAddRolePermission(t, s, r, "registered_model", "*", permission.Manage)
	if got := permKeys([]storage.RolePermission{wild, deny, model}); !slices.Equal(got, []string{
		fmt.Sprintf("%d/%d/experiment/*/READ", wild.ID, r.ID),
		fmt.Sprintf("%d/%d/experiment/7/DENY", deny.ID, r.ID),
		fmt.Sprintf("%d/%d/registered_model/*/MANAGE", model.ID, r.ID),
	}) {
		t.Fatalf("added permissions = %q", got)
	}
	_, err := s.AddRolePermission(ctx, r.ID, "experiment", "*", permission.Manage)
	wantErr(t, "the same type and pattern again", err, storage.ErrAlreadyExists)

	ps, err := s.RolePermissions(ctx, r.ID)
	if err != nil {
		t.Fatalf("RolePermissions: %v", err)
	}
	if got, want := permKeys(ps), permKeys([]storage.RolePermission{wild, deny, model}); !slices.Equal(got, want) {
		t.Fatalf("RolePermissions = %q, want %q", got, want)
	}
	one, err := s.RolePermission(ctx, deny.ID)
	if err != nil || one != deny {
		t.Fatalf("RolePermission = %v, %v; want %v", one, err, deny)
	}
	got, err := s.Role(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(permKeys(got.Permissions), permKeys(ps)) {
		t.Fatalf("Role's permissions = %q, want %q", permKeys(got.Permissions), permKeys(ps))
	}
}

func testUpdateAndRemoveRolePermission(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	r := mustCreateRole(t, s, "r")
	p := mustAddRolePermission(t, s, r, "prompt", "*", permission.Read)
	q := mustAddRolePermission(t, s, r, "scorer", "*", permission.Read)
	updated, err := s.UpdateRolePermission(ctx, p.ID, permission.Edit)
	if err != nil {
		t.Fatalf("UpdateRolePermission: %v", err)
	}
	p.Level = permission.Edit
	if updated != p {
		t.Fatalf("UpdateRolePermission = %v, want %v", updated, p)
	}
	if err := s.RemoveRolePermission(ctx, q.ID); err != nil {
		t.Fatalf("RemoveRolePermission: %v", err)
	}
	wantErr(t, "RemoveRolePermission again", s.RemoveRolePermission(ctx, q.ID), storage.ErrNotFound)
	ps, err := s.RolePermissions(ctx, r.ID)
	if err != nil || !slices.Equal(ps, []storage.RolePermission{p}) {
		t.Fatalf("RolePermissions = %v, %v; want only %v", ps, err, p)
	}
}

func testAssignRole(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	bob := mustCreateUser(t, s, "bob", false)
	readers := mustCreateRole(t, s, "readers")
	writers := mustCreateRole(t, s, "writers")
	p := mustAddRolePermission(t, s, writers, "experiment", "*", permission.Edit)
	writers.Permissions = []storage.RolePermission{p}
	elsewhere, err := s.CreateRole(ctx, "other", "elsewhere", nil)
	if err != nil {
		t.Fatal(err)
	}

	a1 := mustAssign(t, s, alice, writers)
	a2 := mustAssign(t, s, bob, writers)
	a3 := mustAssign(t, s, alice, readers)
	if a1 != (storage.RoleAssignment{ID: a1.ID, UserID: alice.ID, RoleID: writers.ID}) || a1.ID <= 0 {
		t.Fatalf("AssignRole = %+v", a1)
	}
	_, err = s.AssignRole(ctx, alice.ID, writers.ID)
	wantErr(t, "assigning a role twice", err, storage.ErrAlreadyExists)
	_, err = s.AssignRole(ctx, 404, writers.ID)
	wantErr(t, "assigning to a missing user", err, storage.ErrNotFound)
	_, err = s.AssignRole(ctx, alice.ID, 404)
	wantErr(t, "assigning a missing role", err, storage.ErrNotFound)

	roles, err := s.RolesOfUser(ctx, alice.ID)
	if err != nil {
		t.Fatalf("RolesOfUser: %v", err)
	}
	wantRoles(t, "alice's roles", roles, []storage.Role{readers, writers})
	as, err := s.RoleAssignments(ctx, writers.ID)
	if err != nil || !slices.Equal(as, []storage.RoleAssignment{a1, a2}) {
		t.Fatalf("RoleAssignments(writers) = %v, %v; want %v", as, err, []storage.RoleAssignment{a1, a2})
	}
	as, err = s.RoleAssignments(ctx, readers.ID)
	if err != nil || !slices.Equal(as, []storage.RoleAssignment{a3}) {
		t.Fatalf("RoleAssignments(readers) = %v, %v; want %v", as, err, a3)
	}

	for _, c := range []struct {
		user      storage.User
		workspace string
		want      bool
	}{{alice, "default", true}, {alice, "other", false}, {bob, "default", true}} {
		got, err := s.HoldsRoleIn(ctx, c.user.ID, c.workspace)
		if err != nil || got != c.want {
			t.Errorf("HoldsRoleIn(%s, %s) = %v, %v; want %v", c.user.Username, c.workspace, got, err, c.want)
		}
	}
	mustAssign(t, s, bob, elsewhere)
	if got, err := s.HoldsRoleIn(ctx, bob.ID, "other"); err != nil || !got {
		t.Errorf("HoldsRoleIn(bob, other) after assigning = %v, %v; want true", got, err)
	}
}

func testUnassignRole(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	r := mustCreateRole(t, s, "r")
	mustAssign(t, s, alice, r)
	if err := s.UnassignRole(ctx, alice.ID, r.ID); err != nil {
		t.Fatalf("UnassignRole: %v", err)
	}
	wantErr(t, "UnassignRole again", s.UnassignRole(ctx, alice.ID, r.ID), storage.ErrNotFound)
	roles, err := s.RolesOfUser(ctx, alice.ID)
	if err != nil || len(roles) != 0 {
		t.Fatalf("RolesOfUser after UnassignRole = %v, %v; want none", roles, err)
	}
	if got, err := s.HoldsRoleIn(ctx, alice.ID, "default"); err != nil || got {
		t.Fatalf("HoldsRoleIn after UnassignRole = %v, %v; want false", got, err)
	}
	if _, err := s.Role(ctx, r.ID); err != nil {
		t.Fatalf("the role itself after UnassignRole: %v", err)
	}
}

func testDeleteUserRemovesAssignments(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	alice := mustCreateUser(t, s, "alice", false)
	r := mustCreateRole(t, s, "r")
	mustAssign(t, s, alice, r)
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	as, err := s.RoleAssignments(ctx, r.ID)
	if err != nil || len(as) != 0 {
		t.Fatalf("RoleAssignments after deleting the user = %v, %v; want none", as, err)
	}
}

// Two replicas assigning the same role at once: one wins, the other is told it exists.
func testConcurrentAssignRole(t *testing.T, open OpenFunc) {
	s1, s2 := migrated(t, open), openStore(t, open)
	alice := mustCreateUser(t, s1, "alice", false)
	r := mustCreateRole(t, s1, "r")
	stores := []Backend{s1, s2}
	errs := race(8, func(i int) error {
		_, err := stores[i%2].AssignRole(context.Background(), alice.ID, r.ID)
		return err
	})
	wantOneWinner(t, "AssignRole", errs, storage.ErrAlreadyExists)
}

// A user's role grants: only their roles', only the workspace asked about, only
// the type asked about and the workspace slot, naming the role of each.
func testRoleGrantsOfUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	bob := mustCreateUser(t, s, "bob", false)
	readers := mustCreateRole(t, s, "readers")
	admins := mustCreateRole(t, s, "admins")
	bobs := mustCreateRole(t, s, "bobs")
	elsewhere, err := s.CreateRole(ctx, "other", "elsewhere", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAddRolePermission(t, s, readers, "experiment", "*", permission.Read)
	mustAddRolePermission(t, s, readers, "registered_model", "m", permission.Edit)
	mustAddRolePermission(t, s, readers, "experiment", "7", permission.Deny)
	mustAddRolePermission(t, s, admins, "workspace", "*", permission.Manage)
	mustAddRolePermission(t, s, bobs, "experiment", "*", permission.Manage)
	mustAddRolePermission(t, s, elsewhere, "experiment", "*", permission.Manage)
	for _, a := range [][2]any{{alice, readers}, {alice, admins}, {alice, elsewhere}, {bob, bobs}} {
		mustAssign(t, s, a[0].(storage.User), a[1].(storage.Role))
	}
	got, err := s.RoleGrantsOfUser(ctx, alice.ID, "default", "experiment", "")
	want := []storage.RoleGrant{
		{RoleID: readers.ID, RoleName: "readers", ResourceType: "experiment", Pattern: "*", Level: permission.Read},
		{RoleID: readers.ID, RoleName: "readers", ResourceType: "experiment", Pattern: "7", Level: permission.Deny},
		{RoleID: admins.ID, RoleName: "admins", ResourceType: "workspace", Pattern: "*", Level: permission.Manage},
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("RoleGrantsOfUser(alice, default, experiment) = %v, %v; want %v", got, err, want)
	}
	// With an id: the patterns that name it or "*", and the workspace slot.
	got, err = s.RoleGrantsOfUser(ctx, alice.ID, "default", "experiment", "8")
	if want := []storage.RoleGrant{want[0], want[2]}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("RoleGrantsOfUser(alice, default, experiment 8) = %v, %v; want %v", got, err, want)
	}
	got, err = s.RoleGrantsOfUser(ctx, alice.ID, "default", "experiment", "7")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("RoleGrantsOfUser(alice, default, experiment 7) = %v, %v; want %v", got, err, want)
	}
	got, err = s.RoleGrantsOfUser(ctx, alice.ID, "other", "registered_model", "")
	if err != nil || len(got) != 0 {
		t.Fatalf("RoleGrantsOfUser(alice, other, registered_model) = %v, %v; want none", got, err)
	}
	got, err = s.RoleGrantsOfUser(ctx, 404, "default", "experiment", "")
	if err != nil || len(got) != 0 {
		t.Fatalf("RoleGrantsOfUser(missing user) = %v, %v; want none", got, err)
	}
}

// Who holds a resource through roles: permissions on its id or "*" and
// workspace admins, of the workspace asked about, paged by whole users.
func testRoleHoldersOf(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	mustCreateUser(t, s, "dave", false)
	readers := mustCreateRole(t, s, "readers")
	deniers := mustCreateRole(t, s, "deniers")
	admins := mustCreateRole(t, s, "admins")
	elsewhere, err := s.CreateRole(ctx, "other", "elsewhere", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAddRolePermission(t, s, readers, "experiment", "*", permission.Read)
	mustAddRolePermission(t, s, readers, "experiment", "7", permission.Edit)
	mustAddRolePermission(t, s, readers, "experiment", "8", permission.Manage) // another experiment
	mustAddRolePermission(t, s, deniers, "experiment", "7", permission.Deny)
	mustAddRolePermission(t, s, deniers, "registered_model", "7", permission.Manage) // another type
	mustAddRolePermission(t, s, admins, "workspace", "*", permission.Manage)
	mustAddRolePermission(t, s, elsewhere, "experiment", "*", permission.Manage)
	for _, a := range [][2]any{{alice, readers}, {alice, deniers}, {bob, admins}, {carol, elsewhere}} {
		mustAssign(t, s, a[0].(storage.User), a[1].(storage.Role))
	}
	holder := func(u storage.User, r storage.Role, typ, pattern string, l permission.Level) storage.RoleHolder {
		return storage.RoleHolder{UserID: u.ID, Username: u.Username,
			RoleGrant: storage.RoleGrant{RoleID: r.ID, RoleName: r.Name, ResourceType: typ, Pattern: pattern, Level: l}}
	}
	exp7 := permission.Resource{Type: permission.Experiment, ID: "7"}
	all := []storage.RoleHolder{
		holder(alice, readers, "experiment", "*", permission.Read),
		holder(alice, readers, "experiment", "7", permission.Edit),
		holder(alice, deniers, "experiment", "7", permission.Deny),
		holder(bob, admins, "workspace", "*", permission.Manage),
	}
	for _, c := range []struct {
		after int32
		limit int
		want  []storage.RoleHolder
	}{{0, 0, all}, {0, 1, all[:3]}, {alice.ID, 1, all[3:]}, {bob.ID, 0, nil}} {
		got, err := s.RoleHoldersOf(ctx, "default", exp7, c.after, c.limit)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("RoleHoldersOf(experiment 7, after %d, limit %d) = %v, %v; want %v", c.after, c.limit, got, err, c.want)
		}
	}
}

// A user shares a workspace with whoever holds a role or a direct grant in one
// where the user holds either; the user is always listed, the admins when the
// user is in a workspace, and nobody else, however many workspaces there are.
func testUsersSharingWorkspaces(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	ctx := context.Background()
	inWS := func(ws string) context.Context { return workspace.With(ctx, ws) }
	me := mustCreateUser(t, s, "me", false)
	admin := mustCreateUser(t, s, "admin", true)
	roleMate := mustCreateUser(t, s, "role-mate", false)   // a role in team-a, where I hold a role
	grantMate := mustCreateUser(t, s, "grant-mate", false) // a direct grant in team-b, where I hold one
	mixedMate := mustCreateUser(t, s, "mixed-mate", false) // a direct grant in team-a
	stranger := mustCreateUser(t, s, "stranger", false)    // a role and a grant in team-c only
	nobody := mustCreateUser(t, s, "nobody", false)        // nothing anywhere
	role := func(ws, name string, users ...storage.User) {
		r, err := s.CreateRole(ctx, ws, name, nil)
		if err != nil {
			t.Fatalf("CreateRole(%s, %s): %v", ws, name, err)
		}
		for _, u := range users {
			mustAssign(t, s, u, r)
		}
	}
	grant := func(ws string, u storage.User, id string) {
		if _, err := s.CreateGrant(inWS(ws), u.ID, permission.Resource{Type: permission.Experiment, ID: id}, permission.Read); err != nil {
			t.Fatalf("CreateGrant in %s: %v", ws, err)
		}
	}
	role("team-a", "a1", me)
	role("team-a", "a2", roleMate)
	grant("team-a", mixedMate, "1")
	grant("team-b", me, "2")
	grant("team-b", grantMate, "3")
	role("team-c", "c1", stranger)
	grant("team-c", stranger, "4")

	names := func(us []storage.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.Username
		}
		return out
	}
	got, err := s.UsersSharingWorkspaces(ctx, me.ID, 0, 0)
	if err != nil {
		t.Fatalf("UsersSharingWorkspaces: %v", err)
	}
	want := []string{me.Username, admin.Username, roleMate.Username, grantMate.Username, mixedMate.Username}
	if !slices.Equal(names(got), want) {
		t.Fatalf("UsersSharingWorkspaces(me) = %v, want %v", names(got), want)
	}
	if got[1].ID != admin.ID || !got[1].IsAdmin {
		t.Fatalf("UsersSharingWorkspaces: admin row %+v", got[1])
	}
	page, err := s.UsersSharingWorkspaces(ctx, me.ID, admin.ID, 2)
	if err != nil || !slices.Equal(names(page), want[2:4]) {
		t.Fatalf("UsersSharingWorkspaces(me, after admin, 2) = %v, %v; want %v", names(page), err, want[2:4])
	}
	// Someone in no workspace lists themself only.
	got, err = s.UsersSharingWorkspaces(ctx, nobody.ID, 0, 0)
	if err != nil || !slices.Equal(names(got), []string{nobody.Username}) {
		t.Fatalf("UsersSharingWorkspaces(nobody) = %v, %v", names(got), err)
	}
}

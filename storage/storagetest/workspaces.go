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

var workspaceTests = []struct {
	name string
	fn   func(t *testing.T, open OpenFunc)
}{
	{"GrantWorkspaces", testGrantWorkspaces},
	{"GrantWorkspacesMoveAndBatch", testGrantWorkspacesMoveAndBatch},
}

// wantGrantIn checks the one grant a user holds on r in ctx's workspace, or none.
func wantGrantIn(t *testing.T, ctx context.Context, s storage.Store, u storage.User, r permission.Resource, want permission.Level) {
	t.Helper()
	g, err := s.Grant(ctx, u.ID, r)
	if want == "" {
		wantErr(t, "Grant in "+workspace.From(ctx), err, storage.ErrNotFound)
		return
	}
	if err != nil || g.Level != want {
		t.Fatalf("Grant in %s = %+v, %v; want level %s", workspace.From(ctx), g, err, want)
	}
	if ws := workspace.From(ctx); g.Workspace != ws && (g.Workspace != "" || ws != workspace.Default) {
		t.Fatalf("Grant in %s says workspace %q", ws, g.Workspace)
	}
}

// A grant lives in the context's workspace: the same user and resource may hold
// one in each, and no method reaches a grant of another workspace.
func testGrantWorkspaces(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	def := context.Background()
	a, b := workspace.With(def, "team-a"), workspace.With(def, "team-b")
	alice := mustCreateUser(t, s, "alice", false)
	e1 := exp("1")

	mustCreateGrant(t, s, alice, e1, permission.Read)
	if g, err := s.CreateGrant(a, alice.ID, e1, permission.Edit); err != nil || g.Workspace != "team-a" {
		t.Fatalf("CreateGrant in team-a = %+v, %v", g, err)
	}
	_, err := s.CreateGrant(a, alice.ID, e1, permission.Manage)
	wantErr(t, "CreateGrant twice in team-a", err, storage.ErrAlreadyExists)
	wantGrantIn(t, def, s, alice, e1, permission.Read)
	wantGrantIn(t, a, s, alice, e1, permission.Edit)
	wantGrantIn(t, b, s, alice, e1, "")

	for ctx, want := range map[context.Context]permission.Level{def: permission.Read, a: permission.Edit, b: ""} {
		gs, err := s.GrantsOfUsers(ctx, []int32{alice.ID})
		if err != nil || len(gs) != map[bool]int{true: 0, false: 1}[want == ""] || want != "" && gs[0].Level != want {
			t.Fatalf("GrantsOfUsers in %s = %+v, %v; want one %q", workspace.From(ctx), gs, err, want)
		}
		on, err := s.GrantsOnResource(ctx, e1, 0, 0)
		if err != nil || len(on) != len(gs) {
			t.Fatalf("GrantsOnResource in %s = %+v, %v", workspace.From(ctx), on, err)
		}
	}

	_, err = s.UpdateGrant(b, alice.ID, e1, permission.Manage)
	wantErr(t, "UpdateGrant in team-b", err, storage.ErrNotFound)
	if _, err := s.UpdateGrant(a, alice.ID, e1, permission.Manage); err != nil {
		t.Fatalf("UpdateGrant in team-a: %v", err)
	}
	wantGrantIn(t, def, s, alice, e1, permission.Read)
	wantGrantIn(t, a, s, alice, e1, permission.Manage)

	wantErr(t, "DeleteGrant in team-b", s.DeleteGrant(b, alice.ID, e1), storage.ErrNotFound)
	if err := s.DeleteResourceGrants(a, e1); err != nil {
		t.Fatalf("DeleteResourceGrants in team-a: %v", err)
	}
	wantGrantIn(t, a, s, alice, e1, "")
	wantGrantIn(t, def, s, alice, e1, permission.Read)
	if err := s.DeleteGrant(def, alice.ID, e1); err != nil {
		t.Fatalf("DeleteGrant in default: %v", err)
	}
	wantGrantIn(t, def, s, alice, e1, "")
}

// A rename moves the grants of its own workspace only; a batch writes each
// grant into the workspace it names, "" being the default.
func testGrantWorkspacesMoveAndBatch(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	def := context.Background()
	a := workspace.With(def, "team-a")
	alice := mustCreateUser(t, s, "alice", false)
	m := permission.Resource{Type: permission.RegisteredModel, ID: "m"}
	m2 := permission.Resource{Type: permission.RegisteredModel, ID: "m2"}

	mustCreateGrant(t, s, alice, m, permission.Read)
	moved, err := s.CreateGrant(a, alice.ID, m, permission.Edit)
	if err != nil {
		t.Fatalf("CreateGrant in team-a: %v", err)
	}
	if err := s.MoveGrants(a, []storage.Grant{moved}, m2); err != nil {
		t.Fatalf("MoveGrants in team-a: %v", err)
	}
	wantGrantIn(t, a, s, alice, m2, permission.Edit)
	wantGrantIn(t, a, s, alice, m, "")
	wantGrantIn(t, def, s, alice, m, permission.Read)
	wantGrantIn(t, def, s, alice, m2, "")

	inB := batchGrant("bob", exp("7"), permission.Edit)
	inB.Workspace = "team-b"
	if err := s.CreateBatch(def, storage.Batch{Users: []storage.User{batchUser("bob", false)},
		Grants: []storage.Grant{batchGrant("bob", exp("7"), permission.Read), inB}}); err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	bob, err := s.UserByName(def, "bob")
	if err != nil {
		t.Fatal(err)
	}
	wantGrantIn(t, def, s, bob, exp("7"), permission.Read)
	wantGrantIn(t, workspace.With(def, "team-b"), s, bob, exp("7"), permission.Edit)

	all, err := s.GrantsInEveryWorkspace(a, bob.ID, exp("7"))
	if err != nil || len(all) != 2 || all[0].Workspace != "" || all[0].Level != permission.Read ||
		all[1].Workspace != "team-b" || all[1].Level != permission.Edit {
		t.Fatalf("GrantsInEveryWorkspace = %+v, %v; want default's READ, team-b's EDIT", all, err)
	}
	mustCreateGrant(t, s, bob, m, permission.Manage)
	all, err = s.AllGrantsOfUser(a, bob.ID)
	var got []string
	for _, g := range all {
		got = append(got, fmt.Sprintf("%s %s %s", g.Workspace, g.Resource, g.Level))
	}
	if want := []string{" experiment:7 READ", " registered_model:" + m.ID + " MANAGE", "team-b experiment:7 EDIT"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("AllGrantsOfUser = %q, %v; want %q", got, err, want)
	}
}

package mlflowimport

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

const (
	pbkdf2Hash = "pbkdf2:sha256:600000$salt$aa" // as an older werkzeug wrote
	scryptHash = "scrypt:32768:8:1$salt$bb"     // mlflow-auth's own parameters
)

// planSource is a small MLflow 3.12 database: root (admin), alice, bob and dave.
func planSource(t *testing.T) *Source {
	return read(t, mlflowDB(t, schema312, `
	INSERT INTO alembic_version_auth VALUES ('c3d4e5f6a7b8');
	INSERT INTO users VALUES (1, 'root', 'h-root', 1), (2, 'alice', '`+pbkdf2Hash+`', 0), (3, 'bob', 'h-bob', 0),
		(4, 'dave', 'h-dave', 0), (5, 'erin', 'h-erin', 1);
	INSERT INTO experiment_permissions VALUES (1, '1', 2, 'READ'), (2, '1', 3, 'READ'), (3, '2', 3, 'EDIT'),
		(4, '3', 3, 'MANAGE'), (5, '1', 4, 'MANAGE'), (6, '9', 5, 'READ');
	INSERT INTO workspace_permissions VALUES ('default', 4, 'EDIT');`))
}

func targetStore(t *testing.T) *sqlite.Store { return storagetest.NewSQLite(t) }

func steps(p *Plan) []string {
	var out []string
	for _, u := range p.Users {
		out = append(out, fmt.Sprintf("%s %s %s", u.Action, u.Username, u.Detail))
	}
	for _, g := range p.Grants {
		out = append(out, fmt.Sprintf("%s %s %s", g.Action, g.Grant, g.Detail))
	}
	return out
}

func TestPlanAgainstEmptyDatabase(t *testing.T) {
	src := planSource(t)
	p, err := NewPlan(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	users, grants := p.Counts()
	if users != (Counts{Create: 5}) || grants != (Counts{Create: 7}) {
		t.Fatalf("counts: users %+v, grants %+v", users, grants)
	}
	b := p.Batch()
	if len(b.Users) != 5 || len(b.Grants) != 7 || b.Users[1].PasswordHash != pbkdf2Hash {
		t.Fatalf("batch %+v", b)
	}
}

func TestPlanAgainstExistingData(t *testing.T) {
	ctx := context.Background()
	s := targetStore(t)
	mustUser := func(name, hash string, admin bool) storage.User {
		u, err := s.CreateUser(ctx, name, hash, admin)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	mustUser("root", "h-root", true)              // the same: unchanged
	alice := mustUser("alice", scryptHash, false) // rehashed at a login, or another password
	bob := mustUser("bob", "h-bob", false)        // the same, with grants
	mustUser("erin", "h-erin", false)             // not an admin here
	for _, g := range []struct {
		u  storage.User
		id string
		l  permission.Level
	}{{bob, "1", permission.Read}, {bob, "2", permission.Read}, {alice, "5", permission.Edit}} {
		if _, err := s.CreateGrant(ctx, g.u.ID, permission.Resource{Type: permission.Experiment, ID: g.id}, g.l); err != nil {
			t.Fatal(err)
		}
	}
	src := planSource(t)
	p, err := NewPlan(ctx, src, s)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "plan", steps(p), []string{
		"unchanged root ",
		"conflict alice mlflow-auth has another password hash (perhaps the same password, rehashed at a login)",
		"unchanged bob ",
		"create dave ",
		"conflict erin mlflow-auth has is_admin false (MLflow: true)",
		`skip experiment "1" READ for user "alice" its user conflicts`,
		`unchanged experiment "1" READ for user "bob" `,
		`conflict experiment "2" EDIT for user "bob" mlflow-auth has READ`,
		`create experiment "3" MANAGE for user "bob" `,
		`create experiment "1" MANAGE for user "dave" `,
		`create workspace "*" EDIT for user "dave" `, // a workspace permission, kept as the API keeps it
		`skip experiment "9" READ for user "erin" its user conflicts`,
	})
	users, grants := p.Counts()
	if users != (Counts{Create: 1, Unchanged: 2, Conflict: 2}) || grants != (Counts{Create: 3, Unchanged: 1, Conflict: 1, Skipped: 2}) {
		t.Errorf("counts: users %+v, grants %+v", users, grants)
	}
	var out bytes.Buffer
	p.Report(&out, false)
	for _, want := range []string{
		`create user "dave"`,
		`create grant experiment "3" MANAGE for user "bob" (from experiment_permissions)`,
		`conflict: user "alice": mlflow-auth has another password hash`,
		`conflict: grant experiment "2" EDIT for user "bob": mlflow-auth has READ; left as it is`,
		`create grant workspace "*" EDIT for user "dave" (from workspace_permissions)`,
		"users:  1 created, 2 unchanged, 2 conflicting, 0 skipped",
		"grants: 3 created, 1 unchanged, 1 conflicting, 2 skipped",
		"imported 1 users and 3 grants",
		"3 conflicts were left as they are",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "h-") || strings.Contains(out.String(), "$salt$") {
		t.Errorf("the report shows a password hash:\n%s", out.String())
	}

	// Applying the plan, then planning again: nothing left to create, the same conflicts.
	if err := s.CreateBatch(ctx, p.Batch()); err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	// The workspace permission is dave's grant on the workspace, as the API keeps it.
	dave, err := s.UserByName(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	if g, err := s.Grant(workspace.With(ctx, workspace.Default), dave.ID, workspace.Resource); err != nil || g.Level != permission.Edit {
		t.Errorf("dave's workspace grant: %+v, %v", g, err)
	}
	again, err := NewPlan(ctx, src, s)
	if err != nil {
		t.Fatal(err)
	}
	users, grants = again.Counts()
	if users != (Counts{Unchanged: 3, Conflict: 2}) || grants != (Counts{Unchanged: 4, Conflict: 1, Skipped: 2}) {
		t.Errorf("second plan: users %+v, grants %+v", users, grants)
	}
	if b := again.Batch(); len(b.Users)+len(b.Grants) != 0 {
		t.Errorf("second plan would write %+v", b)
	}
	out.Reset()
	again.Report(&out, true)
	if !strings.Contains(out.String(), "users:  0 to create, 3 unchanged") || !strings.Contains(out.String(), "dry run: nothing was written") {
		t.Errorf("dry-run report:\n%s", out.String())
	}
	// The conflicting values are still mlflow-auth's own.
	if u, err := s.UserByName(ctx, "alice"); err != nil || u.PasswordHash != scryptHash {
		t.Errorf("alice = %+v, %v; her hash must stay", u, err)
	}
	if u, err := s.UserByName(ctx, "erin"); err != nil || u.IsAdmin {
		t.Errorf("erin = %+v, %v; she must stay a non-admin", u, err)
	}
}

func roleSteps(p *Plan) []string {
	var out []string
	for _, r := range p.Roles {
		out = append(out, fmt.Sprintf("%s %s %s", r.Action, describeRole(r.Role), r.Detail))
	}
	return out
}

// Roles are created with their members, left alone when mlflow-auth has them
// as they are, and reported when it has a role of that name with other
// permissions or members; a member whose user conflicts is not given the role.
func TestPlanRoles(t *testing.T) {
	ctx := context.Background()
	s := targetStore(t)
	if _, err := s.CreateUser(ctx, "bob", "another-hash", false); err != nil { // a conflicting bob
		t.Fatal(err)
	}
	other, err := s.CreateRole(ctx, "default", "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRolePermission(ctx, other.ID, "experiment", "*", permission.Edit); err != nil {
		t.Fatal(err)
	}
	src := read(t, mlflowDB(t, schema312, `
	INSERT INTO alembic_version_auth VALUES ('f1a2b3c4d5e6');
	INSERT INTO users VALUES (1, 'alice', 'h-alice', 0), (2, 'bob', 'h-bob', 0);
	INSERT INTO roles VALUES (1, 'team', 'default', 'the team'), (2, 'other', 'default', NULL);
	INSERT INTO role_permissions VALUES (1, 1, 'experiment', '*', 'READ'), (2, 1, 'experiment', '7', 'DENY'),
		(3, 2, 'experiment', '*', 'READ');
	INSERT INTO user_role_assignments VALUES (1, 1, 1), (2, 2, 1), (3, 1, 2);`))
	p, err := NewPlan(ctx, src, s)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "roles", roleSteps(p), []string{
		`create role "team" in workspace "default": permissions [experiment "*" READ, experiment "7" DENY], members ["alice"] not given to "bob": those users conflict`,
		`conflict role "other" in workspace "default": permissions [experiment "*" READ], members ["alice"] mlflow-auth has a role of that name with other permissions or members`,
	})
	if err := s.CreateBatch(ctx, p.Batch()); err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	roles, err := s.ListRoles(ctx, "default", 0, 0)
	if err != nil || len(roles) != 2 || roles[1].Name != "team" || *roles[1].Description != "the team" || len(roles[1].Permissions) != 2 {
		t.Fatalf("roles after the import: %+v, %v", roles, err)
	}
	again, err := NewPlan(ctx, src, s)
	if err != nil {
		t.Fatal(err)
	}
	if c := again.RoleCounts(); c != (Counts{Unchanged: 1, Conflict: 1}) {
		t.Errorf("second plan: roles %+v\n%q", c, roleSteps(again))
	}
	var out bytes.Buffer
	again.Report(&out, true)
	if !strings.Contains(out.String(), "roles:  0 to create, 1 unchanged, 1 conflicting") {
		t.Errorf("report:\n%s", out.String())
	}
}

// A role's members are the source's usernames, which may hold what a
// terminal shows as something else (a bidi override, a line separator, a
// comma and a space): the report quotes each, in the members and in the
// users not given the role.
func TestReportQuotesRoleMembers(t *testing.T) {
	ctx := context.Background()
	s := targetStore(t)
	if _, err := s.CreateUser(ctx, "eve\u2028root", "another-hash", false); err != nil { // a conflicting user
		t.Fatal(err)
	}
	src := read(t, mlflowDB(t, schema312, `
	INSERT INTO alembic_version_auth VALUES ('f1a2b3c4d5e6');
	INSERT INTO users VALUES (1, 'alice', 'h-alice', 0), (2, 'bob`+"\u202e"+`, mallory', 'h-bob', 0), (3, 'eve`+"\u2028"+`root', 'h-eve', 0);
	INSERT INTO roles VALUES (1, 'team', 'default', NULL);
	INSERT INTO role_permissions VALUES (1, 1, 'experiment', '*', 'READ');
	INSERT INTO user_role_assignments VALUES (1, 1, 1), (2, 2, 1), (3, 3, 1);`))
	p, err := NewPlan(ctx, src, s)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.Report(&out, true)
	report := out.String()
	if strings.ContainsAny(report, "\u202e\u2028") || !strings.Contains(report, `members ["alice", "bob\u202e, mallory"]`) ||
		!strings.Contains(report, `not given to "eve\u2028root"`) {
		t.Errorf("report:\n%s", report)
	}
}

package storagetest

import (
	"context"
	"strconv"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Every role, role permission and assignment write made with an audit event
// commits with its row; one its transaction refuses (a taken name, a duplicate,
// a role or user gone) leaves none. A create's row names the id it made.
func testAuditCommitsWithRoleChanges(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	ctx := storage.WithAudit(context.Background(), storage.AuditEvent{Category: storage.AuditAdmin, Event: "role.create",
		Outcome: storage.OutcomeSuccess, ResourceType: "role"})
	r, err := s.CreateRole(ctx, "default", "readers", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateRole(context.Background(), "default", "writers", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateRole(audit("role.create.duplicate"), "default", "readers", nil)
	wantErr(t, "duplicate role name", err, storage.ErrAlreadyExists)
	taken := "writers"
	_, err = s.UpdateRole(audit("role.update.taken"), r.ID, &taken, nil)
	wantErr(t, "rename to a taken name", err, storage.ErrAlreadyExists)
	_, err = s.UpdateRole(audit("role.update.missing"), r.ID+100, &taken, nil)
	wantErr(t, "update a missing role", err, storage.ErrNotFound)
	_, err = s.AddRolePermission(audit("permission.missing-role"), r.ID+100, "experiment", "*", permission.Read)
	wantErr(t, "permission of a missing role", err, storage.ErrNotFound)
	p, err := s.AddRolePermission(audit("role_permission.add"), r.ID, "experiment", "*", permission.Read)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AddRolePermission(audit("permission.duplicate"), r.ID, "experiment", "*", permission.Edit)
	wantErr(t, "duplicate role permission", err, storage.ErrAlreadyExists)
	_, err = s.UpdateRolePermission(audit("permission.update.missing"), p.ID+100, permission.Edit)
	wantErr(t, "update a missing permission", err, storage.ErrNotFound)
	wantErr(t, "remove a missing permission", s.RemoveRolePermission(audit("permission.remove.missing"), p.ID+100), storage.ErrNotFound)
	_, err = s.AssignRole(audit("assign.missing-role"), alice.ID, r.ID+100)
	wantErr(t, "assign a missing role", err, storage.ErrNotFound)
	wantErr(t, "unassign a role not held", s.UnassignRole(audit("unassign.missing"), alice.ID, r.ID), storage.ErrNotFound)
	steps := []struct {
		event string
		do    func(ctx context.Context) error
	}{
		{"role.update", func(ctx context.Context) error {
			name := "viewers"
			_, err := s.UpdateRole(ctx, r.ID, &name, nil)
			return err
		}},
		{"role_permission.update", func(ctx context.Context) error {
			_, err := s.UpdateRolePermission(ctx, p.ID, permission.Edit)
			return err
		}},
		{"role_permission.remove", func(ctx context.Context) error { return s.RemoveRolePermission(ctx, p.ID) }},
		{"role.assign", func(ctx context.Context) error {
			_, err := s.AssignRole(ctx, alice.ID, r.ID)
			return err
		}},
		{"role.unassign", func(ctx context.Context) error { return s.UnassignRole(ctx, alice.ID, r.ID) }},
		{"role.delete", func(ctx context.Context) error { return s.DeleteRole(ctx, r.ID) }},
	}
	for _, step := range steps {
		if err := step.do(audit(step.event)); err != nil {
			t.Fatalf("%s: %v", step.event, err)
		}
	}
	_, err = s.AssignRole(audit("assign.duplicate"), alice.ID, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AssignRole(audit("assign.duplicate.again"), alice.ID, other.ID)
	wantErr(t, "duplicate assignment", err, storage.ErrAlreadyExists)
	wantErr(t, "delete a missing role", s.DeleteRole(audit("role.delete.missing"), r.ID), storage.ErrNotFound)
	evs := listAudit(t, s, storage.AuditFilter{})
	wantAuditEvents(t, "role changes", evs, "assign.duplicate", "role.delete", "role.unassign", "role.assign",
		"role_permission.remove", "role_permission.update", "role.update", "role_permission.add", "role.create")
	if created := evs[len(evs)-1]; created.ResourceType != "role" || created.ResourceID != strconv.Itoa(int(r.ID)) {
		t.Fatalf("role.create names %s %q, want role %d", created.ResourceType, created.ResourceID, r.ID)
	}
}

// Likewise for service accounts: a taken name leaves no row.
func testAuditCommitsWithServiceAccounts(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	mustCreateUser(t, s, "taken", false)
	if _, err := s.CreateServiceAccount(audit("service_account.create"), "robot"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateServiceAccount(audit("service_account.taken"), "taken")
	wantErr(t, "service account of a taken name", err, storage.ErrAlreadyExists)
	if err := s.DeleteUser(audit("service_account.delete"), "robot"); err != nil {
		t.Fatal(err)
	}
	wantAuditEvents(t, "service accounts", listAudit(t, s, storage.AuditFilter{}), "service_account.delete", "service_account.create")
}

// A batch writes its Audit rows, each role's row (naming the id the batch made
// for it) and the event of its context with it; a batch that fails writes none
// of them.
func testAuditCommitsWithBatch(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	row := func(event string) storage.AuditEvent {
		return storage.AuditEvent{Category: storage.AuditAdmin, Event: event, Outcome: storage.OutcomeSuccess}
	}
	roleRow := row("import.role")
	roleRow.ResourceType = "role"
	if _, err := s.CreateRole(context.Background(), "default", "taken-id", nil); err != nil { // the batch's role is not the first
		t.Fatal(err)
	}
	b := storage.Batch{
		Users:  []storage.User{batchUser("alice", false)},
		Grants: []storage.Grant{batchGrant("alice", exp("1"), permission.Read)},
		Roles:  []storage.BatchRole{{Role: storage.Role{Name: "readers", Workspace: "default"}, Members: []string{"alice"}, Audit: &roleRow}},
		Audit:  []storage.AuditEvent{row("import.user"), row("import.grant")},
	}
	if err := s.CreateBatch(audit("import"), b); err != nil {
		t.Fatal(err)
	}
	evs := listAudit(t, s, storage.AuditFilter{})
	wantAuditEvents(t, "batch", evs, "import", "import.role", "import.grant", "import.user")
	roles, err := s.ListRoles(context.Background(), "default", 0, 0)
	if err != nil || len(roles) != 2 || roles[1].Name != "readers" {
		t.Fatalf("roles after the batch: %+v, %v", roles, err)
	}
	if want := strconv.Itoa(int(roles[1].ID)); evs[1].ResourceID != want {
		t.Fatalf("the role's row names role %q, want %s", evs[1].ResourceID, want)
	}
	again := b
	again.Users = []storage.User{batchUser("bob", false), batchUser("alice", false)}
	again.Grants, again.Roles = nil, nil
	again.Audit = []storage.AuditEvent{row("import.again")}
	wantErr(t, "batch of a taken user", s.CreateBatch(audit("import.failed"), again), storage.ErrAlreadyExists)
	wantAuditEvents(t, "after a failed batch", listAudit(t, s, storage.AuditFilter{}), "import", "import.role", "import.grant", "import.user")
}

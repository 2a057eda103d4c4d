package client_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// Every role call against a real server: what it returns, the errors it
// answers, and that a role's permission reaches its holder.
func TestRoleCalls(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx := t.Context()
	admin := asAdmin(t, srv)
	alice := createUser(t, admin, "alice", "alice-password-1")

	description := "reads the experiments"
	role := must(admin.CreateRole(ctx, &v1.CreateRoleRequest{Workspace: "default", Name: "readers", Description: &description}))(t).GetRole()
	wantEqual(t, role, &v1.Role{Id: role.GetId(), Name: "readers", Workspace: "default", Description: wrapperspb.String(description)})
	_, err := admin.CreateRole(ctx, &v1.CreateRoleRequest{Workspace: "default", Name: "readers"})
	wantError(t, err, 400, "RESOURCE_ALREADY_EXISTS")
	_, err = admin.CreateRole(ctx, &v1.CreateRoleRequest{Workspace: "default", Name: "__user_9__"})
	wantError(t, err, 400, "INVALID_PARAMETER_VALUE")

	perm := must(admin.AddRolePermission(ctx, &v1.AddRolePermissionRequest{RoleId: role.GetId(), ResourceType: "experiment", ResourcePattern: "*", Permission: "READ"}))(t).GetRolePermission()
	wantEqual(t, perm, &v1.RolePermission{Id: perm.GetId(), RoleId: role.GetId(), ResourceType: "experiment", ResourcePattern: "*", Permission: "READ"})
	perm = must(admin.UpdateRolePermission(ctx, &v1.UpdateRolePermissionRequest{RolePermissionId: perm.GetId(), Permission: "EDIT"}))(t).GetRolePermission()
	wantEqual(t, must(admin.ListRolePermissions(ctx, &v1.ListRolePermissionsRequest{RoleId: role.GetId()}))(t),
		&v1.ListRolePermissionsResponse{RolePermissions: []*v1.RolePermission{perm}})
	renamed := "editors"
	role = must(admin.UpdateRole(ctx, &v1.UpdateRoleRequest{RoleId: role.GetId(), Name: &renamed}))(t).GetRole()
	wantEqual(t, must(admin.GetRole(ctx, &v1.GetRoleRequest{RoleId: role.GetId()}))(t).GetRole(), role)
	if role.GetName() != "editors" || len(role.GetPermissions()) != 1 {
		t.Errorf("renamed role %v", role)
	}

	assignment := must(admin.AssignRole(ctx, &v1.AssignRoleRequest{Username: "alice", RoleId: role.GetId()}))(t).GetAssignment()
	wantEqual(t, assignment, &v1.RoleAssignment{Id: assignment.GetId(), UserId: alice.GetId(), RoleId: role.GetId()})
	wantEqual(t, must(admin.ListRoleUsers(ctx, &v1.ListRoleUsersRequest{RoleId: role.GetId()}))(t),
		&v1.ListRoleUsersResponse{Assignments: []*v1.RoleAssignment{assignment}})
	asAlice := connect(t, srv, "alice", "alice-password-1")
	wantEqual(t, must(asAlice.ListUserRoles(ctx, &v1.ListUserRolesRequest{Username: "alice"}))(t), &v1.ListUserRolesResponse{Roles: []*v1.Role{role}})
	wantEqual(t, must(asAlice.GetUserPermission(ctx, &v1.GetUserPermissionRequest{Username: "alice", ResourceType: "experiment", ResourceId: "3"}))(t),
		&v1.GetUserPermissionResponse{Allowed: true, Permission: "EDIT"})
	_, err = asAlice.AssignRole(ctx, &v1.AssignRoleRequest{Username: "alice", RoleId: role.GetId()})
	wantError(t, err, 403, "PERMISSION_DENIED")

	// Pages of roles, followed to the end.
	for _, name := range []string{"r1", "r2", "r3"} {
		must(admin.CreateRole(ctx, &v1.CreateRoleRequest{Workspace: "default", Name: name}))(t)
	}
	var names []string
	for r, err := range admin.AllRoles(ctx, &v1.ListRolesRequest{Workspace: "default", MaxResults: 2}) {
		names = append(names, must(r, err)(t).GetName())
	}
	if !slices.Equal(names, []string{"editors", "r1", "r2", "r3"}) {
		t.Errorf("AllRoles in pages of 2: %v", names)
	}

	must(admin.UnassignRole(ctx, &v1.UnassignRoleRequest{Username: "alice", RoleId: role.GetId()}))(t)
	_, err = admin.UnassignRole(ctx, &v1.UnassignRoleRequest{Username: "alice", RoleId: role.GetId()})
	wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	must(admin.RemoveRolePermission(ctx, &v1.RemoveRolePermissionRequest{RolePermissionId: perm.GetId()}))(t)
	must(admin.DeleteRole(ctx, &v1.DeleteRoleRequest{RoleId: role.GetId()}))(t)
	_, err = admin.GetRole(ctx, &v1.GetRoleRequest{RoleId: role.GetId()})
	wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
}

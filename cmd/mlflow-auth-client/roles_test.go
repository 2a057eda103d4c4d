package main

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// The role commands against a real server: a role made, given a pattern
// permission and assigned reaches its holder; what each command prints; the
// server's errors and the command line's own.
func TestRoleCommands(t *testing.T) {
	srv := startServer(t)
	ok(t, "create-user", "alice", "alice-password-1")

	role := decode(t, ok(t, "create-role", "readers", "reads everything"), &v1.CreateRoleResponse{}).GetRole()
	if role.GetName() != "readers" || role.GetWorkspace() != "default" || role.GetDescription().GetValue() != "reads everything" {
		t.Fatalf("create-role printed %v", role)
	}
	id := fmt.Sprint(role.GetId())
	fails(t, exitFailed, []string{"create-role", "readers"}, "RESOURCE_ALREADY_EXISTS")
	fails(t, exitFailed, []string{"create-role", "--workspace", "", "x"}, "INVALID_PARAMETER_VALUE")
	fails(t, exitUsage, []string{"get-role", "first"}, `"first" is not a role id`)

	perm := decode(t, ok(t, "add-role-permission", id, "experiment", "*", "EDIT"), &v1.AddRolePermissionResponse{}).GetRolePermission()
	wantEqual(t, perm, &v1.RolePermission{Id: perm.GetId(), RoleId: role.GetId(), ResourceType: "experiment", ResourcePattern: "*", Permission: "EDIT"})
	fails(t, exitFailed, []string{"add-role-permission", id, "planet", "*", "READ"}, "INVALID_PARAMETER_VALUE")
	perm = decode(t, ok(t, "update-role-permission", fmt.Sprint(perm.GetId()), "READ"), &v1.UpdateRolePermissionResponse{}).GetRolePermission()
	wantEqual(t, decode(t, ok(t, "list-role-permissions", id), &v1.ListRolePermissionsResponse{}),
		&v1.ListRolePermissionsResponse{RolePermissions: []*v1.RolePermission{perm}})
	role = decode(t, ok(t, "update-role", id, "viewers"), &v1.UpdateRoleResponse{}).GetRole()
	wantEqual(t, decode(t, ok(t, "get-role", id), &v1.GetRoleResponse{}).GetRole(), role)

	assignment := decode(t, ok(t, "assign-role", "alice", id), &v1.AssignRoleResponse{}).GetAssignment()
	fails(t, exitFailed, []string{"assign-role", "alice", id}, "RESOURCE_ALREADY_EXISTS")
	wantEqual(t, decode(t, ok(t, "list-role-users", id), &v1.ListRoleUsersResponse{}),
		&v1.ListRoleUsersResponse{Assignments: []*v1.RoleAssignment{assignment}})
	wantEqual(t, decode(t, ok(t, "check", "alice", "read", "experiment", "12"), &v1.CheckResponse{}),
		&v1.CheckResponse{Allowed: true, Permission: "READ", DecidedBy: "role", Role: "viewers"})
	ok(t, "grant-permission", "alice", "registered_model", "m", "MANAGE")
	useServer(t, srv.URL, "alice", "alice-password-1")
	mine := decode(t, ok(t, "list-user-roles", "alice"), &v1.ListUserRolesResponse{}).GetRoles()
	if len(mine) != 2 || mine[0].GetName() != "__user_2__" || mine[1].GetName() != "viewers" {
		t.Errorf("list-user-roles printed %v, want the direct grants' role and viewers", mine)
	}
	fails(t, exitFailed, []string{"delete-role", id}, "PERMISSION_DENIED")
	useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)

	for _, name := range []string{"r1", "r2"} {
		ok(t, "create-role", name)
	}
	page := decode(t, ok(t, "list-roles", "--max-results", "2"), &v1.ListRolesResponse{})
	if len(page.GetRoles()) != 2 || page.GetNextPageToken() == "" {
		t.Errorf("list-roles --max-results 2 printed %v", page)
	}
	if got := ok(t, "list-roles", "--output", "table"); !strings.Contains(got, "viewers") || !strings.Contains(got, "r2") {
		t.Errorf("list-roles --output table printed\n%s", got)
	}

	ok(t, "unassign-role", "alice", id)
	fails(t, exitFailed, []string{"unassign-role", "alice", id}, "RESOURCE_DOES_NOT_EXIST")
	ok(t, "remove-role-permission", fmt.Sprint(perm.GetId()))
	ok(t, "delete-role", id)
	fails(t, exitFailed, []string{"get-role", id}, "RESOURCE_DOES_NOT_EXIST")
}

package service_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Every role call, on both transports: what it returns, its errors, and who may call it.
func TestRoles(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			alice, bob := "alice-"+tr.name(), "bob-"+tr.name()
			aliceID := admin.createUser(alice, "alice-password").Id
			admin.createUser(bob, "bob-password-1")
			asAlice, asBob := admin.as(alice, "alice-password"), admin.as(bob, "bob-password-1")

			created := &v1.CreateRoleResponse{}
			admin.expect("", v1.RoleService_CreateRole_FullMethodName,
				&v1.CreateRoleRequest{Workspace: "default", Name: "readers-" + tr.name(), Description: proto.String("read all")}, created)
			role := created.Role
			if role.Id <= 0 || role.Workspace != "default" || role.Description.GetValue() != "read all" || len(role.Permissions) != 0 {
				t.Fatalf("CreateRole = %v", role)
			}
			admin.expect(exists, v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: role.Name}, &v1.CreateRoleResponse{})
			admin.expect(invalid, v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "  "}, &v1.CreateRoleResponse{})
			admin.expect(invalid, v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "__user_7__"}, &v1.CreateRoleResponse{})
			admin.expect(invalid, v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Name: "no-workspace"}, &v1.CreateRoleResponse{})
			// Descriptions as long as MLflow's column holds (1024), not longer.
			admin.expect("", v1.RoleService_CreateRole_FullMethodName,
				&v1.CreateRoleRequest{Workspace: "default", Name: "long-" + tr.name(), Description: proto.String(strings.Repeat("d", 1024))}, &v1.CreateRoleResponse{})
			admin.expect(invalid, v1.RoleService_CreateRole_FullMethodName,
				&v1.CreateRoleRequest{Workspace: "default", Name: "longer-" + tr.name(), Description: proto.String(strings.Repeat("d", 1025))}, &v1.CreateRoleResponse{})

			// Permissions: a wildcard, one id, DENY; MLflow's validation of levels and patterns.
			addPerm := func(typ, pattern, level string) *v1.RolePermission {
				resp := &v1.AddRolePermissionResponse{}
				admin.expect("", v1.RoleService_AddRolePermission_FullMethodName,
					&v1.AddRolePermissionRequest{RoleId: role.Id, ResourceType: typ, ResourcePattern: pattern, Permission: level}, resp)
				return resp.RolePermission
			}
			wild := addPerm("experiment", "*", "READ")
			deny := addPerm("experiment", "42", "DENY")
			ws := addPerm("workspace", "*", "USE")
			if want := (&v1.RolePermission{Id: deny.Id, RoleId: role.Id, ResourceType: "experiment", ResourcePattern: "42", Permission: "DENY"}); !proto.Equal(deny, want) {
				t.Fatalf("AddRolePermission = %v, want %v", deny, want)
			}
			for _, bad := range []*v1.AddRolePermissionRequest{
				{RoleId: role.Id, ResourceType: "experiment", ResourcePattern: "1", Permission: "OWN"},
				{RoleId: role.Id, ResourceType: "experiment", ResourcePattern: "1", Permission: "NO_PERMISSIONS"},
				{RoleId: role.Id, ResourceType: "notebook", ResourcePattern: "*", Permission: "READ"},
				{RoleId: role.Id, ResourceType: "workspace", ResourcePattern: "*", Permission: "READ"},
				{RoleId: role.Id, ResourceType: "run", ResourcePattern: "abc", Permission: "READ"},
			} {
				admin.expect(invalid, v1.RoleService_AddRolePermission_FullMethodName, bad, &v1.AddRolePermissionResponse{})
			}
			admin.expect(exists, v1.RoleService_AddRolePermission_FullMethodName,
				&v1.AddRolePermissionRequest{RoleId: role.Id, ResourceType: "experiment", ResourcePattern: "*", Permission: "EDIT"}, &v1.AddRolePermissionResponse{})
			admin.expect(notFound, v1.RoleService_AddRolePermission_FullMethodName,
				&v1.AddRolePermissionRequest{RoleId: 9999, ResourceType: "experiment", ResourcePattern: "*", Permission: "EDIT"}, &v1.AddRolePermissionResponse{})

			updated := &v1.UpdateRolePermissionResponse{}
			admin.expect("", v1.RoleService_UpdateRolePermission_FullMethodName, &v1.UpdateRolePermissionRequest{RolePermissionId: wild.Id, Permission: "EDIT"}, updated)
			if updated.RolePermission.Permission != "EDIT" || updated.RolePermission.ResourcePattern != "*" {
				t.Fatalf("UpdateRolePermission = %v", updated.RolePermission)
			}
			wild = updated.RolePermission
			admin.expect(invalid, v1.RoleService_UpdateRolePermission_FullMethodName, &v1.UpdateRolePermissionRequest{RolePermissionId: ws.Id, Permission: "EDIT"}, &v1.UpdateRolePermissionResponse{})
			admin.expect(notFound, v1.RoleService_UpdateRolePermission_FullMethodName, &v1.UpdateRolePermissionRequest{RolePermissionId: 9999, Permission: "EDIT"}, &v1.UpdateRolePermissionResponse{})
			admin.expect("", v1.RoleService_RemoveRolePermission_FullMethodName, &v1.RemoveRolePermissionRequest{RolePermissionId: ws.Id}, &v1.RemoveRolePermissionResponse{})
			admin.expect(notFound, v1.RoleService_RemoveRolePermission_FullMethodName, &v1.RemoveRolePermissionRequest{RolePermissionId: ws.Id}, &v1.RemoveRolePermissionResponse{})
			perms := &v1.ListRolePermissionsResponse{}
			admin.expect("", v1.RoleService_ListRolePermissions_FullMethodName, &v1.ListRolePermissionsRequest{RoleId: role.Id}, perms)
			if want := []*v1.RolePermission{wild, deny}; !protoSliceEqual(perms.RolePermissions, want) {
				t.Fatalf("ListRolePermissions = %v, want %v", perms.RolePermissions, want)
			}

			// Update: rename, describe, refuse a taken name or an empty update.
			other := &v1.CreateRoleResponse{}
			admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "writers-" + tr.name()}, other)
			if other.Role.Description != nil {
				t.Fatalf("a role created without a description has %v", other.Role.Description)
			}
			renamed := &v1.UpdateRoleResponse{}
			admin.expect("", v1.RoleService_UpdateRole_FullMethodName, &v1.UpdateRoleRequest{RoleId: role.Id, Name: proto.String("viewers-" + tr.name())}, renamed)
			if renamed.Role.Name != "viewers-"+tr.name() || renamed.Role.Description.GetValue() != "read all" || len(renamed.Role.Permissions) != 2 {
				t.Fatalf("UpdateRole = %v", renamed.Role)
			}
			role = renamed.Role
			admin.expect(exists, v1.RoleService_UpdateRole_FullMethodName, &v1.UpdateRoleRequest{RoleId: role.Id, Name: proto.String(other.Role.Name)}, &v1.UpdateRoleResponse{})
			admin.expect(invalid, v1.RoleService_UpdateRole_FullMethodName, &v1.UpdateRoleRequest{RoleId: role.Id}, &v1.UpdateRoleResponse{})
			admin.expect(notFound, v1.RoleService_UpdateRole_FullMethodName, &v1.UpdateRoleRequest{RoleId: 9999, Description: proto.String("x")}, &v1.UpdateRoleResponse{})
			got := &v1.GetRoleResponse{}
			admin.expect("", v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: role.Id}, got)
			if !proto.Equal(got.Role, role) {
				t.Fatalf("GetRole = %v, want %v", got.Role, role)
			}
			admin.expect(notFound, v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: 9999}, &v1.GetRoleResponse{})

			// Before alice holds a role she may see none; bob may never manage roles.
			asAlice.expect(denied, v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: role.Id}, &v1.GetRoleResponse{})
			asAlice.expect(denied, v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{Workspace: "default"}, &v1.ListRolesResponse{})

			assigned := &v1.AssignRoleResponse{}
			admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: alice, RoleId: role.Id}, assigned)
			if a := assigned.Assignment; a.Id <= 0 || a.UserId != aliceID || a.RoleId != role.Id {
				t.Fatalf("AssignRole = %v", a)
			}
			admin.expect(exists, v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: alice, RoleId: role.Id}, &v1.AssignRoleResponse{})
			admin.expect(notFound, v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: "nobody", RoleId: role.Id}, &v1.AssignRoleResponse{})
			admin.expect(notFound, v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: alice, RoleId: 9999}, &v1.AssignRoleResponse{})

			// A role holder may read the roles of her workspace, and her own roles; not others'.
			asAlice.expect("", v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: other.Role.Id}, &v1.GetRoleResponse{})
			asAlice.expect("", v1.RoleService_ListRolePermissions_FullMethodName, &v1.ListRolePermissionsRequest{RoleId: role.Id}, &v1.ListRolePermissionsResponse{})
			asAlice.expect("", v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{Workspace: "default"}, &v1.ListRolesResponse{})
			asAlice.expect(denied, v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{}, &v1.ListRolesResponse{})
			asAlice.expect(denied, v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: 9999}, &v1.GetRoleResponse{})
			asAlice.expect(denied, v1.RoleService_ListRoleUsers_FullMethodName, &v1.ListRoleUsersRequest{RoleId: role.Id}, &v1.ListRoleUsersResponse{})
			asAlice.expect(denied, v1.RoleService_AddRolePermission_FullMethodName,
				&v1.AddRolePermissionRequest{RoleId: role.Id, ResourceType: "experiment", ResourcePattern: "7", Permission: "MANAGE"}, &v1.AddRolePermissionResponse{})
			mine := &v1.ListUserRolesResponse{}
			asAlice.expect("", v1.RoleService_ListUserRoles_FullMethodName, &v1.ListUserRolesRequest{Username: alice}, mine)
			if len(mine.Roles) != 1 || !proto.Equal(mine.Roles[0], role) {
				t.Fatalf("ListUserRoles = %v, want [%v]", mine.Roles, role)
			}
			asBob.expect(denied, v1.RoleService_ListUserRoles_FullMethodName, &v1.ListUserRolesRequest{Username: alice}, &v1.ListUserRolesResponse{})
			asBob.expect(denied, v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: role.Id}, &v1.GetRoleResponse{})
			admin.expect(notFound, v1.RoleService_ListUserRoles_FullMethodName, &v1.ListUserRolesRequest{Username: "nobody"}, &v1.ListUserRolesResponse{})

			holders := &v1.ListRoleUsersResponse{}
			admin.expect("", v1.RoleService_ListRoleUsers_FullMethodName, &v1.ListRoleUsersRequest{RoleId: role.Id}, holders)
			if len(holders.Assignments) != 1 || !proto.Equal(holders.Assignments[0], assigned.Assignment) {
				t.Fatalf("ListRoleUsers = %v, want [%v]", holders.Assignments, assigned.Assignment)
			}
			admin.expect(notFound, v1.RoleService_ListRoleUsers_FullMethodName, &v1.ListRoleUsersRequest{RoleId: 9999}, &v1.ListRoleUsersResponse{})

			admin.expect("", v1.RoleService_UnassignRole_FullMethodName, &v1.UnassignRoleRequest{Username: alice, RoleId: role.Id}, &v1.UnassignRoleResponse{})
			admin.expect(notFound, v1.RoleService_UnassignRole_FullMethodName, &v1.UnassignRoleRequest{Username: alice, RoleId: role.Id}, &v1.UnassignRoleResponse{})
			asAlice.expect(denied, v1.RoleService_GetRole_FullMethodName, &v1.GetRoleRequest{RoleId: role.Id}, &v1.GetRoleResponse{})

			admin.expect("", v1.RoleService_DeleteRole_FullMethodName, &v1.DeleteRoleRequest{RoleId: role.Id}, &v1.DeleteRoleResponse{})
			admin.expect(notFound, v1.RoleService_DeleteRole_FullMethodName, &v1.DeleteRoleRequest{RoleId: role.Id}, &v1.DeleteRoleResponse{})
			admin.expect(notFound, v1.RoleService_ListRolePermissions_FullMethodName, &v1.ListRolePermissionsRequest{RoleId: role.Id}, &v1.ListRolePermissionsResponse{})
			admin.expect(notFound, v1.RoleService_UpdateRolePermission_FullMethodName, &v1.UpdateRolePermissionRequest{RolePermissionId: deny.Id, Permission: "READ"}, &v1.UpdateRolePermissionResponse{})
		})
	}
}

func protoSliceEqual[M proto.Message](got, want []M) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			return false
		}
	}
	return true
}

// ListRoles pages like every other list: max_results up to 1000, 100 by default.
func TestListRolesPages(t *testing.T) {
	s := startServer(t, permission.Read)
	admin := caller{t, grpcTransportOf(s), adminUser, adminPass}
	var ids []int32
	for i := range 105 {
		resp := &v1.CreateRoleResponse{}
		admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: fmt.Sprintf("role-%03d", i)}, resp)
		ids = append(ids, resp.Role.Id)
	}
	admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "elsewhere", Name: "role-x"}, &v1.CreateRoleResponse{})

	first := &v1.ListRolesResponse{}
	admin.expect("", v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{Workspace: "default"}, first)
	if len(first.Roles) != 100 || first.NextPageToken == "" {
		t.Fatalf("first page: %d roles, token %q; want 100 and a token", len(first.Roles), first.NextPageToken)
	}
	rest := &v1.ListRolesResponse{}
	admin.expect("", v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{Workspace: "default", PageToken: first.NextPageToken}, rest)
	var got []int32
	for _, r := range append(first.Roles, rest.Roles...) {
		got = append(got, r.Id)
	}
	if !reflect.DeepEqual(got, ids) || rest.NextPageToken != "" {
		t.Fatalf("two pages of default = %v (token %q), want %v", got, rest.NextPageToken, ids)
	}
	all := &v1.ListRolesResponse{}
	admin.expect("", v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{MaxResults: 1000}, all)
	if len(all.Roles) != 106 {
		t.Fatalf("every workspace: %d roles, want 106", len(all.Roles))
	}
	admin.expect(invalid, v1.RoleService_ListRoles_FullMethodName, &v1.ListRolesRequest{MaxResults: 1001}, &v1.ListRolesResponse{})
}

func grpcTransportOf(s *testServer) transport { return grpcTransport{s.conn} }

// The REST shapes MLflow 3.17.2's client reads: numeric ids, description null
// when unset, a role's permissions inline, {} from deletes; /ajax-api alike.
func TestRolesRESTWireFormat(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, prefix := range []string{"/api", "/ajax-api"} {
		name := "wire" + prefix[1:]
		status, body := getJSON(t, s, "POST", prefix+"/3.0/mlflow/roles/create", adminUser, adminPass, `{"workspace": "default", "name": "`+name+`"}`)
		if status != http.StatusOK {
			t.Fatalf("create: %d %v", status, body)
		}
		role := body["role"].(map[string]any)
		id := role["id"].(float64) // a JSON number
		want := map[string]any{"id": id, "name": name, "workspace": "default", "description": nil, "permissions": []any{}}
		if !reflect.DeepEqual(role, want) {
			t.Fatalf("create: role = %v, want %v", role, want)
		}
		status, body = getJSON(t, s, "POST", prefix+"/3.0/mlflow/roles/permissions/add", adminUser, adminPass,
			fmt.Sprintf(`{"role_id": %v, "resource_type": "registered_model", "resource_pattern": "*", "permission": "DENY"}`, id))
		rp, _ := body["role_permission"].(map[string]any)
		if status != http.StatusOK || rp["role_id"] != id || rp["permission"] != "DENY" || rp["resource_pattern"] != "*" {
			t.Fatalf("permissions/add: %d %v", status, body)
		}
		status, body = getJSON(t, s, "GET", prefix+fmt.Sprintf("/3.0/mlflow/roles/get?role_id=%v", id), adminUser, adminPass, "")
		perms, _ := body["role"].(map[string]any)["permissions"].([]any)
		if status != http.StatusOK || len(perms) != 1 || !reflect.DeepEqual(perms[0], rp) {
			t.Fatalf("get: %d %v", status, body)
		}
		status, body = getJSON(t, s, "POST", prefix+"/3.0/mlflow/roles/assign", adminUser, adminPass, fmt.Sprintf(`{"username": %q, "role_id": %v}`, adminUser, id))
		if a, _ := body["assignment"].(map[string]any); status != http.StatusOK || a["role_id"] != id || a["user_id"] != float64(1) {
			t.Fatalf("assign: %d %v", status, body)
		}
		status, body = getJSON(t, s, "GET", prefix+"/3.0/mlflow/users/roles/list?username="+adminUser, adminUser, adminPass, "")
		if roles, _ := body["roles"].([]any); status != http.StatusOK || len(roles) == 0 {
			t.Fatalf("users/roles/list: %d %v", status, body)
		}
		status, body = getJSON(t, s, "DELETE", prefix+"/3.0/mlflow/roles/delete", adminUser, adminPass, fmt.Sprintf(`{"role_id": %v}`, id))
		if status != http.StatusOK || len(body) != 0 {
			t.Fatalf("delete: %d %v, want 200 {}", status, body)
		}
		status, body = getJSON(t, s, "GET", prefix+fmt.Sprintf("/3.0/mlflow/roles/get?role_id=%v", id), adminUser, adminPass, "")
		wantError(t, status, body, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
		if msg := body["message"]; msg != fmt.Sprintf("Role with id=%v not found", id) {
			t.Fatalf("get after delete: message %q", msg)
		}
		status, body = getJSON(t, s, "GET", prefix+"/3.0/mlflow/roles/get?role_id=abc", adminUser, adminPass, "")
		wantError(t, status, body, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	}
}

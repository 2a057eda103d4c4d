package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// auditBackends start a server on SQLite and on Postgres.
var auditBackends = map[string]func(t *testing.T) *testServer{
	"sqlite": func(t *testing.T) *testServer { return startServer(t, permission.Read) },
	"postgres": func(t *testing.T) *testServer {
		pg := openPostgres(t, "")
		return startServerOn(t, pg, permission.Read)
	},
}

// auditRows reads the trail of one resource in one workspace over
// ListAuditEvents as admin (which filters by resource, not workspace), as
// "event before after" lines, newest first, checking who each row names.
func auditRows(admin caller, resourceType, resourceID, workspace string) []string {
	admin.t.Helper()
	resp := &v1.ListAuditEventsResponse{}
	admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName,
		&v1.ListAuditEventsRequest{ResourceType: resourceType, ResourceId: resourceID}, resp)
	var got []string
	for _, ev := range resp.Events {
		if ev.Workspace != workspace {
			continue
		}
		got = append(got, ev.Event+" "+canonicalJSON(admin.t, json.RawMessage(nonEmpty(ev.Before)))+" "+
			canonicalJSON(admin.t, json.RawMessage(nonEmpty(ev.After))))
		if ev.Username != adminUser || ev.UserId == 0 || ev.AuthMethod != "basic" || ev.Category != "admin" ||
			ev.Outcome != "success" || ev.RequestId == "" ||
			!strings.HasPrefix(ev.Operation, "/mlflowauth.v1.") {
			admin.t.Errorf("%s: %+v", ev.Event, ev)
		}
	}
	return got
}

func wantRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("audit rows of %s, newest first:\n got  %q\n want %q", what, got, want)
	}
}

// Every change to a role, its permissions and who holds it, to a service
// account and to a workspace permission has its audit row, read back over
// ListAuditEvents, over gRPC and REST on SQLite and Postgres: who made it, on
// what, the value before and after. A change the store refuses has none.
func TestAuditRowsOfRoleAndWorkspaceChanges(t *testing.T) {
	for name, start := range auditBackends {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			for _, tr := range s.transports(t) {
				t.Run(tr.name(), func(t *testing.T) {
					admin := caller{t, tr, adminUser, adminPass}
					bob := "bob-" + tr.name()
					admin.createUser(bob, "bob-password-1")
					roleName, desc := "auditors-"+tr.name(), "reads"
					created := &v1.CreateRoleResponse{}
					admin.expect("", v1.RoleService_CreateRole_FullMethodName,
						&v1.CreateRoleRequest{Name: roleName, Workspace: "default", Description: &desc}, created)
					admin.expect(exists, v1.RoleService_CreateRole_FullMethodName,
						&v1.CreateRoleRequest{Name: roleName, Workspace: "default"}, &v1.CreateRoleResponse{})
					id := created.Role.Id
					other := "others-" + tr.name()
					admin.expect("", v1.RoleService_CreateRole_FullMethodName,
						&v1.CreateRoleRequest{Name: other, Workspace: "default"}, &v1.CreateRoleResponse{})
					admin.expect(exists, v1.RoleService_UpdateRole_FullMethodName, // a unique violation in the update's transaction
						&v1.UpdateRoleRequest{RoleId: id, Name: &other}, &v1.UpdateRoleResponse{})
					desc2 := "reads and edits"
					admin.expect("", v1.RoleService_UpdateRole_FullMethodName,
						&v1.UpdateRoleRequest{RoleId: id, Description: &desc2}, &v1.UpdateRoleResponse{})
					added := &v1.AddRolePermissionResponse{}
					admin.expect("", v1.RoleService_AddRolePermission_FullMethodName,
						&v1.AddRolePermissionRequest{RoleId: id, ResourceType: "experiment", ResourcePattern: "*", Permission: "READ"}, added)
					admin.expect(exists, v1.RoleService_AddRolePermission_FullMethodName,
						&v1.AddRolePermissionRequest{RoleId: id, ResourceType: "experiment", ResourcePattern: "*", Permission: "EDIT"}, &v1.AddRolePermissionResponse{})
					pid := added.RolePermission.Id
					admin.expect("", v1.RoleService_UpdateRolePermission_FullMethodName,
						&v1.UpdateRolePermissionRequest{RolePermissionId: pid, Permission: "EDIT"}, &v1.UpdateRolePermissionResponse{})
					admin.expect("", v1.RoleService_AssignRole_FullMethodName,
						&v1.AssignRoleRequest{Username: bob, RoleId: id}, &v1.AssignRoleResponse{})
					admin.expect(exists, v1.RoleService_AssignRole_FullMethodName,
						&v1.AssignRoleRequest{Username: bob, RoleId: id}, &v1.AssignRoleResponse{})
					admin.expect("", v1.RoleService_UnassignRole_FullMethodName,
						&v1.UnassignRoleRequest{Username: bob, RoleId: id}, &v1.UnassignRoleResponse{})
					second := &v1.AddRolePermissionResponse{}
					admin.expect("", v1.RoleService_AddRolePermission_FullMethodName,
						&v1.AddRolePermissionRequest{RoleId: id, ResourceType: "registered_model", ResourcePattern: "m", Permission: "READ"}, second)
					admin.expect("", v1.RoleService_RemoveRolePermission_FullMethodName,
						&v1.RemoveRolePermissionRequest{RolePermissionId: pid}, &v1.RemoveRolePermissionResponse{})
					holds := &v1.AssignRoleResponse{} // a holder's assignment goes with the role
					admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: bob, RoleId: id}, holds)
					admin.expect("", v1.RoleService_DeleteRole_FullMethodName, &v1.DeleteRoleRequest{RoleId: id}, &v1.DeleteRoleResponse{})
					admin.expect(notFound, v1.RoleService_DeleteRole_FullMethodName, &v1.DeleteRoleRequest{RoleId: id}, &v1.DeleteRoleResponse{})

					role := fmt.Sprintf(`{"name":%q,"workspace":"default","description":%%q}`, roleName)
					perm := func(id int32, typ, pattern, level string) string {
						s := fmt.Sprintf(`"permission":%q,"resource_pattern":%q,"resource_type":%q`, level, pattern, typ)
						if id != 0 {
							s = fmt.Sprintf(`"id":%d,`, id) + s
						}
						return "{" + s + "}"
					}
					held := fmt.Sprintf(`{"role":%q,"username":%q}`, roleName, bob)
					wantRows(t, "the role", auditRows(admin, "role", strconv.Itoa(int(id)), "default"),
						fmt.Sprintf(`role.delete {"description":%q,"member_ids":[%d],"name":%q,"permissions":[%s],"workspace":"default"} `,
							desc2, holds.Assignment.UserId, roleName, perm(second.RolePermission.Id, "registered_model", "m", "READ")),
						"role.assign  "+held,
						"role_permission.remove "+perm(pid, "experiment", "*", "EDIT")+" ",
						"role_permission.add  "+perm(0, "registered_model", "m", "READ"),
						"role.unassign "+held+" ",
						"role.assign  "+held,
						"role_permission.update "+perm(pid, "experiment", "*", "READ")+" "+perm(pid, "experiment", "*", "EDIT"),
						"role_permission.add  "+perm(0, "experiment", "*", "READ"),
						"role.update "+canonical(t, fmt.Sprintf(role, desc))+" "+canonical(t, fmt.Sprintf(role, desc2)),
						"role.create  "+canonical(t, fmt.Sprintf(role, desc)),
					)

					robot := "robot-" + tr.name()
					admin.expect("", v1.UserService_CreateServiceAccount_FullMethodName,
						&v1.CreateServiceAccountRequest{Username: robot}, &v1.CreateServiceAccountResponse{})
					admin.expect(exists, v1.UserService_CreateServiceAccount_FullMethodName,
						&v1.CreateServiceAccountRequest{Username: robot}, &v1.CreateServiceAccountResponse{})
					admin.expect("", v1.UserService_DeleteServiceAccount_FullMethodName,
						&v1.DeleteServiceAccountRequest{Username: robot}, &v1.DeleteServiceAccountResponse{})
					wantRows(t, "the service account", auditRows(admin, "user", robot, ""),
						fmt.Sprintf(`service_account.delete {"is_admin":false,"service_account":true,"username":%q} `, robot),
						fmt.Sprintf(`service_account.create  {"service_account":true,"username":%q}`, robot),
					)

					// The workspace is in the path, which the generic REST transport does not fill in.
					ws := "team-" + tr.name()
					set := func(level string) {
						if tr.name() == "rest" {
							if st, body := restIn(t, s, "", "POST", "/api/3.0/mlflow/workspaces/"+ws+"/permissions", adminUser, adminPass,
								`{"username": "`+bob+`", "permission": "`+level+`"}`); st != http.StatusOK {
								t.Fatalf("set %s: %d %v", level, st, body)
							}
							return
						}
						admin.expect("", v1.WorkspaceService_SetWorkspacePermission_FullMethodName,
							&v1.SetWorkspacePermissionRequest{WorkspaceName: ws, Username: bob, Permission: level}, &v1.SetWorkspacePermissionResponse{})
					}
					unset := func(want string) {
						if tr.name() == "rest" {
							st, _ := do(t, "DELETE", s.httpBase+"/api/3.0/mlflow/workspaces/"+ws+"/permissions?username="+bob, adminUser, adminPass, nil, nil)
							if (want == "") != (st == http.StatusNoContent) {
								t.Fatalf("delete: %d, want error %q", st, want)
							}
							return
						}
						admin.expect(want, v1.WorkspaceService_DeleteWorkspacePermission_FullMethodName,
							&v1.DeleteWorkspacePermissionRequest{WorkspaceName: ws, Username: bob}, &v1.DeleteWorkspacePermissionResponse{})
					}
					set("READ")
					set("MANAGE")
					unset("")
					unset(notFound)
					level := func(l string) string { return fmt.Sprintf(`{"permission":%q,"username":%q}`, l, bob) }
					wantRows(t, "the workspace permission", auditRows(admin, "workspace", "*", ws),
						"workspace_permission.delete "+level("MANAGE")+" ",
						"workspace_permission.update "+level("READ")+" "+level("MANAGE"),
						"workspace_permission.create  "+level("READ"),
					)
				})
			}
		})
	}
}

// canonical is canonicalJSON of a literal.
func canonical(t *testing.T, s string) string { return canonicalJSON(t, json.RawMessage(s)) }

// Every update and delete of a user, a direct grant and a token carries the
// value before the change (never a password or secret), and a grant's row
// names the workspace it was made in, read back over ListAuditEvents, over
// gRPC and REST on SQLite and Postgres.
func TestAuditRowsCarryTheValueBefore(t *testing.T) {
	for name, start := range auditBackends {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			for _, tr := range s.transports(t) {
				t.Run(tr.name(), func(t *testing.T) {
					admin := caller{t, tr, adminUser, adminPass}
					erin := "erin-" + tr.name()
					admin.createUser(erin, "erin-password-1")
					exp := &v1.CreateExperimentPermissionRequest{ExperimentId: "8", Username: erin, Permission: "READ"}
					admin.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName, exp, &v1.CreateExperimentPermissionResponse{})
					admin.expect("", v1.PermissionService_UpdateExperimentPermission_FullMethodName,
						&v1.UpdateExperimentPermissionRequest{ExperimentId: "8", Username: erin, Permission: "EDIT"}, &v1.UpdateExperimentPermissionResponse{})
					admin.expect(notFound, v1.PermissionService_UpdateExperimentPermission_FullMethodName,
						&v1.UpdateExperimentPermissionRequest{ExperimentId: "9", Username: erin, Permission: "EDIT"}, &v1.UpdateExperimentPermissionResponse{})
					admin.expect("", v1.PermissionService_DeleteExperimentPermission_FullMethodName,
						&v1.DeleteExperimentPermissionRequest{ExperimentId: "8", Username: erin}, &v1.DeleteExperimentPermissionResponse{})
					grant := func(l string) string { return fmt.Sprintf(`{"permission":%q,"username":%q}`, l, erin) }
					var mine []string // experiment 8's rows of this transport's user
					for _, r := range auditRows(admin, "experiment", "8", "default") {
						if strings.Contains(r, erin) {
							mine = append(mine, r)
						}
					}
					wantRows(t, "the grant", mine,
						"grant.delete "+grant("EDIT")+" ",
						"grant.update "+grant("READ")+" "+grant("EDIT"),
						"grant.create  "+grant("READ"))

					// A grant made in a workspace (X-MLFLOW-WORKSPACE) is a row of that workspace.
					ws, model := "team-"+tr.name(), "m-"+tr.name()
					inWorkspace := func(method, verb, path string, req, resp proto.Message) {
						if tr.name() == "rest" {
							body, _ := protojson.Marshal(req)
							if st, answer := restIn(t, s, ws, verb, path, adminUser, adminPass, string(body)); st != http.StatusOK {
								t.Fatalf("%s %s in %s: %d %v", verb, path, ws, st, answer)
							}
							return
						}
						ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth(adminUser, adminPass), "x-mlflow-workspace", ws)
						if err := s.conn.Invoke(ctx, method, req, resp); err != nil {
							t.Fatalf("%s in %s: %v", method, ws, err)
						}
					}
					inWorkspace(v1.PermissionService_CreateRegisteredModelPermission_FullMethodName, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
						&v1.CreateRegisteredModelPermissionRequest{Name: model, Username: erin, Permission: "READ"}, &v1.CreateRegisteredModelPermissionResponse{})
					inWorkspace(v1.PermissionService_DeleteRegisteredModelPermission_FullMethodName, "DELETE", "/api/2.0/mlflow/registered-models/permissions/delete",
						&v1.DeleteRegisteredModelPermissionRequest{Name: model, Username: erin}, &v1.DeleteRegisteredModelPermissionResponse{})
					wantRows(t, "the grant in a workspace", auditRows(admin, "registered_model", model, ws),
						"grant.delete "+grant("READ")+" ",
						"grant.create  "+grant("READ"))
					wantRows(t, "the grant in the default workspace", auditRows(admin, "registered_model", model, "default"))

					admin.expect("", v1.TokenService_CreateToken_FullMethodName,
						&v1.CreateTokenRequest{Username: erin, Name: "ci", Ceiling: "READ", ExpiresInDays: 3}, &v1.CreateTokenResponse{})
					admin.expect("", v1.TokenService_RotateToken_FullMethodName,
						&v1.RotateTokenRequest{Username: erin, Name: "ci", ExpiresInDays: 5}, &v1.RotateTokenResponse{})
					admin.expect("", v1.TokenService_RevokeToken_FullMethodName,
						&v1.RevokeTokenRequest{Username: erin, Name: "ci"}, &v1.RevokeTokenResponse{})
					tokens := auditRows(admin, "token", erin+"/ci", "")
					if len(tokens) != 3 {
						t.Fatalf("token rows: %q", tokens)
					}
					// Each change's value before is the value the change before it left.
					var values [3][2]string // revoke, rotate, create: before, after
					for i, r := range tokens {
						event, rest, _ := strings.Cut(r, " ")
						values[i][0], values[i][1], _ = strings.Cut(rest, " ")
						if want := []string{"token.revoke", "token.rotate", "token.create"}[i]; event != want {
							t.Fatalf("token row %d is %s, want %s", i, event, want)
						}
					}
					if values[0][0] != values[1][1] || values[1][0] != values[2][1] || values[2][0] != "" || values[0][1] != "" ||
						!strings.Contains(values[1][0], `"ceiling":"READ"`) || values[1][0] == values[1][1] {
						t.Fatalf("token values before and after, newest first: %q", values)
					}

					yes := true
					admin.expect("", v1.UserService_UpdateUserAdmin_FullMethodName,
						&v1.UpdateUserAdminRequest{Username: erin, IsAdmin: &yes}, &v1.UpdateUserAdminResponse{})
					admin.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
						&v1.UpdateUserPasswordRequest{Username: erin, Password: "erin-password-2"}, &v1.UpdateUserPasswordResponse{})
					// What goes with a deleted user (grants in every workspace,
					// roles held, tokens) is in the row's value before.
					admin.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName,
						&v1.CreateExperimentPermissionRequest{ExperimentId: "10", Username: erin, Permission: "READ"}, &v1.CreateExperimentPermissionResponse{})
					inWorkspace(v1.PermissionService_CreateRegisteredModelPermission_FullMethodName, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
						&v1.CreateRegisteredModelPermissionRequest{Name: model, Username: erin, Permission: "EDIT"}, &v1.CreateRegisteredModelPermissionResponse{})
					role := &v1.CreateRoleResponse{}
					admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Name: "held-by-" + erin, Workspace: "default"}, role)
					admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: erin, RoleId: role.Role.Id}, &v1.AssignRoleResponse{})
					admin.expect("", v1.TokenService_CreateToken_FullMethodName,
						&v1.CreateTokenRequest{Username: erin, Name: "deploy", ExpiresInDays: 3}, &v1.CreateTokenResponse{})
					admin.expect("", v1.UserService_DeleteUser_FullMethodName, &v1.DeleteUserRequest{Username: erin}, &v1.DeleteUserResponse{})
					user := func(admin bool) string { return fmt.Sprintf(`{"is_admin":%t,"username":%q}`, admin, erin) }
					deleted := canonical(t, fmt.Sprintf(`{"is_admin":true,"username":%q,`+
						`"grants":[{"resource_type":"experiment","resource_id":"10","workspace":"default","permission":"READ"},`+
						`{"resource_type":"registered_model","resource_id":%q,"workspace":%q,"permission":"EDIT"}],`+
						`"roles":[{"id":%d,"name":%q,"workspace":"default"}],"tokens":["deploy"]}`,
						erin, model, ws, role.Role.Id, "held-by-"+erin))
					users := auditRows(admin, "user", erin, "")
					wantRows(t, "the user", users,
						"user.delete "+deleted+" ",
						fmt.Sprintf(`user.password {"username":%q} {"password":"changed","username":%q}`, erin, erin),
						"user.admin "+user(false)+" "+user(true),
						"user.create  "+user(false))
					if strings.Contains(strings.Join(users, ""), "erin-password") {
						t.Fatalf("a user row keeps a password: %q", users)
					}
				})
			}
		})
	}
}

package service_test

import (
	"net/http"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// "01", "+1" and "1" are one experiment, as in MLflow 3.18: a grant written on
// one spelling is stored once, as "1", and found, checked and revoked by any
// spelling, scorer keys included, and a role permission's experiment pattern
// is stored canonical as well (MLflow 3.18's add_role_permission), so "01"
// grants experiment 1; on SQLite and Postgres alike.
func TestCanonicalExperimentIDs(t *testing.T) {
	servers := map[string]func(t *testing.T) *testServer{
		"sqlite": func(t *testing.T) *testServer { return startServer(t, permission.Read) },
		"postgres": func(t *testing.T) *testServer {
			pg := openPostgres(t, "")
			return startServerOn(t, pg, permission.Read)
		},
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			tr := s.transports(t)[1] // REST, where ids arrive as the user typed them
			admin := caller{t, tr, adminUser, adminPass}
			admin.createUser("canon", "canon-password")
			asCanon := admin.as("canon", "canon-password")

			created := &v1.CreateExperimentPermissionResponse{}
			admin.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName, &v1.CreateExperimentPermissionRequest{ExperimentId: "01", Username: "canon", Permission: "MANAGE"}, created)
			if id := created.ExperimentPermission.ExperimentId; id != "1" {
				t.Fatalf("stored as %q, want 1", id)
			}
			admin.expect(exists, v1.PermissionService_GrantPermission_FullMethodName, &v1.GrantPermissionRequest{Username: "canon", ResourceType: "experiment", ResourceId: "+1", Permission: "READ"}, &v1.GrantPermissionResponse{})
			level := &v1.GetUserPermissionResponse{}
			asCanon.expect("", v1.PermissionService_GetUserPermission_FullMethodName, &v1.GetUserPermissionRequest{Username: "canon", ResourceType: "experiment", ResourceId: " 1"}, level)
			if level.Permission != "MANAGE" {
				t.Fatalf("level on ' 1': %v, want MANAGE", level)
			}
			check := &v1.CheckResponse{}
			admin.expect("", v1.AuthorizationService_Check_FullMethodName, &v1.CheckRequest{Username: "canon", Capability: "manage", ResourceType: "experiment", ResourceId: "001"}, check)
			if !check.Allowed {
				t.Fatalf("check on 001: %v", check)
			}
			// MANAGE on "01" lets the holder grant on "1".
			asCanon.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName, &v1.CreateExperimentPermissionRequest{ExperimentId: "1", Username: adminUser, Permission: "READ"}, &v1.CreateExperimentPermissionResponse{})
			admin.expect("", v1.PermissionService_CreateScorerPermission_FullMethodName, &v1.CreateScorerPermissionRequest{ExperimentId: "1", ScorerName: "s", Username: "canon", Permission: "READ"}, &v1.CreateScorerPermissionResponse{})
			sp := &v1.GetScorerPermissionResponse{}
			admin.expect("", v1.PermissionService_GetScorerPermission_FullMethodName, &v1.GetScorerPermissionRequest{ExperimentId: "0_1", ScorerName: "s", Username: "canon"}, sp)
			if sp.ScorerPermission.ExperimentId != "1" {
				t.Fatalf("scorer grant %v", sp.ScorerPermission)
			}
			admin.expect("", v1.PermissionService_RevokePermission_FullMethodName, &v1.RevokePermissionRequest{Username: "canon", ResourceType: "scorer", ResourceId: "+1/s"}, &v1.RevokePermissionResponse{})
			admin.expect("", v1.PermissionService_DeleteExperimentPermission_FullMethodName, &v1.DeleteExperimentPermissionRequest{ExperimentId: "1", Username: "canon"}, &v1.DeleteExperimentPermissionResponse{})
			status, body := getJSON(t, s, "GET", "/api/3.0/mlflow/users/permissions/list?username=canon", adminUser, adminPass, "")
			if rows, _ := body["permissions"].([]any); status != http.StatusOK || len(rows) != 0 {
				t.Fatalf("grants left: %d %v", status, body)
			}

			role := &v1.CreateRoleResponse{}
			admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "editors"}, role)
			added := &v1.AddRolePermissionResponse{}
			admin.expect("", v1.RoleService_AddRolePermission_FullMethodName, &v1.AddRolePermissionRequest{RoleId: role.Role.Id, ResourceType: "experiment", ResourcePattern: "01", Permission: "EDIT"}, added)
			if p := added.RolePermission.ResourcePattern; p != "1" {
				t.Fatalf("role pattern stored as %q, want 1", p)
			}
			admin.expect(exists, v1.RoleService_AddRolePermission_FullMethodName, &v1.AddRolePermissionRequest{RoleId: role.Role.Id, ResourceType: "experiment", ResourcePattern: "+1", Permission: "READ"}, &v1.AddRolePermissionResponse{})
			admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: "canon", RoleId: role.Role.Id}, &v1.AssignRoleResponse{})
			asCanon.expect("", v1.PermissionService_GetUserPermission_FullMethodName, &v1.GetUserPermissionRequest{Username: "canon", ResourceType: "experiment", ResourceId: "1"}, level)
			if level.Permission != "EDIT" {
				t.Fatalf("level through the role on 1: %v, want EDIT", level)
			}
		})
	}
}

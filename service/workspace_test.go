package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// restIn sends one REST request in a workspace ("" sends no header) and decodes the answer.
func restIn(t *testing.T, s *testServer, ws, verb, path, user, pass, body string) (int, map[string]any) {
	t.Helper()
	header := http.Header{}
	if ws != "" {
		header.Set("X-MLFLOW-WORKSPACE", ws)
	}
	var st int
	var raw []byte
	if body == "" {
		st, raw = do(t, verb, s.httpBase+path, user, pass, nil, header)
	} else {
		st, raw = do(t, verb, s.httpBase+path, user, pass, strings.NewReader(body), header)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d %s", verb, path, st, raw)
	}
	return st, m
}

// X-MLFLOW-WORKSPACE (gRPC metadata x-mlflow-workspace) scopes direct grants and
// roles: a grant made in one workspace is not seen from another or from the
// default one, a workspace MANAGE role makes its holder the admin of that
// workspace only, and a name MLflow would refuse is refused with its message.
func TestWorkspaceHeader(t *testing.T) {
	s := startServer(t, permission.NoPermissions)
	for _, name := range []string{"alice", "bob"} {
		if st, body := restIn(t, s, "", "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass,
			`{"username": "`+name+`", "password": "password-`+name+`"}`); st != http.StatusOK {
			t.Fatalf("create %s: %d %v", name, st, body)
		}
	}
	grant := `{"experiment_id": "1", "username": "alice", "permission": "EDIT"}`
	if st, body := restIn(t, s, "team-a", "POST", "/api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass, grant); st != http.StatusOK {
		t.Fatalf("create in team-a: %d %v", st, body)
	}
	get := "/api/2.0/mlflow/experiments/permissions/get?experiment_id=1&username=alice"
	st, body := restIn(t, s, " team-a ", "GET", get, adminUser, adminPass, "")
	if p, _ := body["experiment_permission"].(map[string]any); st != http.StatusOK || p["permission"] != "EDIT" {
		t.Fatalf("get in team-a: %d %v", st, body)
	}
	for _, ws := range []string{"", "default", "team-b"} {
		st, body := restIn(t, s, ws, "GET", get, adminUser, adminPass, "")
		wantError(t, st, body, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	}

	st, body = restIn(t, s, "team-a", "GET", "/api/2.0/mlflow/registered-models/permissions/get?name=m&username=alice", adminUser, adminPass, "")
	wantError(t, st, body, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	if want := "Registered model permission with workspace=team-a, name=m and username=alice not found"; body["message"] != want {
		t.Errorf("model grant in team-a: message %q, want %q", body["message"], want)
	}

	inGRPC := func(ws string) (*v1.GetExperimentPermissionResponse, error) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth(adminUser, adminPass))
		if ws != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-mlflow-workspace", ws)
		}
		resp := &v1.GetExperimentPermissionResponse{}
		return resp, s.conn.Invoke(ctx, v1.PermissionService_GetExperimentPermission_FullMethodName,
			&v1.GetExperimentPermissionRequest{ExperimentId: "1", Username: "alice"}, resp)
	}
	if resp, err := inGRPC("team-a"); err != nil || resp.GetExperimentPermission().GetPermission() != "EDIT" {
		t.Fatalf("gRPC in team-a: %v, %v", resp, err)
	}
	if _, err := inGRPC(""); status.Code(err) != codes.NotFound {
		t.Fatalf("gRPC in default: %v, want NotFound", err)
	}
	if _, err := inGRPC("Team_A"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("gRPC with a bad workspace name: %v, want InvalidArgument", err)
	}

	for ws, msg := range map[string]string{
		"Team_A":     "Workspace name 'Team_A' must match the pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ (lowercase alphanumeric with optional internal hyphens).",
		"a":          "Workspace name 'a' must be between 2 and 63 characters.",
		"workspaces": "Workspace name 'workspaces' is reserved and cannot be used.",
	} {
		st, body := restIn(t, s, ws, "GET", get, adminUser, adminPass, "")
		wantError(t, st, body, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
		if body["message"] != msg {
			t.Errorf("workspace %q: message %q, want %q", ws, body["message"], msg)
		}
	}

	// bob manages team-a through a role of team-a, and nothing elsewhere.
	st, body = restIn(t, s, "", "POST", "/api/3.0/mlflow/roles/create", adminUser, adminPass, `{"workspace": "team-a", "name": "admins"}`)
	if st != http.StatusOK {
		t.Fatalf("roles/create: %d %v", st, body)
	}
	id, _ := json.Marshal(body["role"].(map[string]any)["id"])
	for path, req := range map[string]string{
		"/api/3.0/mlflow/roles/permissions/add": `{"role_id": ` + string(id) + `, "resource_type": "workspace", "resource_pattern": "*", "permission": "MANAGE"}`,
		"/api/3.0/mlflow/roles/assign":          `{"role_id": ` + string(id) + `, "username": "bob"}`,
	} {
		if st, body := restIn(t, s, "", "POST", path, adminUser, adminPass, req); st != http.StatusOK {
			t.Fatalf("%s: %d %v", path, st, body)
		}
	}
	update := `{"experiment_id": "1", "username": "alice", "permission": "READ"}`
	if st, body := restIn(t, s, "team-a", "PATCH", "/api/2.0/mlflow/experiments/permissions/update", "bob", "password-bob", update); st != http.StatusOK {
		t.Fatalf("bob updates in team-a: %d %v", st, body)
	}
	for _, ws := range []string{"", "team-b"} {
		st, body := restIn(t, s, ws, "POST", "/api/2.0/mlflow/experiments/permissions/create", "bob", "password-bob", grant)
		wantError(t, st, body, http.StatusForbidden, "PERMISSION_DENIED")
	}
	st, body = restIn(t, s, "team-a", "GET", get, adminUser, adminPass, "")
	if p, _ := body["experiment_permission"].(map[string]any); st != http.StatusOK || p["permission"] != "READ" {
		t.Fatalf("get in team-a after bob's update: %d %v", st, body)
	}
}

package service_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// MLflow 3.12.0's workspace permission calls: paths, JSON, errors and who may
// call (admins; a workspace's managers for its own permissions), and a
// workspace MANAGE makes its holder that workspace's admin.
func TestWorkspacePermissions(t *testing.T) {
	s := startServer(t, permission.NoPermissions)
	for _, name := range []string{"alice", "bob"} {
		if st, body := restIn(t, s, "", "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass,
			`{"username": "`+name+`", "password": "password-`+name+`"}`); st != http.StatusOK {
			t.Fatalf("create %s: %d %v", name, st, body)
		}
	}
	const teamA, teamB = "/api/3.0/mlflow/workspaces/team-a/permissions", "/api/3.0/mlflow/workspaces/team-b/permissions"
	wantJSON := func(what string, st int, body map[string]any, want map[string]any) {
		t.Helper()
		if st != http.StatusOK || !reflect.DeepEqual(body, want) {
			t.Fatalf("%s: %d %v, want 200 %v", what, st, body, want)
		}
	}
	wp := func(ws string, user float64, level string, canUse bool) map[string]any {
		return map[string]any{"workspace": ws, "user_id": user, "permission": level, "can_use": canUse}
	}
	st, body := restIn(t, s, "", "GET", teamA, adminUser, adminPass, "")
	wantJSON("list empty", st, body, map[string]any{"permissions": []any{}})
	st, body = restIn(t, s, "", "POST", teamA, adminUser, adminPass, `{"username": "alice", "permission": "READ"}`)
	wantJSON("set READ", st, body, map[string]any{"permission": wp("team-a", 2, "READ", false)})
	st, body = restIn(t, s, "", "POST", teamA, adminUser, adminPass, `{"username": "alice", "permission": "MANAGE"}`)
	wantJSON("set MANAGE", st, body, map[string]any{"permission": wp("team-a", 2, "MANAGE", true)})

	// alice manages team-a: its permissions and its resources, nothing of team-b or default.
	st, body = restIn(t, s, "", "POST", teamA, "alice", "password-alice", `{"username": "bob", "permission": "USE"}`)
	wantJSON("alice sets bob", st, body, map[string]any{"permission": wp("team-a", 3, "USE", true)})
	st, body = restIn(t, s, "", "GET", "/ajax-api/3.0/mlflow/workspaces/team-a/permissions", "alice", "password-alice", "")
	wantJSON("alice lists team-a", st, body, map[string]any{"permissions": []any{wp("team-a", 2, "MANAGE", true), wp("team-a", 3, "USE", true)}})
	grant := `{"experiment_id": "1", "username": "bob", "permission": "EDIT"}`
	if st, body := restIn(t, s, "team-a", "POST", "/api/2.0/mlflow/experiments/permissions/create", "alice", "password-alice", grant); st != http.StatusOK {
		t.Fatalf("alice grants in team-a: %d %v", st, body)
	}
	for _, c := range []struct{ ws, verb, path, body string }{
		{"", "GET", teamB, ""},
		{"", "POST", teamB, `{"username": "bob", "permission": "USE"}`},
		{"", "DELETE", teamB + "?username=bob", ""},
		{"", "GET", "/api/3.0/mlflow/workspace-permissions?username=alice", ""},
		{"", "POST", "/api/2.0/mlflow/experiments/permissions/create", grant},
		{"team-b", "POST", "/api/2.0/mlflow/experiments/permissions/create", grant},
		{"", "GET", teamA, ""}, // as bob, a USE holder
	} {
		user, pass := "alice", "password-alice"
		if c.path == teamA {
			user, pass = "bob", "password-bob"
		}
		st, body := restIn(t, s, c.ws, c.verb, c.path, user, pass, c.body)
		wantError(t, st, body, http.StatusForbidden, "PERMISSION_DENIED")
	}

	st, body = restIn(t, s, "", "GET", "/api/3.0/mlflow/workspace-permissions?username=alice", adminUser, adminPass, "")
	wantJSON("list alice's", st, body, map[string]any{"permissions": []any{wp("team-a", 2, "MANAGE", true)}})

	// Deleting answers 204 with no body, then 404.
	status, raw := do(t, "DELETE", s.httpBase+teamA+"?username=bob", "alice", "password-alice", nil, nil)
	if status != http.StatusNoContent || len(raw) != 0 {
		t.Fatalf("delete: %d %q, want 204 and no body", status, raw)
	}
	st, body = restIn(t, s, "", "DELETE", teamA+"?username=bob", adminUser, adminPass, "")
	wantError(t, st, body, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	if want := "Workspace permission does not exist for workspace='team-a', username='bob'"; body["message"] != want {
		t.Errorf("delete twice: message %q, want %q", body["message"], want)
	}

	for _, c := range []struct{ verb, path, body, code, msg string }{
		{"POST", teamA, `{}`, "INVALID_PARAMETER_VALUE", "Workspace permission payload missing keys: permission, username"},
		{"POST", teamA, `{"username": "bob"}`, "INVALID_PARAMETER_VALUE", "Workspace permission payload missing keys: permission"},
		{"POST", teamA, `{"username": "bob", "permission": "OWNER"}`, "INVALID_PARAMETER_VALUE",
			"Invalid permission 'OWNER'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')"},
		{"POST", teamA, `{"username": "nobody", "permission": "USE"}`, "RESOURCE_DOES_NOT_EXIST", "User with username=nobody not found"},
		{"GET", "/api/3.0/mlflow/workspace-permissions?username=nobody", "", "RESOURCE_DOES_NOT_EXIST", "User with username=nobody not found"},
	} {
		st, body := restIn(t, s, "", c.verb, c.path, adminUser, adminPass, c.body)
		want := map[string]int{"INVALID_PARAMETER_VALUE": http.StatusBadRequest, "RESOURCE_DOES_NOT_EXIST": http.StatusNotFound}[c.code]
		wantError(t, st, body, want, c.code)
		if body["message"] != c.msg {
			t.Errorf("%s %s %s: message %q, want %q", c.verb, c.path, c.body, body["message"], c.msg)
		}
	}
}

package service_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Every resource type MLflow 3.18 guards is accepted by the grant calls and by
// role permissions, with the grain MLflow gives it; unknown types, ids on
// wildcard-only types and the workspace slot on a user's own grant are refused
// in MLflow's words.
func TestResourceTypes(t *testing.T) {
	s := startServer(t, permission.Read)
	status, body := getJSON(t, s, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "typed", "password": "password1234"}`)
	if status != http.StatusOK {
		t.Fatalf("create user: %d %v", status, body)
	}
	status, body = getJSON(t, s, "POST", "/api/3.0/mlflow/roles/create", adminUser, adminPass, `{"workspace": "default", "name": "typed"}`)
	if status != http.StatusOK {
		t.Fatalf("create role: %d %v", status, body)
	}
	roleID := body["role"].(map[string]any)["id"]
	grant := func(typ, id, level string) (int, map[string]any) {
		return getJSON(t, s, "POST", "/api/3.0/mlflow/users/permissions/grant", adminUser, adminPass,
			fmt.Sprintf(`{"username": "typed", "resource_type": %q, "resource_id": %q, "permission": %q}`, typ, id, level))
	}
	addRole := func(typ, pattern, level string) (int, map[string]any) {
		return getJSON(t, s, "POST", "/api/3.0/mlflow/roles/permissions/add", adminUser, adminPass,
			fmt.Sprintf(`{"role_id": %v, "resource_type": %q, "resource_pattern": %q, "permission": %q}`, roleID, typ, pattern, level))
	}
	ok := func(what string, status int, body map[string]any) {
		t.Helper()
		if status != http.StatusOK {
			t.Errorf("%s: %d %v, want 200", what, status, body)
		}
	}
	refused := func(what string, status int, body map[string]any, message string) {
		t.Helper()
		if status != http.StatusBadRequest || body["error_code"] != "INVALID_PARAMETER_VALUE" || body["message"] != message {
			t.Errorf("%s: %d %v\nwant 400 INVALID_PARAMETER_VALUE %q", what, status, body, message)
		}
	}
	for _, typ := range []string{"mcp_server", "skill"} {
		status, body := grant(typ, "x1", "READ")
		ok("grant on "+typ, status, body)
		status, body = getJSON(t, s, "GET", "/api/3.0/mlflow/users/permissions/get?username=typed&resource_type="+typ+"&resource_id=x1", adminUser, adminPass, "")
		if status != http.StatusOK || body["permission"] != "READ" {
			t.Errorf("get on %s: %d %v", typ, status, body)
		}
		status, body = addRole(typ, "x1", "MANAGE")
		ok("role permission on one "+typ, status, body)
	}
	subResources := []string{"run", "trace", "assessment", "logged_model", "review_queue",
		"registered_model_version", "prompt_version", "scorer_version", "mcp_server_version"}
	for _, typ := range append(subResources, "workspace") {
		status, body := addRole(typ, "*", "MANAGE")
		ok("role permission on every "+typ, status, body)
		status, body = addRole(typ, "5", "MANAGE")
		refused("role permission on one "+typ, status, body,
			"Invalid resource_pattern '5' for resource_type='"+typ+"'. This resource type supports only wildcard ('*') grants.")
	}
	for _, typ := range subResources {
		status, body := grant(typ, "*", "READ")
		ok("grant on every "+typ, status, body)
		status, body = grant(typ, "5", "READ")
		refused("grant on one "+typ, status, body,
			"Invalid resource_pattern '5' for resource_type='"+typ+"'. This resource type supports only wildcard ('*') grants.")
	}
	status, body = grant("workspace", "*", "USE")
	refused("grant on the workspace", status, body, "resource_type 'workspace' is not supported by the per-user permission convenience APIs. "+
		"Use set_workspace_permission / delete_workspace_permission for workspace-wide grants.")
	status, body = addRole("skill", "*", "USE")
	refused("USE on skills", status, body, "Invalid permission 'USE' for resource_type='skill'. Skill Registry grants accept only: ('DENY', 'EDIT', 'MANAGE', 'READ').")
	unknown := "Invalid resource type 'notebook'. Valid resource types are: ('assessment', 'experiment', 'gateway_endpoint', " +
		"'gateway_model_definition', 'gateway_secret', 'logged_model', 'mcp_server', 'mcp_server_version', 'prompt', 'prompt_version', " +
		"'registered_model', 'registered_model_version', 'review_queue', 'run', 'scorer', 'scorer_version', 'skill', 'trace', 'workspace')"
	status, body = grant("notebook", "1", "READ")
	refused("grant on an unknown type", status, body, unknown)
	status, body = addRole("notebook", "*", "READ")
	refused("role permission on an unknown type", status, body, unknown)
}

// Revoking an id on a `*`-only type is MLflow's not-found, not a refused
// pattern: MLflow's revoke checks the type and looks the grant up. A non-admin
// gets MLflow's refusal of such an id by its MANAGE check, and so does anyone
// asking for their permission on it.
func TestRevokeIDOnWildcardOnlyType(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, name := range []string{"revoked", "revoker"} {
		if status, body := getJSON(t, s, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "`+name+`", "password": "password1234"}`); status != http.StatusOK {
			t.Fatalf("create user: %d %v", status, body)
		}
	}
	revoke := func(user, pass, typ, id string) (int, map[string]any) {
		return getJSON(t, s, "POST", "/api/3.0/mlflow/users/permissions/revoke", user, pass,
			fmt.Sprintf(`{"username": "revoked", "resource_type": %q, "resource_id": %q}`, typ, id))
	}
	for _, typ := range []string{"run", "mcp_server_version"} {
		status, body := revoke(adminUser, adminPass, typ, "5")
		want := "Permission for user=revoked on resource_type=" + typ + ", resource_id=5 not found."
		if status != http.StatusNotFound || body["error_code"] != "RESOURCE_DOES_NOT_EXIST" || body["message"] != want {
			t.Errorf("admin revokes %s 5: %d %v\nwant 404 RESOURCE_DOES_NOT_EXIST %q", typ, status, body, want)
		}
		status, body = revoke("revoker", "password1234", typ, "5")
		want = "resource_type '" + typ + "' is not supported by the per-user permission convenience APIs."
		if status != http.StatusBadRequest || body["error_code"] != "INVALID_PARAMETER_VALUE" || body["message"] != want {
			t.Errorf("non-admin revokes %s 5: %d %v\nwant 400 INVALID_PARAMETER_VALUE %q", typ, status, body, want)
		}
		// MLflow 3.17.2's get_user_permission has no lookup for such an id either.
		status, body = getJSON(t, s, "GET", "/api/3.0/mlflow/users/permissions/get?username=revoked&resource_type="+typ+"&resource_id=5", adminUser, adminPass, "")
		if status != http.StatusBadRequest || body["error_code"] != "INVALID_PARAMETER_VALUE" || body["message"] != want {
			t.Errorf("get %s 5: %d %v\nwant 400 INVALID_PARAMETER_VALUE %q", typ, status, body, want)
		}
		if status, body = getJSON(t, s, "GET", "/api/3.0/mlflow/users/permissions/get?username=revoked&resource_type="+typ+"&resource_id=*", adminUser, adminPass, ""); status != http.StatusOK {
			t.Errorf("get %s *: %d %v, want 200", typ, status, body)
		}
	}
	status, body := revoke(adminUser, adminPass, "experiment", "7")
	if want := "Permission for user=revoked on resource_type=experiment, resource_id=7 not found."; status != http.StatusNotFound || body["message"] != want {
		t.Errorf("admin revokes a missing experiment grant: %d %v\nwant 404 %q", status, body, want)
	}
}

// Skill ids are read as MLflow 3.18 reads them, "name" or "@organization/name",
// by every call that names one; any other spelling is refused in its words.
func TestSkillIDs(t *testing.T) {
	s := startServer(t, permission.Read)
	if status, body := getJSON(t, s, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "skilled", "password": "password1234"}`); status != http.StatusOK {
		t.Fatalf("create user: %d %v", status, body)
	}
	status, body := getJSON(t, s, "POST", "/api/3.0/mlflow/roles/create", adminUser, adminPass, `{"workspace": "default", "name": "skills"}`)
	if status != http.StatusOK {
		t.Fatalf("create role: %d %v", status, body)
	}
	roleID := body["role"].(map[string]any)["id"]
	calls := map[string]func(id string) (int, map[string]any){
		"grant": func(id string) (int, map[string]any) {
			return getJSON(t, s, "POST", "/api/3.0/mlflow/users/permissions/grant", adminUser, adminPass,
				fmt.Sprintf(`{"username": "skilled", "resource_type": "skill", "resource_id": %q, "permission": "READ"}`, id))
		},
		"get": func(id string) (int, map[string]any) {
			return getJSON(t, s, "GET", "/api/3.0/mlflow/users/permissions/get?username=skilled&resource_type=skill&resource_id="+url.QueryEscape(id), adminUser, adminPass, "")
		},
		"revoke": func(id string) (int, map[string]any) {
			return getJSON(t, s, "POST", "/api/3.0/mlflow/users/permissions/revoke", adminUser, adminPass,
				fmt.Sprintf(`{"username": "skilled", "resource_type": "skill", "resource_id": %q}`, id))
		},
		"role permission": func(id string) (int, map[string]any) {
			return getJSON(t, s, "POST", "/api/3.0/mlflow/roles/permissions/add", adminUser, adminPass,
				fmt.Sprintf(`{"role_id": %v, "resource_type": "skill", "resource_pattern": %q, "permission": "READ"}`, roleID, id))
		},
	}
	for _, call := range []string{"grant", "get", "revoke", "role permission"} {
		for _, id := range []string{"summarize", "@acme/summarize", "@@acme/summarize"} {
			if status, body := calls[call](id); status != http.StatusOK {
				t.Errorf("%s %q: %d %v, want 200", call, id, status, body)
			}
		}
		for _, id := range []string{"acme/summarize", "@acme", "@acme/", "@/summarize", "@acme/a/b", "@"} {
			status, body := calls[call](id)
			if status != http.StatusBadRequest || body["error_code"] != "INVALID_PARAMETER_VALUE" ||
				body["message"] != "Invalid Skill Registry resource_id. Expected 'name' or '@organization/name'." {
				t.Errorf("%s %q: %d %v, want MLflow 3.18's refusal", call, id, status, body)
			}
		}
	}
}

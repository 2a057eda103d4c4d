//go:build unix

package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

const mlflowAdminPassword = "mlflow-admin-password"

// TestMLflowBasicAuthServer runs the classic commands against MLflow's own
// basic-auth server, started from the interpreter in MLFLOW_AUTH_TEST_PYTHONS
// whose mlflow is older than 3.13 (which removed the classic permission calls).
// Each needs mlflow and Flask-WTF installed.
func TestMLflowBasicAuthServer(t *testing.T) {
	py := mlflowtest.Before(t, mlflowtest.Pythons(t), "3.13")
	t.Logf("MLflow %s from %s", py.Version, py.Path)
	uri := mlflowtest.StartBasicAuth(t, py, mlflowAdminPassword)
	asAdmin := func() { useServer(t, uri, "admin", mlflowAdminPassword) }
	asAdmin()

	// Users.
	created := decode(t, ok(t, "create-user", "alice", "alice-password-1"), &v1.CreateUserResponse{}).GetUser()
	if created.GetUsername() != "alice" || created.GetIsAdmin() || created.GetId() <= 0 {
		t.Fatalf("create-user: %v", created)
	}
	fails(t, exitFailed, []string{"create-user", "alice", "alice-password-1"}, "RESOURCE_ALREADY_EXISTS (HTTP 400)")
	fails(t, exitFailed, []string{"create-user", "bob", "short"}, "INVALID_PARAMETER_VALUE (HTTP 400)")
	wantEqual(t, decode(t, ok(t, "get-user", "alice", "to-json"), &v1.GetUserResponse{}).GetUser(), created)
	fails(t, exitFailed, []string{"get-user", "nobody"}, "RESOURCE_DOES_NOT_EXIST (HTTP 404): User with username=nobody not found")
	// A call MLflow 3.12 does not have is a plain 404 with an HTML page.
	fails(t, exitFailed, []string{"get-current-user"}, "ENDPOINT_NOT_FOUND (HTTP 404): Not Found for GET /api/2.0/mlflow/users/current")

	if r := cli(t, strings.NewReader("alice-password-2\n"), "update-user-password", "alice", "-"); r.code != exitOK || strings.TrimSpace(r.stdout) != "{}" {
		t.Fatalf("update-user-password: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	// MLflow answers 401 and 403 in plain text; the CLI still names the code.
	useServer(t, uri, "alice", "alice-password-2")
	decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{})
	fails(t, exitFailed, []string{"list-users"}, "PERMISSION_DENIED (HTTP 403): Permission denied")
	useServer(t, uri, "alice", "alice-password-1")
	fails(t, exitFailed, []string{"get-user", "alice"}, "UNAUTHENTICATED (HTTP 401): You are not authenticated.")
	asAdmin()

	for _, tc := range []struct {
		arg  string
		want bool
	}{{"True", true}, {"False", false}} {
		ok(t, "update-user-admin", "alice", tc.arg)
		if u := decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{}).GetUser(); u.GetIsAdmin() != tc.want {
			t.Errorf("after update-user-admin alice %s: is_admin %v", tc.arg, u.GetIsAdmin())
		}
	}
	// MLflow's users/list (3.10+) has no paging and lists ids and usernames.
	listed := decode(t, ok(t, "list-users", "--to-json"), &v1.ListUsersResponse{})
	if names := usernames(listed); !slices.Equal(names, []string{"admin", "alice"}) {
		t.Errorf("list-users: %v", names)
	}
	if table := ok(t, "list-users", "--output", "table"); !strings.Contains(table, "alice") {
		t.Errorf("list-users --output table:\n%s", table)
	}

	// Experiment permissions.
	wantEqual(t, decode(t, ok(t, "create-experiment-permission", "1", "alice", "READ"), &v1.CreateExperimentPermissionResponse{}).GetExperimentPermission(),
		&v1.ExperimentPermission{ExperimentId: "1", UserId: created.GetId(), Permission: "READ"})
	fails(t, exitFailed, []string{"create-experiment-permission", "1", "alice", "READ"}, "RESOURCE_ALREADY_EXISTS")
	fails(t, exitFailed, []string{"update-experiment-permission", "1", "alice", "WRITE"}, "INVALID_PARAMETER_VALUE", "Invalid permission 'WRITE'")
	ok(t, "update-experiment-permission", "1", "alice", "EDIT")
	wantEqual(t, decode(t, ok(t, "get-experiment-permission", "1", "alice"), &v1.GetExperimentPermissionResponse{}).GetExperimentPermission(),
		&v1.ExperimentPermission{ExperimentId: "1", UserId: created.GetId(), Permission: "EDIT"})
	if u := decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{}).GetUser(); len(u.GetExperimentPermissions()) != 1 {
		t.Errorf("get-user after the grant: %v", u)
	}
	ok(t, "delete-experiment-permission", "1", "alice")
	fails(t, exitFailed, []string{"get-experiment-permission", "1", "alice"}, "RESOURCE_DOES_NOT_EXIST")

	// Registered-model permissions.
	wantEqual(t, decode(t, ok(t, "create-registered-model-permission", "model-a", "alice", "READ"), &v1.CreateRegisteredModelPermissionResponse{}).GetRegisteredModelPermission(),
		&v1.RegisteredModelPermission{Workspace: "default", Name: "model-a", UserId: created.GetId(), Permission: "READ"})
	ok(t, "update-registered-model-permission", "model-a", "alice", "MANAGE")
	wantEqual(t, decode(t, ok(t, "get-registered-model-permission", "model-a", "alice"), &v1.GetRegisteredModelPermissionResponse{}).GetRegisteredModelPermission(),
		&v1.RegisteredModelPermission{Workspace: "default", Name: "model-a", UserId: created.GetId(), Permission: "MANAGE"})
	ok(t, "delete-registered-model-permission", "model-a", "alice")
	fails(t, exitFailed, []string{"get-registered-model-permission", "model-a", "alice"}, "RESOURCE_DOES_NOT_EXIST")

	ok(t, "delete-user", "alice")
	fails(t, exitFailed, []string{"get-user", "alice"}, "RESOURCE_DOES_NOT_EXIST")
}

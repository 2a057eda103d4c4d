package main

import (
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// Changing your own password sends the current one, as the server asks since
// MLflow 3.17.2: the password you signed in with, or --current-password (for a
// token, which has none); an admin still resets another's without it.
func TestUpdateOwnPassword(t *testing.T) {
	srv := startServer(t)
	ok(t, "create-user", "alice", "alice-password-1")
	ok(t, "update-user-password", "alice", "alice-password-2") // the admin resets hers
	useServer(t, srv.URL, "alice", "alice-password-2")
	ok(t, "update-user-password", "alice", "alice-password-3")
	useServer(t, srv.URL, "alice", "alice-password-3")
	if me := decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{}); me.GetUser().GetUsername() != "alice" {
		t.Fatalf("alice cannot sign in with her new password: %v", me)
	}
	fails(t, exitFailed, []string{"update-user-password", "alice", "alice-password-4", "--current-password", "a-wrong-guess"}, "INVALID_PARAMETER_VALUE")

	// Signed in with a token, the current password comes from the flag.
	token := decode(t, ok(t, "create-token", "alice", "laptop"), &v1.CreateTokenResponse{}).GetToken()
	useServer(t, srv.URL, "", "")
	t.Setenv("MLFLOW_TRACKING_TOKEN", token)
	fails(t, exitFailed, []string{"update-user-password", "alice", "alice-password-4"}, "Current password is required")
	ok(t, "update-user-password", "--current-password", "alice-password-3", "alice", "alice-password-4")
	useServer(t, srv.URL, "alice", "alice-password-4")
	decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{})

	// The admin's own password too.
	useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)
	ok(t, "update-user-password", servicetest.AdminUsername, "admin-password-2")
	useServer(t, srv.URL, servicetest.AdminUsername, "admin-password-2")
	decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{})
}

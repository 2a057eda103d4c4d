package client_test

import (
	"net/http"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// A user changes their own password with the Go client by sending the current
// one, which BasicAuth gives back; without it the server refuses, as MLflow
// 3.17.2 does.
func TestChangeOwnPassword(t *testing.T) {
	srv := servicetest.NewServer(t)
	createUser(t, asAdmin(t, srv), "alice", "alice-password-1")
	alice := connect(t, srv, "alice", "alice-password-1")
	username, current, ok := alice.BasicAuth()
	if !ok || username != "alice" || current != "alice-password-1" {
		t.Fatalf("BasicAuth() = %q, %q, %v", username, current, ok)
	}
	_, err := alice.UpdateUserPassword(t.Context(), &v1.UpdateUserPasswordRequest{Username: "alice", Password: "alice-password-2"})
	wantError(t, err, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	must(alice.UpdateUserPassword(t.Context(), &v1.UpdateUserPasswordRequest{Username: "alice", Password: "alice-password-2", CurrentPassword: current}))(t)
	must(connect(t, srv, "alice", "alice-password-2").GetCurrentUser(t.Context(), &v1.GetCurrentUserRequest{}))(t)

	token, err := client.New(srv.URL, client.WithBearerToken("mla_x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := token.BasicAuth(); ok {
		t.Error("a token client reports Basic credentials")
	}
}

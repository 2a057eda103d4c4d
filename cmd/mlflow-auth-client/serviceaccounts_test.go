package main

import (
	"strings"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// Service account commands: an admin makes one and its token, which signs it
// in as MLFLOW_TRACKING_TOKEN; it is listed, and deleted with its token.
func TestServiceAccountCommands(t *testing.T) {
	srv := startServer(t)
	made := decode(t, ok(t, "create-service-account", "ci-bot"), &v1.CreateServiceAccountResponse{}).GetUser()
	if made.GetUsername() != "ci-bot" || !made.GetIsServiceAccount() {
		t.Fatalf("create-service-account printed %v", made)
	}
	fails(t, exitFailed, []string{"create-service-account", "ci-bot"}, "RESOURCE_ALREADY_EXISTS")
	ok(t, "create-user", "alice", "alice-password-1")
	ok(t, "create-service-account", "nightly")
	listed := decode(t, ok(t, "list-service-accounts"), &v1.ListServiceAccountsResponse{})
	if len(listed.GetUsers()) != 2 || listed.GetUsers()[0].GetUsername() != "ci-bot" || listed.GetUsers()[1].GetUsername() != "nightly" {
		t.Fatalf("list-service-accounts printed %v", listed)
	}
	page := decode(t, ok(t, "list-service-accounts", "--max-results", "1"), &v1.ListServiceAccountsResponse{})
	if len(page.GetUsers()) != 1 || page.GetNextPageToken() == "" {
		t.Fatalf("one page of list-service-accounts: %v", page)
	}
	tok := decode(t, ok(t, "create-token", "ci-bot", "deploy"), &v1.CreateTokenResponse{}).GetToken()

	useServer(t, srv.URL, "", "")
	t.Setenv("MLFLOW_TRACKING_TOKEN", tok)
	if me := decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{}); me.GetUser().GetUsername() != "ci-bot" {
		t.Fatalf("the token signs in as %v", me)
	}
	fails(t, exitFailed, []string{"create-service-account", "other"}, "PERMISSION_DENIED")

	useServer(t, srv.URL, "admin", "admin-password-for-tests")
	fails(t, exitFailed, []string{"delete-service-account", "alice"}, "RESOURCE_DOES_NOT_EXIST")
	ok(t, "delete-service-account", "ci-bot")
	if out := ok(t, "list-service-accounts"); strings.Contains(out, "ci-bot") {
		t.Fatalf("list-service-accounts after delete: %s", out)
	}
}

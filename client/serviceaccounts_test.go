package client_test

import (
	"slices"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// An admin makes a service account and its token; the account signs in with the
// token alone, is listed, and is deleted.
func TestServiceAccountCalls(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx := t.Context()
	admin := asAdmin(t, srv)

	made := must(admin.CreateServiceAccount(ctx, &v1.CreateServiceAccountRequest{Username: "ci-bot"}))(t).GetUser()
	if made.GetUsername() != "ci-bot" || !made.GetIsServiceAccount() || made.GetIsAdmin() {
		t.Fatalf("created %v", made)
	}
	_, err := admin.CreateServiceAccount(ctx, &v1.CreateServiceAccountRequest{Username: "ci-bot"})
	wantError(t, err, 400, "RESOURCE_ALREADY_EXISTS")
	createUser(t, admin, "alice", "alice-password-1")
	if names := usernames(must(admin.ListServiceAccounts(ctx, &v1.ListServiceAccountsRequest{}))(t).GetUsers()); !slices.Equal(names, []string{"ci-bot"}) {
		t.Errorf("ListServiceAccounts: %v", names)
	}

	tok := must(admin.CreateToken(ctx, &v1.CreateTokenRequest{Username: "ci-bot", Name: "deploy"}))(t).GetToken()
	bot, err := client.New(srv.URL, client.WithBearerToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	if me := must(bot.GetCurrentUser(ctx, &v1.GetCurrentUserRequest{}))(t).GetUser(); me.GetUsername() != "ci-bot" || !me.GetIsServiceAccount() {
		t.Errorf("the token signs in as %v", me)
	}
	_, err = connect(t, srv, "ci-bot", "any-password-123").GetCurrentUser(ctx, &v1.GetCurrentUserRequest{})
	wantError(t, err, 401, "UNAUTHENTICATED")
	_, err = admin.UpdateUserPassword(ctx, &v1.UpdateUserPasswordRequest{Username: "ci-bot", Password: "any-password-123"})
	wantError(t, err, 400, "INVALID_PARAMETER_VALUE")

	_, err = admin.DeleteServiceAccount(ctx, &v1.DeleteServiceAccountRequest{Username: "alice"})
	wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	must(admin.DeleteServiceAccount(ctx, &v1.DeleteServiceAccountRequest{Username: "ci-bot"}))(t)
	_, err = bot.GetCurrentUser(ctx, &v1.GetCurrentUserRequest{})
	wantError(t, err, 401, "UNAUTHENTICATED")
}

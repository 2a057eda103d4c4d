package service_test

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// With Postgres behind a proxy that the test cuts: every call answers 503
// TEMPORARILY_UNAVAILABLE (no driver text, no 500, nothing half-written), and the
// server recovers by itself once the database is back.
func TestDatabaseOutage(t *testing.T) {
	_, proxied, proxy := storagetest.NewCuttablePostgres(t)
	db, err := postgres.Open(context.Background(), proxied)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := startServerOn(t, db, permission.Read)
	transports := s.transports(t)
	admin := caller{t, transports[0], adminUser, adminPass}
	admin.createUser("before", "before-password")

	proxy.Cut()
	for _, tr := range transports {
		c := caller{t, tr, adminUser, adminPass}
		c.expect("TEMPORARILY_UNAVAILABLE", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "before"}, &v1.GetUserResponse{})
		c.expect("TEMPORARILY_UNAVAILABLE", v1.UserService_CreateUser_FullMethodName, &v1.CreateUserRequest{Username: "during-" + tr.name(), Password: "during-password"}, &v1.CreateUserResponse{})
	}
	status, body := getJSON(t, s, "GET", "/api/2.0/mlflow/users/get?username=before", adminUser, adminPass, "")
	wantError(t, status, body, 503, "TEMPORARILY_UNAVAILABLE")
	if msg := body["message"].(string); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "connect") {
		t.Errorf("the 503 leaks driver text: %q", msg)
	}

	proxy.Restore()
	// Each pooled connection that died may fail one more call; then it works again.
	var code string
	for range 20 {
		if code = admin.tr.call(t, adminUser, adminPass, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "before"}, &v1.GetUserResponse{}); code == "" {
			break
		}
		if code != "TEMPORARILY_UNAVAILABLE" {
			t.Fatalf("after restore: %s", code)
		}
	}
	if code != "" {
		t.Fatal("the server did not recover after the database came back")
	}
	for _, tr := range transports {
		caller{t, tr, adminUser, adminPass}.expect(notFound, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "during-" + tr.name()}, &v1.GetUserResponse{})
	}
	admin.createUser("after", "after-password")
}

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// Two `serve` processes on one Postgres schema, with the default user cache: a
// password changed through one is refused by the other within a second.
func TestServeReplicasShareUserChanges(t *testing.T) {
	schema := storagetest.NewPostgresSchema(t)
	const adminPass = "replica-admin-password"
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPass)
	a, _ := startServe(t, "--database-url", schema.URL)
	b, _ := startServe(t, "--database-url", schema.URL)
	call := func(base, verb, path, user, pass, body string) int {
		t.Helper()
		return sendStatus(t, verb, base+path, user, pass, body)
	}
	if st := call(a, http.MethodPost, "/api/2.0/mlflow/users/create", "admin", adminPass, `{"username": "bob", "password": "bob-password-1"}`); st != http.StatusOK {
		t.Fatalf("create bob on A: %d", st)
	}
	const getBob = "/api/2.0/mlflow/users/get?username=bob"
	if st := call(b, http.MethodGet, getBob, "bob", "bob-password-1", ""); st != http.StatusOK {
		t.Fatalf("bob on B: %d", st)
	}
	changed := time.Now()
	if st := call(a, http.MethodPatch, "/api/2.0/mlflow/users/update-password", "admin", adminPass, `{"username": "bob", "password": "bob-password-2"}`); st != http.StatusOK {
		t.Fatalf("update-password on A: %d", st)
	}
	for call(b, http.MethodGet, getBob, "bob", "bob-password-1", "") != http.StatusUnauthorized {
		if time.Since(changed) > time.Second {
			t.Fatal("B still takes bob's old password 1 s after A changed it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("a password change on A refused on B after %v", time.Since(changed).Round(100*time.Microsecond))
}

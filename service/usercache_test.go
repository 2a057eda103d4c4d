package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// With users remembered for an hour, every change an admin makes to a user is
// seen on that user's next request: admin flag, password and deletion.
func TestUserCacheSeesChangesAtOnce(t *testing.T) {
	s := servicetest.Start(t, servicetest.Options{UserCacheTTL: time.Hour, CredentialCacheTTL: time.Hour})
	send := func(user, pass, verb, path, body string) int {
		t.Helper()
		st, _ := do(t, verb, s.URL+path, user, pass, strings.NewReader(body), nil)
		return st
	}
	admin := func(verb, path, body string) {
		t.Helper()
		if st := send(adminUser, adminPass, verb, path, body); st != http.StatusOK {
			t.Fatalf("admin %s %s: %d", verb, path, st)
		}
	}
	admin(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-1"}`)
	createCarol := func(pass string) int {
		return send("bob", pass, http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "carol", "password": "carol-password"}`)
	}
	if st := createCarol("bob-password-1"); st != http.StatusForbidden {
		t.Fatalf("bob creates a user before promotion: %d, want 403", st)
	}
	admin(http.MethodPatch, "/api/2.0/mlflow/users/update-admin", `{"username": "bob", "is_admin": true}`)
	if st := createCarol("bob-password-1"); st != http.StatusOK {
		t.Fatalf("bob creates a user after promotion: %d, want 200", st)
	}
	admin(http.MethodPatch, "/api/2.0/mlflow/users/update-admin", `{"username": "bob", "is_admin": false}`)
	admin(http.MethodDelete, "/api/2.0/mlflow/users/delete", `{"username": "carol"}`)
	if st := createCarol("bob-password-1"); st != http.StatusForbidden {
		t.Fatalf("bob creates a user after demotion: %d, want 403", st)
	}
	admin(http.MethodPatch, "/api/2.0/mlflow/users/update-password", `{"username": "bob", "password": "bob-password-2"}`)
	getBob := func(pass string) int {
		return send("bob", pass, http.MethodGet, "/api/2.0/mlflow/users/get?username=bob", "")
	}
	if st := getBob("bob-password-1"); st != http.StatusUnauthorized {
		t.Fatalf("the old password after a change: %d, want 401", st)
	}
	if st := getBob("bob-password-2"); st != http.StatusOK {
		t.Fatalf("the new password: %d, want 200", st)
	}
	admin(http.MethodDelete, "/api/2.0/mlflow/users/delete", `{"username": "bob"}`)
	if st := getBob("bob-password-2"); st != http.StatusUnauthorized {
		t.Fatalf("a deleted user: %d, want 401", st)
	}
}

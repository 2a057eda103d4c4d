package service_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Changing your own password takes the present one, as in MLflow 3.17.2: it
// must be sent (by admins too), match, and differ from the new one; an admin
// resets another user's password without it. Wrong present passwords count as
// failed logins, so a caller whose credentials are cached is throttled all the same.
func TestOwnPasswordNeedsTheCurrentOne(t *testing.T) {
	s := servicetest.Start(t, servicetest.Options{CredentialCacheTTL: time.Hour, LoginThrottle: service.LoginThrottle{FreeFailures: 3}})
	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ts := &testServer{httpBase: s.URL, conn: conn, store: s.Store}
	admin := caller{t, ts.transports(t)[0], adminUser, adminPass}
	admin.createUser("alice", "alice-password-1")
	admin.createUser("bob", "bob-password-1")

	const path = "/api/2.0/mlflow/users/update-password"
	invalid := func(message string) map[string]any {
		return map[string]any{"error_code": "INVALID_PARAMETER_VALUE", "message": message}
	}
	for _, tc := range []struct {
		name, user, pass, body string
		status                 int
		want                   map[string]any
	}{
		{"no current password", "alice", "alice-password-1", `{"username": "alice", "password": "alice-password-2"}`,
			400, invalid("Current password is required when changing your own password.")},
		{"a wrong one", "alice", "alice-password-1", `{"username": "alice", "password": "alice-password-2", "current_password": "not-it-at-all"}`,
			400, invalid("Current password does not match.")},
		{"the same again", "alice", "alice-password-1", `{"username": "alice", "password": "alice-password-1", "current_password": "alice-password-1"}`,
			400, invalid("New password must differ from the current password.")},
		{"too short", "alice", "alice-password-1", `{"username": "alice", "password": "short", "current_password": "alice-password-1"}`,
			400, invalid("Password must be a string longer than 12 characters.")},
		{"an admin's own, without", adminUser, adminPass, `{"username": "admin", "password": "admin-password-2"}`,
			400, invalid("Current password is required when changing your own password.")},
		{"an admin resets bob's", adminUser, adminPass, `{"username": "bob", "password": "bob-password-2"}`, 200, map[string]any{}},
		{"alice's, rightly", "alice", "alice-password-1", `{"username": "alice", "password": "alice-password-2", "current_password": "alice-password-1"}`,
			200, map[string]any{}},
	} {
		status, body := getJSON(t, ts, "PATCH", path, tc.user, tc.pass, tc.body)
		if status != tc.status || !reflect.DeepEqual(body, tc.want) {
			t.Errorf("%s: %d %v, want %d %v", tc.name, status, body, tc.status, tc.want)
		}
	}
	if status, _ := getJSON(t, ts, "GET", "/api/2.0/mlflow/users/current", "bob", "bob-password-2", ""); status != 200 {
		t.Errorf("bob after the admin's reset: %d", status)
	}

	// bob's password verified above, so it is cached: only the throttle stops guessing.
	wrong := `{"username": "bob", "password": "bob-password-3", "current_password": "a-guess-of-bob"}`
	for i := range 3 {
		if status, body := getJSON(t, ts, "PATCH", path, "bob", "bob-password-2", wrong); status != 400 {
			t.Fatalf("guess %d: %d %v, want 400", i+1, status, body)
		}
	}
	status, body := getJSON(t, ts, "PATCH", path, "bob", "bob-password-2",
		`{"username": "bob", "password": "bob-password-3", "current_password": "bob-password-2"}`)
	if status != 429 || body["error_code"] != "REQUEST_LIMIT_EXCEEDED" {
		t.Errorf("the right current password after 3 wrong ones: %d %v, want 429 REQUEST_LIMIT_EXCEEDED", status, body)
	}
}

// A non-admin lists users as MLflow 3.18 lists a workspace's users, the one
// workspace here being default: a member (a role or a direct grant there) sees
// the admins, the members and themself, but no one else's grants or roles; a
// non-member sees only themself.
func TestNonAdminsListMembersOnly(t *testing.T) {
	ts := startServer(t, permission.Read)
	admin := caller{t, ts.transports(t)[0], adminUser, adminPass}
	for _, u := range []string{"alice", "bob", "carol"} {
		admin.createUser(u, u+"-password-1")
	}
	must := func(verb, path, body string) map[string]any {
		t.Helper()
		status, got := getJSON(t, ts, verb, path, adminUser, adminPass, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", verb, path, status, got)
		}
		return got
	}
	role := must("POST", "/api/3.0/mlflow/roles/create", `{"workspace": "default", "name": "team"}`)["role"].(map[string]any)["id"]
	must("POST", "/api/3.0/mlflow/roles/assign", fmt.Sprintf(`{"username": "alice", "role_id": %v}`, role))
	must("POST", "/api/3.0/mlflow/users/permissions/grant", `{"username": "bob", "resource_type": "experiment", "resource_id": "5", "permission": "READ"}`)

	listed := func(user string) []map[string]any {
		t.Helper()
		status, got := getJSON(t, ts, "GET", "/api/2.0/mlflow/users/list", user, user+"-password-1", "")
		if status != 200 {
			t.Fatalf("%s lists: %d %v", user, status, got)
		}
		var out []map[string]any
		for _, u := range got["users"].([]any) {
			u := u.(map[string]any)
			out = append(out, map[string]any{"username": u["username"], "grants": len(u["experiment_permissions"].([]any)), "roles": len(u["roles"].([]any))})
		}
		return out
	}
	for user, want := range map[string][]map[string]any{
		"alice": {{"username": "admin", "grants": 0, "roles": 0}, {"username": "alice", "grants": 0, "roles": 1}, {"username": "bob", "grants": 0, "roles": 0}},
		"bob":   {{"username": "admin", "grants": 0, "roles": 0}, {"username": "alice", "grants": 0, "roles": 0}, {"username": "bob", "grants": 1, "roles": 1}},
		"carol": {{"username": "carol", "grants": 0, "roles": 0}},
	} {
		if got := listed(user); !reflect.DeepEqual(got, want) {
			t.Errorf("%s lists %v, want %v", user, got, want)
		}
	}
}

// Membership counts in every workspace the caller is in, not only default: a
// role or a direct grant in team-x shows the caller the others who hold one
// there, and nobody of a workspace the caller is not in. The manager of the
// request's workspace lists everyone, to onboard them (MLflow 3.18).
func TestNonAdminsListMembersOfTheirWorkspaces(t *testing.T) {
	ts := startServer(t, permission.Read)
	admin := caller{t, ts.transports(t)[0], adminUser, adminPass}
	for _, u := range []string{"dave", "erin", "frank", "grace", "heidi"} {
		admin.createUser(u, u+"-password-1")
	}
	must := func(ws, verb, path, body string) map[string]any {
		t.Helper()
		status, got := restIn(t, ts, ws, verb, path, adminUser, adminPass, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", verb, path, status, got)
		}
		return got
	}
	role := func(ws, name, user string) {
		id := must("", "POST", "/api/3.0/mlflow/roles/create", fmt.Sprintf(`{"workspace": %q, "name": %q}`, ws, name))["role"].(map[string]any)["id"]
		must("", "POST", "/api/3.0/mlflow/roles/assign", fmt.Sprintf(`{"username": %q, "role_id": %v}`, user, id))
	}
	role("team-x", "x-dave", "dave")
	must("team-x", "POST", "/api/3.0/mlflow/users/permissions/grant", `{"username": "erin", "resource_type": "experiment", "resource_id": "5", "permission": "READ"}`)
	role("team-y", "y-frank", "frank")
	must("team-y", "POST", "/api/3.0/mlflow/workspaces/team-y/permissions",
		`{"username": "grace", "permission": "MANAGE"}`)

	listed := func(ws, user string) []string {
		t.Helper()
		status, got := restIn(t, ts, ws, "GET", "/api/2.0/mlflow/users/list", user, user+"-password-1", "")
		if status != 200 {
			t.Fatalf("%s lists in %q: %d %v", user, ws, status, got)
		}
		var names []string
		for _, u := range got["users"].([]any) {
			names = append(names, u.(map[string]any)["username"].(string))
		}
		return names
	}
	for _, c := range []struct {
		ws, user string
		want     []string
	}{
		{"", "dave", []string{"admin", "dave", "erin"}},
		{"team-y", "dave", []string{"admin", "dave", "erin"}}, // the header names no workspace of dave's roster
		{"", "erin", []string{"admin", "dave", "erin"}},
		{"", "frank", []string{"admin", "frank", "grace"}},
		{"team-y", "grace", []string{"admin", "dave", "erin", "frank", "grace", "heidi"}},
		{"", "heidi", []string{"heidi"}},
	} {
		if got := listed(c.ws, c.user); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s lists in %q: %v, want %v", c.user, c.ws, got, c.want)
		}
	}
}

package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// Service accounts on both backends and both transports: admins alone make,
// list and delete them; they never sign in with a password, only with the
// tokens an admin makes for them; their grants and roles decide Check as any
// user's; users/list and users/get mark them.
func TestServiceAccounts(t *testing.T) {
	pg := openPostgres(t, "")
	servers := map[string]*testServer{
		"sqlite":   startServer(t, permission.NoPermissions),
		"postgres": startServerOn(t, pg, permission.NoPermissions),
	}
	for backend, s := range servers {
		for _, tr := range s.transports(t) {
			t.Run(backend+"/"+tr.name(), func(t *testing.T) {
				testServiceAccount(t, caller{t, tr, adminUser, adminPass}, tr.name())
			})
		}
	}
}

func testServiceAccount(t *testing.T, admin caller, suffix string) {
	sa, alice := "ci-bot-"+suffix, "alice-"+suffix
	const alicePass = "alice-password-1"
	admin.createUser(alice, alicePass)
	asAlice := admin.as(alice, alicePass)

	create, list, del := v1.UserService_CreateServiceAccount_FullMethodName,
		v1.UserService_ListServiceAccounts_FullMethodName, v1.UserService_DeleteServiceAccount_FullMethodName
	made := &v1.CreateServiceAccountResponse{}
	admin.expect("", create, &v1.CreateServiceAccountRequest{Username: sa}, made)
	if u := made.User; u.Username != sa || !u.GetIsServiceAccount() || u.IsAdmin || u.Id <= 0 {
		t.Fatalf("created %v, want a non-admin service account %s", u, sa)
	}
	admin.expect(exists, create, &v1.CreateServiceAccountRequest{Username: sa}, &v1.CreateServiceAccountResponse{})
	admin.expect(exists, create, &v1.CreateServiceAccountRequest{Username: alice}, &v1.CreateServiceAccountResponse{})
	admin.expect(invalid, create, &v1.CreateServiceAccountRequest{Username: "a:b"}, &v1.CreateServiceAccountResponse{})
	admin.expect(invalid, create, &v1.CreateServiceAccountRequest{}, &v1.CreateServiceAccountResponse{})
	asAlice.expect(denied, create, &v1.CreateServiceAccountRequest{Username: "alices-bot"}, &v1.CreateServiceAccountResponse{})
	asAlice.expect(denied, list, &v1.ListServiceAccountsRequest{}, &v1.ListServiceAccountsResponse{})
	asAlice.expect(denied, del, &v1.DeleteServiceAccountRequest{Username: sa}, &v1.DeleteServiceAccountResponse{})

	// No password signs it in, not even none; it is refused as a wrong password is.
	for _, pw := range []string{"", "any-password-123"} {
		admin.as(sa, pw).refused()
	}

	// An admin makes its token; it signs in with it, as Bearer or as Basic.
	tok := admin.createToken(sa, "deploy", "").Token
	asSA := admin.as(bearerUser, tok)
	asSA.whoAmI(sa)
	admin.as(sa, tok).whoAmI(sa)
	asSA.expect(denied, v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{Username: alice, Name: "stolen"}, &v1.CreateTokenResponse{})
	asSA.expect(denied, v1.UserService_UpdateUserPassword_FullMethodName, &v1.UpdateUserPasswordRequest{Username: alice, Password: "new-password-123"}, &v1.UpdateUserPasswordResponse{})
	// Nobody gives it a password, not itself, not an admin.
	asSA.expect(invalid, v1.UserService_UpdateUserPassword_FullMethodName, &v1.UpdateUserPasswordRequest{Username: sa, Password: "new-password-123", CurrentPassword: "x"}, &v1.UpdateUserPasswordResponse{})
	admin.expect(invalid, v1.UserService_UpdateUserPassword_FullMethodName, &v1.UpdateUserPasswordRequest{Username: sa, Password: "new-password-123"}, &v1.UpdateUserPasswordResponse{})
	admin.as(sa, "new-password-123").refused()

	// A direct grant and a role decide what its token may do, as for anyone.
	admin.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName,
		&v1.CreateExperimentPermissionRequest{ExperimentId: "42", Username: sa, Permission: "READ"}, &v1.CreateExperimentPermissionResponse{})
	role := &v1.CreateRoleResponse{}
	admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "deployers-" + suffix}, role)
	admin.expect("", v1.RoleService_AddRolePermission_FullMethodName,
		&v1.AddRolePermissionRequest{RoleId: role.Role.Id, ResourceType: "experiment", ResourcePattern: "7", Permission: "EDIT"}, &v1.AddRolePermissionResponse{})
	admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: sa, RoleId: role.Role.Id}, &v1.AssignRoleResponse{})
	for _, c := range []struct {
		capability, experiment string
		allowed                bool
		decidedBy              string
	}{
		{"read", "42", true, "grant"},
		{"update", "42", false, "grant"},
		{"update", "7", true, "role"},
		{"read", "8", false, "default"},
	} {
		got := &v1.CheckResponse{}
		asSA.expect("", v1.AuthorizationService_Check_FullMethodName,
			&v1.CheckRequest{Username: sa, Capability: c.capability, ResourceType: "experiment", ResourceId: c.experiment}, got)
		if got.Allowed != c.allowed || got.DecidedBy != c.decidedBy {
			t.Errorf("Check %s experiment %s = %v, want allowed %v by %s", c.capability, c.experiment, got, c.allowed, c.decidedBy)
		}
	}

	// Listed as a service account; a person is not.
	kinds := map[string]bool{}
	users := &v1.ListUsersResponse{}
	admin.expect("", v1.UserService_ListUsers_FullMethodName, &v1.ListUsersRequest{MaxResults: 1000}, users)
	for _, u := range users.Users {
		kinds[u.Username] = u.GetIsServiceAccount()
	}
	if !kinds[sa] || kinds[alice] || kinds[adminUser] {
		t.Errorf("users/list marks service accounts %v, want only %s", kinds, sa)
	}
	got := &v1.GetUserResponse{}
	asSA.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: sa}, got)
	if !got.User.GetIsServiceAccount() || len(got.User.ExperimentPermissions) != 1 {
		t.Errorf("users/get of %s = %v, want a service account with its grant", sa, got.User)
	}
	listed := &v1.ListServiceAccountsResponse{}
	admin.expect("", list, &v1.ListServiceAccountsRequest{}, listed)
	var names []string
	for _, u := range listed.Users {
		if !u.GetIsServiceAccount() {
			t.Errorf("service-accounts/list has %v", u)
		}
		if u.Username == sa && (len(u.ExperimentPermissions) != 1 || len(u.Roles) != 2) {
			t.Errorf("service-accounts/list shows %v, want its grant, its synthetic role and its role", u)
		}
		names = append(names, u.Username)
	}
	if len(names) == 0 || names[len(names)-1] != sa {
		t.Errorf("service-accounts/list = %v, want it to end with %s", names, sa)
	}

	// Deleting: a person is no service account; the account goes with its token.
	admin.expect(notFound, del, &v1.DeleteServiceAccountRequest{Username: alice}, &v1.DeleteServiceAccountResponse{})
	admin.expect("", del, &v1.DeleteServiceAccountRequest{Username: sa}, &v1.DeleteServiceAccountResponse{})
	admin.expect(notFound, del, &v1.DeleteServiceAccountRequest{Username: sa}, &v1.DeleteServiceAccountResponse{})
	asSA.refused()
}

// A password for a service account is answered as a wrong one: the same body,
// only after a hash as long (no shortcut tells that the account exists), and
// throttled alike.
func TestServiceAccountPasswordIsAWrongPassword(t *testing.T) {
	s := servicetest.Start(t, servicetest.Options{
		Hasher:        password.Params{N: 1 << 12, R: 8, P: 1}, // a hash long enough to time
		LoginThrottle: service.LoginThrottle{FreeFailures: 3},
	})
	if st, body := do(t, http.MethodPost, s.URL+"/api/2.0/mlflow/service-accounts/create", adminUser, adminPass,
		strings.NewReader(`{"username": "ci-bot"}`), nil); st != http.StatusOK {
		t.Fatalf("create ci-bot: %d %s", st, body)
	}
	if st, body := do(t, http.MethodPost, s.URL+"/api/2.0/mlflow/users/create", adminUser, adminPass,
		strings.NewReader(`{"username": "alice", "password": "alice-password-1"}`), nil); st != http.StatusOK {
		t.Fatalf("create alice: %d %s", st, body)
	}
	login := func(user, pass string) (int, string, time.Duration) {
		start := time.Now()
		st, body := do(t, http.MethodGet, s.URL+"/api/2.0/mlflow/users/current", user, pass, nil, nil)
		return st, string(body), time.Since(start)
	}
	// The fastest of three refusals each: a shortcut would be a hundred times faster.
	var fastest [2]time.Duration
	var bodies [2]string
	for i, user := range []string{"alice", "ci-bot"} {
		fastest[i] = time.Hour
		for range 3 {
			st, body, took := login(user, "not-the-password")
			if st != http.StatusUnauthorized {
				t.Fatalf("%s with a password: %d %s, want 401", user, st, body)
			}
			fastest[i], bodies[i] = min(fastest[i], took), body
		}
		if st, body, _ := login(user, "not-the-password"); st != http.StatusTooManyRequests {
			t.Errorf("%s after 3 failures: %d %s, want 429", user, st, body)
		}
	}
	if bodies[0] != bodies[1] {
		t.Errorf("service account refused with %s, a wrong password with %s", bodies[1], bodies[0])
	}
	if fastest[1] < fastest[0]/3 {
		t.Errorf("a service account is refused in %v, a wrong password in %v: the refusal skips the hash", fastest[1], fastest[0])
	}
}

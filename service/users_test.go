package service_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// caller runs calls on one transport as one user and checks the error code.
type caller struct {
	t          *testing.T
	tr         transport
	user, pass string
}

func (c caller) as(user, pass string) caller { return caller{c.t, c.tr, user, pass} }

// expect calls method and fails unless the answer has error code want ("" = success).
func (c caller) expect(want, method string, req, resp proto.Message) {
	c.t.Helper()
	if got := c.tr.call(c.t, c.user, c.pass, method, req, resp); got != want {
		c.t.Fatalf("%s as %q: error code %q, want %q", method, c.user, got, want)
	}
}

const (
	invalid      = "INVALID_PARAMETER_VALUE"
	badRequest   = "BAD_REQUEST"
	exists       = "RESOURCE_ALREADY_EXISTS"
	notFound     = "RESOURCE_DOES_NOT_EXIST"
	denied       = "PERMISSION_DENIED"
	unauthorized = "UNAUTHENTICATED"
)

func (c caller) createUser(name, pass string) *v1.User {
	c.t.Helper()
	resp := &v1.CreateUserResponse{}
	c.expect("", v1.UserService_CreateUser_FullMethodName, &v1.CreateUserRequest{Username: name, Password: pass}, resp)
	return resp.User
}

func TestUsers(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			alice, bob := "alice-"+tr.name(), "bob-"+tr.name()
			const alicePass, bobPass = "alice-password-1", "bob-password-123"

			created := admin.createUser(alice, alicePass)
			if created.Username != alice || created.IsAdmin || created.Id <= 0 {
				t.Fatalf("created user = %v", created)
			}
			admin.createUser(bob, bobPass)
			asAlice := admin.as(alice, alicePass)

			// Creation: admin only, validated, unique.
			create := v1.UserService_CreateUser_FullMethodName
			admin.expect(exists, create, &v1.CreateUserRequest{Username: alice, Password: alicePass}, &v1.CreateUserResponse{})
			admin.expect(invalid, create, &v1.CreateUserRequest{Username: "shorty-" + tr.name(), Password: "elevenchars"}, &v1.CreateUserResponse{})
			admin.expect("", create, &v1.CreateUserRequest{Username: "twelve-" + tr.name(), Password: "twelve-chars"}, &v1.CreateUserResponse{})
			admin.expect(invalid, create, &v1.CreateUserRequest{Username: "a:b", Password: alicePass}, &v1.CreateUserResponse{})
			admin.expect(invalid, create, &v1.CreateUserRequest{Username: "tab\there", Password: alicePass}, &v1.CreateUserResponse{})
			admin.expect(invalid, create, &v1.CreateUserRequest{Username: strings.Repeat("x", 256), Password: alicePass}, &v1.CreateUserResponse{})
			admin.expect(invalid, create, &v1.CreateUserRequest{Password: alicePass}, &v1.CreateUserResponse{})
			admin.expect(invalid, create, &v1.CreateUserRequest{Username: "nopass-" + tr.name()}, &v1.CreateUserResponse{})
			asAlice.expect(denied, create, &v1.CreateUserRequest{Username: "mallory-" + tr.name(), Password: alicePass}, &v1.CreateUserResponse{})

			// Authentication failures are all the same.
			get := v1.UserService_GetUser_FullMethodName
			admin.as("", "").expect(unauthorized, get, &v1.GetUserRequest{Username: alice}, &v1.GetUserResponse{})
			admin.as(alice, "wrong-password").expect(unauthorized, get, &v1.GetUserRequest{Username: alice}, &v1.GetUserResponse{})
			admin.as("nobody", alicePass).expect(unauthorized, get, &v1.GetUserRequest{Username: alice}, &v1.GetUserResponse{})

			// Reading: self or admin.
			got := &v1.GetUserResponse{}
			asAlice.expect("", get, &v1.GetUserRequest{Username: alice}, got)
			if got.User.Username != alice || got.User.Id != created.Id {
				t.Errorf("alice reads herself as %v", got.User)
			}
			asAlice.expect(denied, get, &v1.GetUserRequest{Username: bob}, &v1.GetUserResponse{})
			asAlice.expect(invalid, get, &v1.GetUserRequest{}, &v1.GetUserResponse{})
			admin.expect("", get, &v1.GetUserRequest{Username: bob}, &v1.GetUserResponse{})
			admin.expect(notFound, get, &v1.GetUserRequest{Username: "ghost"}, &v1.GetUserResponse{})
			current := &v1.GetCurrentUserResponse{}
			asAlice.expect("", v1.UserService_GetCurrentUser_FullMethodName, &v1.GetCurrentUserRequest{}, current)
			if current.User.Username != alice || !current.IsBasicAuth {
				t.Errorf("current user = %v", current)
			}

			// Listing: admins see everyone; alice, in no role and with no grant, herself.
			list := v1.UserService_ListUsers_FullMethodName
			alone := &v1.ListUsersResponse{}
			asAlice.expect("", list, &v1.ListUsersRequest{}, alone)
			if len(alone.Users) != 1 || alone.Users[0].Username != alice {
				t.Errorf("alice lists %v, want herself alone", alone.Users)
			}
			all := &v1.ListUsersResponse{}
			admin.expect("", list, &v1.ListUsersRequest{}, all)
			if !hasUser(all.Users, alice) || !hasUser(all.Users, bob) || all.NextPageToken != "" {
				t.Errorf("list = %v", all)
			}

			// Passwords: self or admin, at least 12 characters, current password must match when sent.
			setPass := v1.UserService_UpdateUserPassword_FullMethodName
			asAlice.expect(denied, setPass, &v1.UpdateUserPasswordRequest{Username: bob, Password: "stolen-password"}, &v1.UpdateUserPasswordResponse{})
			asAlice.expect(invalid, setPass, &v1.UpdateUserPasswordRequest{Username: alice, Password: "short"}, &v1.UpdateUserPasswordResponse{})
			asAlice.expect(invalid, setPass, &v1.UpdateUserPasswordRequest{Username: alice, Password: "alice-password-2", CurrentPassword: "not-it"}, &v1.UpdateUserPasswordResponse{})
			asAlice.expect("", setPass, &v1.UpdateUserPasswordRequest{Username: alice, Password: "alice-password-2", CurrentPassword: alicePass}, &v1.UpdateUserPasswordResponse{})
			asAlice.expect(unauthorized, get, &v1.GetUserRequest{Username: alice}, &v1.GetUserResponse{})
			asAlice = admin.as(alice, "alice-password-2")
			asAlice.expect("", get, &v1.GetUserRequest{Username: alice}, &v1.GetUserResponse{})
			admin.expect("", setPass, &v1.UpdateUserPasswordRequest{Username: bob, Password: "bob-password-456"}, &v1.UpdateUserPasswordResponse{})
			admin.expect(notFound, setPass, &v1.UpdateUserPasswordRequest{Username: "ghost", Password: "ghost-password"}, &v1.UpdateUserPasswordResponse{})
			asBob := admin.as(bob, "bob-password-456")

			// Promotion: admins only; is_admin must be sent.
			promote := v1.UserService_UpdateUserAdmin_FullMethodName
			asAlice.expect(denied, promote, &v1.UpdateUserAdminRequest{Username: alice, IsAdmin: proto.Bool(true)}, &v1.UpdateUserAdminResponse{})
			admin.expect(invalid, promote, &v1.UpdateUserAdminRequest{Username: bob}, &v1.UpdateUserAdminResponse{})
			admin.expect(notFound, promote, &v1.UpdateUserAdminRequest{Username: "ghost", IsAdmin: proto.Bool(true)}, &v1.UpdateUserAdminResponse{})
			admin.expect("", promote, &v1.UpdateUserAdminRequest{Username: bob, IsAdmin: proto.Bool(true)}, &v1.UpdateUserAdminResponse{})
			everyone := &v1.ListUsersResponse{}
			asBob.expect("", list, &v1.ListUsersRequest{}, everyone)
			admin.expect("", promote, &v1.UpdateUserAdminRequest{Username: bob, IsAdmin: proto.Bool(false)}, &v1.UpdateUserAdminResponse{})
			demoted := &v1.ListUsersResponse{}
			asBob.expect("", list, &v1.ListUsersRequest{}, demoted)
			if !hasUser(everyone.Users, alice) || len(demoted.Users) != 1 {
				t.Errorf("bob as admin lists %v, demoted %v", everyone.Users, demoted.Users)
			}

			// Deletion: admins only, never oneself.
			del := v1.UserService_DeleteUser_FullMethodName
			asAlice.expect(denied, del, &v1.DeleteUserRequest{Username: bob}, &v1.DeleteUserResponse{})
			admin.expect(badRequest, del, &v1.DeleteUserRequest{Username: adminUser}, &v1.DeleteUserResponse{})
			admin.expect("", del, &v1.DeleteUserRequest{Username: bob}, &v1.DeleteUserResponse{})
			admin.expect(notFound, del, &v1.DeleteUserRequest{Username: bob}, &v1.DeleteUserResponse{})
			admin.expect(notFound, get, &v1.GetUserRequest{Username: bob}, &v1.GetUserResponse{})
			asBob.expect(unauthorized, get, &v1.GetUserRequest{Username: bob}, &v1.GetUserResponse{})
		})
	}
}

func hasUser(users []*v1.User, name string) bool {
	for _, u := range users {
		if u.Username == name {
			return true
		}
	}
	return false
}

// The last admin can neither be demoted nor deleted, even by another admin who is
// then demoted; there is always one admin left.
func TestLastAdminStays(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			second := "second-admin-" + tr.name()
			admin.createUser(second, "second-password")
			promote := v1.UserService_UpdateUserAdmin_FullMethodName
			admin.expect("", promote, &v1.UpdateUserAdminRequest{Username: second, IsAdmin: proto.Bool(true)}, &v1.UpdateUserAdminResponse{})
			asSecond := admin.as(second, "second-password")
			asSecond.expect("", promote, &v1.UpdateUserAdminRequest{Username: adminUser, IsAdmin: proto.Bool(false)}, &v1.UpdateUserAdminResponse{})
			asSecond.expect(badRequest, promote, &v1.UpdateUserAdminRequest{Username: second, IsAdmin: proto.Bool(false)}, &v1.UpdateUserAdminResponse{})
			// Restore the first admin for the other transport's run.
			asSecond.expect("", promote, &v1.UpdateUserAdminRequest{Username: adminUser, IsAdmin: proto.Bool(true)}, &v1.UpdateUserAdminResponse{})
			admin.expect("", v1.UserService_DeleteUser_FullMethodName, &v1.DeleteUserRequest{Username: second}, &v1.DeleteUserResponse{})
		})
	}
}

// Pages of users follow next_page_token to the end, without gaps or repeats.
func TestListUsersPages(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			for i := range 5 {
				admin.createUser(tr.name()+"-page-user-"+string(rune('a'+i)), "page-password-1")
			}
			list := v1.UserService_ListUsers_FullMethodName
			all := &v1.ListUsersResponse{}
			admin.expect("", list, &v1.ListUsersRequest{}, all)
			var paged []*v1.User
			token := ""
			for pages := 0; ; pages++ {
				page := &v1.ListUsersResponse{}
				admin.expect("", list, &v1.ListUsersRequest{MaxResults: 2, PageToken: token}, page)
				if len(page.Users) > 2 || pages > len(all.Users) {
					t.Fatalf("page of %d users, or too many pages", len(page.Users))
				}
				paged = append(paged, page.Users...)
				if token = page.NextPageToken; token == "" {
					break
				}
			}
			if len(paged) != len(all.Users) {
				t.Fatalf("paging gave %d users, the full list %d", len(paged), len(all.Users))
			}
			for i := range paged {
				if paged[i].Id != all.Users[i].Id {
					t.Fatalf("page order differs at %d", i)
				}
			}
			admin.expect(invalid, list, &v1.ListUsersRequest{MaxResults: -1}, &v1.ListUsersResponse{})
			admin.expect(invalid, list, &v1.ListUsersRequest{MaxResults: 1001}, &v1.ListUsersResponse{})
			admin.expect(invalid, list, &v1.ListUsersRequest{MaxResults: 2, PageToken: "!!"}, &v1.ListUsersResponse{})
		})
	}
}

// Every list is paged: without max_results a call gets the first 100 rows and the
// token of the rest, never the whole table.
func TestListsWithoutMaxResultsArePaged(t *testing.T) {
	s := startServer(t, permission.Read)
	ctx := t.Context()
	exp := permission.Resource{Type: permission.Experiment, ID: "7"}
	for i := range 120 {
		u, err := s.store.CreateUser(ctx, fmt.Sprintf("paged-%03d", i), "not-a-hash", false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.CreateGrant(ctx, u.ID, exp, permission.Read); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			users := &v1.ListUsersResponse{}
			admin.expect("", v1.UserService_ListUsers_FullMethodName, &v1.ListUsersRequest{}, users)
			if len(users.Users) != 100 || users.NextPageToken == "" {
				t.Errorf("users without max_results: %d and token %q, want 100 and a token", len(users.Users), users.NextPageToken)
			}
			who := &v1.ListResourcePermissionsResponse{}
			admin.expect("", v1.PermissionService_ListResourcePermissions_FullMethodName,
				&v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: "7"}, who)
			if len(who.Permissions) != 100 || who.NextPageToken == "" {
				t.Errorf("who has access without max_results: %d and token %q, want 100 and a token", len(who.Permissions), who.NextPageToken)
			}
		})
	}
}

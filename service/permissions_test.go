package service_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Experiment grants through the classic calls: MANAGE on the experiment (or admin)
// is needed to grant, read, change and remove; the effective permission is the
// direct grant, else the default.
func TestExperimentPermissions(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			owner, reader := "owner-"+tr.name(), "reader-"+tr.name()
			ownerUser := admin.createUser(owner, "owner-password")
			readerUser := admin.createUser(reader, "reader-password")
			asOwner, asReader := admin.as(owner, "owner-password"), admin.as(reader, "reader-password")
			exp := "exp-" + tr.name()

			create := v1.PermissionService_CreateExperimentPermission_FullMethodName
			get := v1.PermissionService_GetExperimentPermission_FullMethodName
			update := v1.PermissionService_UpdateExperimentPermission_FullMethodName
			del := v1.PermissionService_DeleteExperimentPermission_FullMethodName

			// Without MANAGE (default READ) nobody but an admin may grant.
			asOwner.expect(denied, create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "READ"}, &v1.CreateExperimentPermissionResponse{})
			granted := &v1.CreateExperimentPermissionResponse{}
			admin.expect("", create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: owner, Permission: "MANAGE"}, granted)
			if p := granted.ExperimentPermission; p.ExperimentId != exp || p.UserId != ownerUser.Id || p.Permission != "MANAGE" {
				t.Fatalf("granted %v", p)
			}

			// The owner now manages the experiment.
			asOwner.expect("", create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "READ"}, &v1.CreateExperimentPermissionResponse{})
			asOwner.expect(exists, create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "EDIT"}, &v1.CreateExperimentPermissionResponse{})
			asOwner.expect(invalid, create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "WRITE"}, &v1.CreateExperimentPermissionResponse{})
			asOwner.expect(invalid, update, &v1.UpdateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "read"}, &v1.UpdateExperimentPermissionResponse{})
			asOwner.expect(notFound, create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: "ghost", Permission: "READ"}, &v1.CreateExperimentPermissionResponse{})
			asOwner.expect(invalid, create, &v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: reader}, &v1.CreateExperimentPermissionResponse{})

			// A reader cannot raise their own permission or touch other experiments' grants.
			asReader.expect(denied, update, &v1.UpdateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "MANAGE"}, &v1.UpdateExperimentPermissionResponse{})
			asReader.expect(denied, get, &v1.GetExperimentPermissionRequest{ExperimentId: exp, Username: reader}, &v1.GetExperimentPermissionResponse{})

			asOwner.expect("", update, &v1.UpdateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "EDIT"}, &v1.UpdateExperimentPermissionResponse{})
			read := &v1.GetExperimentPermissionResponse{}
			asOwner.expect("", get, &v1.GetExperimentPermissionRequest{ExperimentId: exp, Username: reader}, read)
			if p := read.ExperimentPermission; p.Permission != "EDIT" || p.UserId != readerUser.Id || p.ExperimentId != exp {
				t.Fatalf("read %v", p)
			}
			// The grant shows in the user's MLflow User JSON.
			u := &v1.GetUserResponse{}
			asReader.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: reader}, u)
			if len(u.User.ExperimentPermissions) != 1 || u.User.ExperimentPermissions[0].Permission != "EDIT" {
				t.Fatalf("user JSON has %v", u.User.ExperimentPermissions)
			}

			asOwner.expect("", del, &v1.DeleteExperimentPermissionRequest{ExperimentId: exp, Username: reader}, &v1.DeleteExperimentPermissionResponse{})
			asOwner.expect(notFound, get, &v1.GetExperimentPermissionRequest{ExperimentId: exp, Username: reader}, &v1.GetExperimentPermissionResponse{})
			asOwner.expect(notFound, del, &v1.DeleteExperimentPermissionRequest{ExperimentId: exp, Username: reader}, &v1.DeleteExperimentPermissionResponse{})
			asOwner.expect(notFound, update, &v1.UpdateExperimentPermissionRequest{ExperimentId: exp, Username: reader, Permission: "READ"}, &v1.UpdateExperimentPermissionResponse{})

			// An explicit lower grant on oneself takes MANAGE away, even from the grantor.
			asOwner.expect("", update, &v1.UpdateExperimentPermissionRequest{ExperimentId: exp, Username: owner, Permission: "NO_PERMISSIONS"}, &v1.UpdateExperimentPermissionResponse{})
			asOwner.expect(denied, get, &v1.GetExperimentPermissionRequest{ExperimentId: exp, Username: owner}, &v1.GetExperimentPermissionResponse{})
		})
	}
}

func TestRegisteredModelAndScorerPermissions(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			user := "modeler-" + tr.name()
			admin.createUser(user, "modeler-password")
			model := "model/with spaces-" + tr.name()

			rm := &v1.CreateRegisteredModelPermissionResponse{}
			admin.expect("", v1.PermissionService_CreateRegisteredModelPermission_FullMethodName,
				&v1.CreateRegisteredModelPermissionRequest{Name: model, Username: user, Permission: "EDIT"}, rm)
			if p := rm.RegisteredModelPermission; p.Name != model || p.Workspace != "default" || p.Permission != "EDIT" {
				t.Fatalf("registered model grant %v", p)
			}
			admin.expect(exists, v1.PermissionService_CreateRegisteredModelPermission_FullMethodName,
				&v1.CreateRegisteredModelPermissionRequest{Name: model, Username: user, Permission: "EDIT"}, &v1.CreateRegisteredModelPermissionResponse{})
			admin.expect("", v1.PermissionService_UpdateRegisteredModelPermission_FullMethodName,
				&v1.UpdateRegisteredModelPermissionRequest{Name: model, Username: user, Permission: "MANAGE"}, &v1.UpdateRegisteredModelPermissionResponse{})
			// MANAGE on the model lets the user read its grants.
			got := &v1.GetRegisteredModelPermissionResponse{}
			admin.as(user, "modeler-password").expect("", v1.PermissionService_GetRegisteredModelPermission_FullMethodName,
				&v1.GetRegisteredModelPermissionRequest{Name: model, Username: user}, got)
			if got.RegisteredModelPermission.Permission != "MANAGE" {
				t.Fatalf("read back %v", got.RegisteredModelPermission)
			}
			admin.expect("", v1.PermissionService_DeleteRegisteredModelPermission_FullMethodName,
				&v1.DeleteRegisteredModelPermissionRequest{Name: model, Username: user}, &v1.DeleteRegisteredModelPermissionResponse{})

			scorer := "my scorer/" + tr.name()
			sc := &v1.CreateScorerPermissionResponse{}
			admin.expect("", v1.PermissionService_CreateScorerPermission_FullMethodName,
				&v1.CreateScorerPermissionRequest{ExperimentId: "7", ScorerName: scorer, Username: user, Permission: "READ"}, sc)
			if p := sc.ScorerPermission; p.ExperimentId != "7" || p.ScorerName != scorer || p.Permission != "READ" {
				t.Fatalf("scorer grant %v", p)
			}
			u := &v1.GetUserResponse{}
			admin.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: user}, u)
			if len(u.User.ScorerPermissions) != 1 || u.User.ScorerPermissions[0].ScorerName != scorer {
				t.Fatalf("user JSON scorers %v", u.User.ScorerPermissions)
			}
			// The 3.x API addresses the same grant as <experiment_id>/<quoted name>.
			perm := &v1.GetUserPermissionResponse{}
			admin.expect("", v1.PermissionService_GetUserPermission_FullMethodName, &v1.GetUserPermissionRequest{
				Username: user, ResourceType: "scorer", ResourceId: "7/" + quoteAll(scorer)}, perm)
			if perm.Permission != "READ" {
				t.Fatalf("3.x view of the scorer grant: %v", perm)
			}
			admin.expect("", v1.PermissionService_DeleteScorerPermission_FullMethodName,
				&v1.DeleteScorerPermissionRequest{ExperimentId: "7", ScorerName: scorer, Username: user}, &v1.DeleteScorerPermissionResponse{})
			admin.expect(notFound, v1.PermissionService_GetScorerPermission_FullMethodName,
				&v1.GetScorerPermissionRequest{ExperimentId: "7", ScorerName: scorer, Username: user}, &v1.GetScorerPermissionResponse{})
		})
	}
}

// quoteAll is Python's urllib.parse.quote(s, safe=""), as MLflow 3.13 clients build scorer ids.
func quoteAll(s string) string {
	return permission.ScorerResource("", s).ID[1:]
}

// MLflow 3.13's unified calls: grant, revoke, get (effective permission) and list.
func TestUnifiedPermissionCalls(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			alice, bob := "u-alice-"+tr.name(), "u-bob-"+tr.name()
			admin.createUser(alice, "alice-password")
			admin.createUser(bob, "bob-password-1")
			asAlice, asBob := admin.as(alice, "alice-password"), admin.as(bob, "bob-password-1")
			exp := "42-" + tr.name()

			grant := v1.PermissionService_GrantPermission_FullMethodName
			revoke := v1.PermissionService_RevokePermission_FullMethodName
			get := v1.PermissionService_GetUserPermission_FullMethodName

			admin.expect(invalid, grant, &v1.GrantPermissionRequest{Username: alice, ResourceType: "experiment", ResourceId: exp, Permission: "NO_PERMISSIONS"}, &v1.GrantPermissionResponse{})
			admin.expect(invalid, grant, &v1.GrantPermissionRequest{Username: alice, ResourceType: "workspace", ResourceId: "*", Permission: "READ"}, &v1.GrantPermissionResponse{})
			admin.expect(invalid, grant, &v1.GrantPermissionRequest{Username: alice, ResourceType: "scorer", ResourceId: "no-slash", Permission: "READ"}, &v1.GrantPermissionResponse{})
			asAlice.expect(denied, grant, &v1.GrantPermissionRequest{Username: alice, ResourceType: "experiment", ResourceId: exp, Permission: "MANAGE"}, &v1.GrantPermissionResponse{})
			admin.expect("", grant, &v1.GrantPermissionRequest{Username: alice, ResourceType: "experiment", ResourceId: exp, Permission: "MANAGE"}, &v1.GrantPermissionResponse{})
			admin.expect(exists, grant, &v1.GrantPermissionRequest{Username: alice, ResourceType: "experiment", ResourceId: exp, Permission: "EDIT"}, &v1.GrantPermissionResponse{})
			asAlice.expect("", grant, &v1.GrantPermissionRequest{Username: bob, ResourceType: "experiment", ResourceId: exp, Permission: "USE"}, &v1.GrantPermissionResponse{})

			// Effective permission: the grant, else the default; self or admin may ask.
			eff := &v1.GetUserPermissionResponse{}
			asBob.expect("", get, &v1.GetUserPermissionRequest{Username: bob, ResourceType: "experiment", ResourceId: exp}, eff)
			if !eff.Allowed || eff.Permission != "USE" {
				t.Errorf("bob's effective permission = %v, want allowed USE", eff)
			}
			asBob.expect("", get, &v1.GetUserPermissionRequest{Username: bob, ResourceType: "registered_model", ResourceId: "other"}, eff)
			if eff.Allowed || eff.Permission != "READ" {
				t.Errorf("bob's default permission = %v, want READ, not allowed", eff)
			}
			asBob.expect(denied, get, &v1.GetUserPermissionRequest{Username: alice, ResourceType: "experiment", ResourceId: exp}, &v1.GetUserPermissionResponse{})
			admin.expect("", get, &v1.GetUserPermissionRequest{Username: adminUser, ResourceType: "experiment", ResourceId: exp}, eff)
			if eff.Permission != "MANAGE" {
				t.Errorf("an admin's effective permission = %v, want MANAGE", eff)
			}

			// Listing a user's grants: self or admin.
			mine := &v1.ListCurrentUserPermissionsResponse{}
			asBob.expect("", v1.PermissionService_ListCurrentUserPermissions_FullMethodName, &v1.ListCurrentUserPermissionsRequest{}, mine)
			if mine.IsAdmin || len(mine.Permissions) != 1 || mine.Permissions[0].ResourcePattern != exp || mine.Permissions[0].ResourceType != "experiment" {
				t.Errorf("bob's own list = %v", mine)
			}
			asAlice.expect(denied, v1.PermissionService_ListUserPermissions_FullMethodName, &v1.ListUserPermissionsRequest{Username: bob}, &v1.ListUserPermissionsResponse{})
			theirs := &v1.ListUserPermissionsResponse{}
			admin.expect("", v1.PermissionService_ListUserPermissions_FullMethodName, &v1.ListUserPermissionsRequest{Username: bob}, theirs)
			if len(theirs.Permissions) != 1 || theirs.Permissions[0].Permission != "USE" {
				t.Errorf("admin's list of bob = %v", theirs)
			}

			// Who has access: MANAGE on the resource, paged in user order.
			who := &v1.ListResourcePermissionsResponse{}
			asBob.expect(denied, v1.PermissionService_ListResourcePermissions_FullMethodName, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: exp}, who)
			asAlice.expect("", v1.PermissionService_ListResourcePermissions_FullMethodName, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: exp, MaxResults: 1}, who)
			if len(who.Permissions) != 1 || who.Permissions[0].Username != alice || who.NextPageToken == "" {
				t.Fatalf("first page of who has access = %v", who)
			}
			asAlice.expect("", v1.PermissionService_ListResourcePermissions_FullMethodName, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: exp, MaxResults: 1, PageToken: who.NextPageToken}, who)
			if len(who.Permissions) != 1 || who.Permissions[0].Username != bob || who.Permissions[0].Permission != "USE" || who.NextPageToken != "" {
				t.Fatalf("second page of who has access = %v", who)
			}

			asAlice.expect("", revoke, &v1.RevokePermissionRequest{Username: bob, ResourceType: "experiment", ResourceId: exp}, &v1.RevokePermissionResponse{})
			asAlice.expect(notFound, revoke, &v1.RevokePermissionRequest{Username: bob, ResourceType: "experiment", ResourceId: exp}, &v1.RevokePermissionResponse{})

			// Deleting a user deletes their grants.
			admin.expect("", v1.UserService_DeleteUser_FullMethodName, &v1.DeleteUserRequest{Username: alice}, &v1.DeleteUserResponse{})
			admin.expect("", v1.PermissionService_ListResourcePermissions_FullMethodName, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: exp}, who)
			if len(who.Permissions) != 0 {
				t.Errorf("grants left after deleting their users: %v", who.Permissions)
			}
		})
	}
}

// With --default-permission NO_PERMISSIONS a user without a grant has no access at all.
func TestDefaultPermissionNoPermissions(t *testing.T) {
	s := startServer(t, permission.NoPermissions)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			user := "nobody-" + tr.name()
			admin.createUser(user, "nobody-password")
			eff := &v1.GetUserPermissionResponse{}
			admin.as(user, "nobody-password").expect("", v1.PermissionService_GetUserPermission_FullMethodName,
				&v1.GetUserPermissionRequest{Username: user, ResourceType: "experiment", ResourceId: "1"}, eff)
			if eff.Allowed || eff.Permission != "NO_PERMISSIONS" {
				t.Errorf("effective permission %v, want NO_PERMISSIONS", eff)
			}
		})
	}
}

// Check answers other enforcers with the same resolution as everything else,
// and says what decided: the direct grant, a role (named), the default, or
// being an admin.
func TestCheck(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			alice := "checked-" + tr.name()
			admin.createUser(alice, "alice-password")
			asAlice := admin.as(alice, "alice-password")
			admin.expect("", v1.PermissionService_GrantPermission_FullMethodName,
				&v1.GrantPermissionRequest{Username: alice, ResourceType: "experiment", ResourceId: "5", Permission: "EDIT"}, &v1.GrantPermissionResponse{})
			role := &v1.CreateRoleResponse{}
			admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "checkers-" + tr.name()}, role)
			for _, p := range []struct{ pattern, level string }{{"7", "MANAGE"}, {"8", "DENY"}, {"5", "READ"}} {
				admin.expect("", v1.RoleService_AddRolePermission_FullMethodName,
					&v1.AddRolePermissionRequest{RoleId: role.Role.Id, ResourceType: "experiment", ResourcePattern: p.pattern, Permission: p.level}, &v1.AddRolePermissionResponse{})
			}
			admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: alice, RoleId: role.Role.Id}, &v1.AssignRoleResponse{})
			check := v1.AuthorizationService_Check_FullMethodName
			for _, c := range []struct {
				capability, resourceID string
				want                   *v1.CheckResponse
			}{
				{"update", "5", &v1.CheckResponse{Allowed: true, Permission: "EDIT", DecidedBy: "grant"}}, // above the role's READ
				{"delete", "5", &v1.CheckResponse{Allowed: false, Permission: "EDIT", DecidedBy: "grant"}},
				{"read", "6", &v1.CheckResponse{Allowed: true, Permission: "READ", DecidedBy: "default"}}, // no grant
				{"update", "6", &v1.CheckResponse{Allowed: false, Permission: "READ", DecidedBy: "default"}},
				{"manage", "7", &v1.CheckResponse{Allowed: true, Permission: "MANAGE", DecidedBy: "role", Role: role.Role.Name}},
				{"read", "8", &v1.CheckResponse{Allowed: false, Permission: "DENY", DecidedBy: "role", Role: role.Role.Name}},
			} {
				got := &v1.CheckResponse{}
				asAlice.expect("", check, &v1.CheckRequest{Username: alice, Capability: c.capability, ResourceType: "experiment", ResourceId: c.resourceID}, got)
				if !proto.Equal(got, c.want) {
					t.Errorf("check %s on %s = %v, want %v", c.capability, c.resourceID, got, c.want)
				}
			}
			asAlice.expect(invalid, check, &v1.CheckRequest{Username: alice, Capability: "write", ResourceType: "experiment", ResourceId: "5"}, &v1.CheckResponse{})
			asAlice.expect(denied, check, &v1.CheckRequest{Username: adminUser, Capability: "read", ResourceType: "experiment", ResourceId: "5"}, &v1.CheckResponse{})
			got := &v1.CheckResponse{}
			admin.expect("", check, &v1.CheckRequest{Username: adminUser, Capability: "manage", ResourceType: "registered_model", ResourceId: "m"}, got)
			if !proto.Equal(got, &v1.CheckResponse{Allowed: true, Permission: "MANAGE", DecidedBy: "admin"}) {
				t.Errorf("an admin's check = %v", got)
			}
		})
	}
}

// Who has access lists access through roles beside direct grants, naming the
// role, and pages by whole users.
func TestWhoHasAccessThroughRoles(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			exp := "who-" + tr.name()
			users := map[string]int32{}
			for _, u := range []string{"bob", "carol", "dave", "erin"} {
				users[u] = admin.createUser(u+"-"+tr.name(), u+"-password-1").Id
			}
			name := func(u string) string { return u + "-" + tr.name() }
			admin.expect("", v1.PermissionService_GrantPermission_FullMethodName,
				&v1.GrantPermissionRequest{Username: name("bob"), ResourceType: "experiment", ResourceId: exp, Permission: "READ"}, &v1.GrantPermissionResponse{})
			role := func(perms [][2]string, holders ...string) *v1.Role {
				created := &v1.CreateRoleResponse{}
				admin.expect("", v1.RoleService_CreateRole_FullMethodName, &v1.CreateRoleRequest{Workspace: "default", Name: "who-" + perms[0][1] + "-" + name(holders[0])}, created)
				for _, p := range perms {
					typ := "experiment"
					if p[0] == "ws" {
						typ, p[0] = "workspace", "*"
					}
					admin.expect("", v1.RoleService_AddRolePermission_FullMethodName,
						&v1.AddRolePermissionRequest{RoleId: created.Role.Id, ResourceType: typ, ResourcePattern: p[0], Permission: p[1]}, &v1.AddRolePermissionResponse{})
				}
				for _, h := range holders {
					admin.expect("", v1.RoleService_AssignRole_FullMethodName, &v1.AssignRoleRequest{Username: name(h), RoleId: created.Role.Id}, &v1.AssignRoleResponse{})
				}
				return created.Role
			}
			readers := role([][2]string{{"*", "READ"}}, "bob")
			deniers := role([][2]string{{exp, "DENY"}, {"other", "MANAGE"}}, "carol")
			role([][2]string{{"other", "EDIT"}}, "dave") // another experiment: no access here
			admins := role([][2]string{{"ws", "MANAGE"}}, "erin")
			// A direct grant on every experiment gives access here too.
			admin.expect("", v1.PermissionService_GrantPermission_FullMethodName,
				&v1.GrantPermissionRequest{Username: name("dave"), ResourceType: "experiment", ResourceId: "*", Permission: "EDIT"}, &v1.GrantPermissionResponse{})
			want := []*v1.ResourcePermission{
				{UserId: users["bob"], Username: name("bob"), Permission: "READ", ResourcePattern: exp},
				{UserId: users["bob"], Username: name("bob"), Permission: "READ", Role: readers.Name, RoleId: readers.Id, ResourcePattern: "*"},
				{UserId: users["carol"], Username: name("carol"), Permission: "DENY", Role: deniers.Name, RoleId: deniers.Id, ResourcePattern: exp},
				{UserId: users["dave"], Username: name("dave"), Permission: "EDIT", ResourcePattern: "*"},
				{UserId: users["erin"], Username: name("erin"), Permission: "MANAGE", Role: admins.Name, RoleId: admins.Id, ResourcePattern: "*"},
			}
			// The other transport's "*" and workspace roles count here too: keep ours.
			ours := func(rows []*v1.ResourcePermission) *v1.ListResourcePermissionsResponse {
				kept := &v1.ListResourcePermissionsResponse{}
				for _, r := range rows {
					if strings.HasSuffix(r.Username, "-"+tr.name()) {
						kept.Permissions = append(kept.Permissions, r)
					}
				}
				return kept
			}
			who := &v1.ListResourcePermissionsResponse{}
			admin.expect("", v1.PermissionService_ListResourcePermissions_FullMethodName, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: exp}, who)
			if got := ours(who.Permissions); !proto.Equal(got, &v1.ListResourcePermissionsResponse{Permissions: want}) {
				t.Errorf("who has access = %v, want %v", got, want)
			}
			var paged []*v1.ResourcePermission
			for req := (&v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: exp, MaxResults: 1}); ; {
				admin.expect("", v1.PermissionService_ListResourcePermissions_FullMethodName, req, who)
				for _, r := range who.Permissions {
					if r.UserId != who.Permissions[0].UserId {
						t.Fatalf("a page of one user holds two: %v", who.Permissions)
					}
				}
				paged = append(paged, who.Permissions...)
				if who.NextPageToken == "" {
					if got := ours(paged); !proto.Equal(got, &v1.ListResourcePermissionsResponse{Permissions: want}) {
						t.Errorf("paged by one user: %v, want %v", got, want)
					}
					break
				}
				req.PageToken = who.NextPageToken
			}
		})
	}
}

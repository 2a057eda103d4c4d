package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/usercache"
)

// restClient calls one server's REST API as one user.
type restClient struct {
	t          *testing.T
	url        string
	user, pass string
}

// call sends a request that must succeed and decodes its answer into out (when not nil).
func (c restClient) call(verb, path, body string, out any) {
	c.t.Helper()
	st, got := do(c.t, verb, c.url+path, c.user, c.pass, strings.NewReader(body), nil)
	if st != http.StatusOK {
		c.t.Fatalf("%s %s %s: %d %s", c.user, verb, path, st, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", verb, path, err, got)
		}
	}
}

// decision is what permissions/check answers bob about an experiment: his
// effective level, and the role that decided it, if one did.
func (c restClient) decision(experiment string) string {
	c.t.Helper()
	var d struct{ Permission, Role string }
	c.call(http.MethodGet, "/api/3.0/mlflow/permissions/check?username=bob&capability=read&resource_type=experiment&resource_id="+experiment, "", &d)
	return strings.TrimSuffix(d.Permission+" "+d.Role, " ")
}

// permissionChange is one change an admin makes through REST, and what bob's
// decision on experiment is before and after it.
type permissionChange struct {
	what, experiment, before, after string
	verb, path, body                string
}

// permissionChanges makes bob, a role, and the sequence of changes that each
// must be seen at once: grants, role permissions, assignments, a role's
// rename, and bob's deletion. The default permission is NO_PERMISSIONS.
func permissionChanges(admin restClient) []permissionChange {
	admin.call(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-1"}`, nil)
	var role struct{ Role struct{ ID int32 } }
	admin.call(http.MethodPost, "/api/3.0/mlflow/roles/create", `{"workspace": "default", "name": "readers"}`, &role)
	var perm struct {
		RolePermission struct{ ID int32 } `json:"role_permission"`
	}
	admin.call(http.MethodPost, "/api/3.0/mlflow/roles/permissions/add",
		fmt.Sprintf(`{"role_id": %d, "resource_type": "experiment", "resource_pattern": "9", "permission": "READ"}`, role.Role.ID), &perm)
	roleID, permID := role.Role.ID, perm.RolePermission.ID
	return []permissionChange{
		{"a grant", "8", "NO_PERMISSIONS", "READ",
			http.MethodPost, "/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "8", "username": "bob", "permission": "READ"}`},
		{"a grant's update", "8", "READ", "EDIT",
			http.MethodPatch, "/api/2.0/mlflow/experiments/permissions/update", `{"experiment_id": "8", "username": "bob", "permission": "EDIT"}`},
		{"a grant's deletion", "8", "EDIT", "NO_PERMISSIONS",
			http.MethodDelete, "/api/2.0/mlflow/experiments/permissions/delete", `{"experiment_id": "8", "username": "bob"}`},
		{"an assignment", "9", "NO_PERMISSIONS", "READ readers",
			http.MethodPost, "/api/3.0/mlflow/roles/assign", fmt.Sprintf(`{"username": "bob", "role_id": %d}`, roleID)},
		{"a role permission's update", "9", "READ readers", "DENY readers",
			http.MethodPatch, "/api/3.0/mlflow/roles/permissions/update", fmt.Sprintf(`{"role_permission_id": %d, "permission": "DENY"}`, permID)},
		{"a role's rename", "9", "DENY readers", "DENY deniers",
			http.MethodPatch, "/api/3.0/mlflow/roles/update", fmt.Sprintf(`{"role_id": %d, "name": "deniers"}`, roleID)},
		{"a role permission's removal", "9", "DENY deniers", "NO_PERMISSIONS",
			http.MethodDelete, "/api/3.0/mlflow/roles/permissions/remove", fmt.Sprintf(`{"role_permission_id": %d}`, permID)},
		{"a role permission's addition", "9", "NO_PERMISSIONS", "EDIT deniers",
			http.MethodPost, "/api/3.0/mlflow/roles/permissions/add", fmt.Sprintf(`{"role_id": %d, "resource_type": "experiment", "resource_pattern": "*", "permission": "EDIT"}`, roleID)},
		{"an unassignment", "9", "EDIT deniers", "NO_PERMISSIONS",
			http.MethodDelete, "/api/3.0/mlflow/roles/unassign", fmt.Sprintf(`{"username": "bob", "role_id": %d}`, roleID)},
		{"a grant before a deletion", "10", "NO_PERMISSIONS", "MANAGE",
			http.MethodPost, "/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "10", "username": "bob", "permission": "MANAGE"}`},
		{"a user's deletion and a new user of the name", "10", "MANAGE", "NO_PERMISSIONS",
			http.MethodDelete, "/api/2.0/mlflow/users/delete", `{"username": "bob"}`},
	}
}

// remembered checks that c's server remembers bob's decision on experiment 7:
// a grant written behind its back (no notification) is not seen.
func remembered(t *testing.T, db storage.Store, c restClient) {
	t.Helper()
	if got := c.decision("7"); got != "NO_PERMISSIONS" {
		t.Fatalf("bob on experiment 7: %s", got)
	}
	ctx := context.Background()
	bob, err := db.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGrant(ctx, bob.ID, permission.Resource{Type: permission.Experiment, ID: "7"}, permission.Read); err != nil {
		t.Fatal(err)
	}
	if got := c.decision("7"); got != "NO_PERMISSIONS" {
		t.Fatalf("a grant behind the server's back is seen at once (%s): nothing is remembered", got)
	}
}

// With lookups remembered for an hour, every permission change an admin makes
// through REST changes bob's decision on the next request to that server, on
// both backends.
func TestPermissionCacheSeesChangesAtOnce(t *testing.T) {
	ctx := context.Background()
	backends := map[string]func(t *testing.T) (servicetest.Database, usercache.Notifier){
		"sqlite": func(t *testing.T) (servicetest.Database, usercache.Notifier) {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, nil
		},
		"postgres": func(t *testing.T) (servicetest.Database, usercache.Notifier) {
			db := openPostgres(t, "")
			listen, stop := context.WithCancel(ctx)
			t.Cleanup(stop)
			n := db.Notifier(listen)
			listening(t, n)
			return db, n
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			db, n := open(t)
			s := servicetest.Start(t, servicetest.Options{Store: db, UserChanges: n, UserCacheTTL: time.Hour, CredentialCacheTTL: time.Hour,
				DefaultPermission: permission.NoPermissions})
			admin := restClient{t, s.URL, adminUser, adminPass}
			changes := permissionChanges(admin)

			remembered(t, db, admin)
			for _, c := range changes {
				if got := admin.decision(c.experiment); got != c.before {
					t.Fatalf("before %s: bob on experiment %s is %q, want %q", c.what, c.experiment, got, c.before)
				}
				admin.call(c.verb, c.path, c.body, nil)
				if c.path == "/api/2.0/mlflow/users/delete" {
					admin.call(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-2"}`, nil)
				}
				if got := admin.decision(c.experiment); got != c.after {
					t.Fatalf("after %s: bob on experiment %s is %q, want %q", c.what, c.experiment, got, c.after)
				}
			}
		})
	}
}

// Every permission change made on replica A changes bob's decision on replica
// B within a second, though B remembers lookups for an hour; the delays are logged.
func TestReplicasSeeEachOthersPermissionChanges(t *testing.T) {
	a, b, _, db := twoReplicasWith(t, servicetest.Options{DefaultPermission: permission.NoPermissions})
	onA, onB := restClient{t, a.URL, adminUser, adminPass}, restClient{t, b.URL, adminUser, adminPass}
	changes := permissionChanges(onA)
	remembered(t, db, onB)
	for _, c := range changes {
		if got := onB.decision(c.experiment); got != c.before {
			t.Fatalf("before %s: bob on experiment %s is %q on B, want %q", c.what, c.experiment, got, c.before)
		}
		changed := time.Now()
		onA.call(c.verb, c.path, c.body, nil)
		if c.path == "/api/2.0/mlflow/users/delete" {
			onA.call(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-2"}`, nil)
		}
		within1s(t, c.what, changed, func() bool { return onB.decision(c.experiment) == c.after })
	}
}

// A lost listener connection flushes the remembered permission lookups, since
// changes sent meanwhile are lost.
func TestLostListenerFlushesPermissions(t *testing.T) {
	a, b, schema, db := twoReplicas(t)
	ctx := context.Background()
	restClient{t, a.URL, adminUser, adminPass}.call(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-1"}`, nil)
	onB := restClient{t, b.URL, adminUser, adminPass}
	if got := onB.decision("7"); got != "READ" { // the replicas' default
		t.Fatalf("bob on experiment 7: %s", got)
	}
	bob, err := db.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// A change behind every cache's back (no NOTIFY): B keeps the old decision.
	if _, err := db.CreateGrant(ctx, bob.ID, permission.Resource{Type: permission.Experiment, ID: "7"}, permission.Manage); err != nil {
		t.Fatal(err)
	}
	if got := onB.decision("7"); got != "READ" {
		t.Fatalf("the old decision, remembered: %s", got)
	}
	cut := time.Now()
	if _, err := schema.Admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
		postgres.ListenerApplicationName); err != nil {
		t.Fatal(err)
	}
	within1s(t, "a lost listener connection", cut, func() bool { return onB.decision("7") == "MANAGE" })
}

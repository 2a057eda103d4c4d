// Package storagetest is the conformance suite every storage backend runs, and
// test helpers (FaultProxy) for checking how code behaves when a database fails.
//
// A backend's test calls Run with a function that makes a fresh, empty database:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storagetest.OpenFunc {
//			path := filepath.Join(t.TempDir(), "auth.db")
//			return func() (storagetest.Backend, error) { return sqlite.Open(path) }
//		})
//	}
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Backend is what the suite tests: a Store that migrates itself.
type Backend interface {
	storage.Store
	storage.Roles
	storage.Tokens
	storage.Audit
	storage.Migrator
}

// OpenFunc opens a new, unmigrated Store on one test's database. The suite may call
// it several times (several Stores on one database, as replicas would have) and
// closes every Store it gets.
type OpenFunc func() (Backend, error)

// NewDatabase creates a fresh, empty database for test t, removes it when t ends
// (t.Cleanup), and returns how to open Stores on it.
type NewDatabase func(t *testing.T) OpenFunc

// Run runs the conformance suite: every test gets its own database from newDB.
func Run(t *testing.T, newDB NewDatabase) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open OpenFunc)
	}{
		{"Migrate", testMigrate},
		{"MigrateConcurrently", testMigrateConcurrently},
		{"Ping", testPing},
		{"CreateUser", testCreateUser},
		{"CreateUserDuplicate", testCreateUserDuplicate},
		{"UserByNameMissing", testUserByNameMissing},
		{"ListUsers", testListUsers},
		{"SetPasswordHash", testSetPasswordHash},
		{"SetAdmin", testSetAdmin},
		{"SetAdminLastAdmin", testSetAdminLastAdmin},
		{"DeleteUser", testDeleteUser},
		{"DeleteUserLastAdmin", testDeleteUserLastAdmin},
		{"DeleteUserRemovesGrants", testDeleteUserRemovesGrants},
		{"CreateGrant", testCreateGrant},
		{"CreateGrantErrors", testCreateGrantErrors},
		{"GrantMissing", testGrantMissing},
		{"UpdateGrant", testUpdateGrant},
		{"DeleteGrant", testDeleteGrant},
		{"DeleteResourceGrants", testDeleteResourceGrants},
		{"MoveGrants", testMoveGrants},
		{"GrantsOfUsers", testGrantsOfUsers},
		{"GrantsOnResource", testGrantsOnResource},
		{"CreateBatch", testCreateBatch},
		{"CreateBatchAllOrNothing", testCreateBatchAllOrNothing},
		{"ConcurrentCreateUser", testConcurrentCreateUser},
		{"ConcurrentCreateGrant", testConcurrentCreateGrant},
		{"ConcurrentDemoteAdmins", testConcurrentDemoteAdmins},
		{"ConcurrentDeleteAdmins", testConcurrentDeleteAdmins},
		{"ConcurrentDemoteAndDeleteAdmins", testConcurrentDemoteAndDeleteAdmins},
		{"ConcurrentAdminRemovals", testConcurrentAdminRemovals},
		{"ConcurrentGrantAndDeleteUser", testConcurrentGrantAndDeleteUser},
		{"ConcurrentCreateBatch", testConcurrentCreateBatch},
	}
	tests = append(tests, roleTests...)
	tests = append(tests, tokenTests...)
	tests = append(tests, workspaceTests...)
	tests = append(tests, serviceAccountTests...)
	tests = append(tests, auditTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newDB(t))
		})
	}
}

// A migrated database answers Ping, whether or not it holds any user yet.
func testPing(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping of an empty database: %v", err)
	}
	mustCreateUser(t, s, "pinged", false)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// openStore opens a Store (unmigrated) and closes it when t ends.
func openStore(t *testing.T, open OpenFunc) Backend {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// migrated opens a Store and applies the migrations.
func migrated(t *testing.T, open OpenFunc) Backend {
	t.Helper()
	s := openStore(t, open)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func mustCreateUser(t *testing.T, s storage.Store, name string, admin bool) storage.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), name, "hash-of-"+name, admin)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func mustCreateGrant(t *testing.T, s storage.Store, u storage.User, r permission.Resource, l permission.Level) storage.Grant {
	t.Helper()
	g, err := s.CreateGrant(context.Background(), u.ID, r, l)
	if err != nil {
		t.Fatalf("CreateGrant(%d, %v, %s): %v", u.ID, r, l, err)
	}
	return g
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func wantAdmins(t *testing.T, s storage.Store, want int) {
	t.Helper()
	n, err := s.CountAdmins(context.Background())
	if err != nil {
		t.Fatalf("CountAdmins: %v", err)
	}
	if n != want {
		t.Fatalf("CountAdmins = %d, want %d", n, want)
	}
}

func userIDs(us []storage.User) []int32 {
	ids := make([]int32, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

func grantKeys(gs []storage.Grant) []string {
	keys := make([]string, len(gs))
	for i, g := range gs {
		keys[i] = fmt.Sprintf("%d/%s/%s/%s/%s", g.UserID, g.Username, g.Resource.Type, g.Resource.ID, g.Level)
	}
	return keys
}

func wantGrants(t *testing.T, what string, got, want []storage.Grant) {
	t.Helper()
	if g, w := grantKeys(got), grantKeys(want); !slices.Equal(g, w) {
		t.Fatalf("%s:\n got  %q\n want %q", what, g, w)
	}
}

func exp(id string) permission.Resource {
	return permission.Resource{Type: permission.Experiment, ID: id}
}

// --- migrations ---

func testMigrate(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := openStore(t, open)
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus before Migrate: %v", err)
	}
	if len(states) == 0 {
		t.Fatal("MigrationStatus lists no migrations")
	}
	for _, st := range states {
		if st.Applied {
			t.Errorf("fresh database: migration %d_%s is applied", st.Version, st.Name)
		}
	}
	for i := range 2 { // the second run finds nothing to do
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	wantAllApplied(t, s, len(states))
	mustCreateUser(t, s, "alice", true)
}

func wantAllApplied(t *testing.T, s Backend, n int) {
	t.Helper()
	states, err := s.MigrationStatus(context.Background())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(states) != n {
		t.Fatalf("MigrationStatus lists %d migrations, want %d", len(states), n)
	}
	for i, st := range states {
		if !st.Applied {
			t.Errorf("migration %d_%s not applied", st.Version, st.Name)
		}
		if i > 0 && st.Version <= states[i-1].Version {
			t.Errorf("migrations out of order: %d after %d", st.Version, states[i-1].Version)
		}
	}
}

// testMigrateConcurrently starts several "replicas" at once, each migrating from
// two goroutines: all must succeed and the schema must be applied once.
func testMigrateConcurrently(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	const stores, perStore = 4, 2
	ss := make([]Backend, stores)
	for i := range ss {
		ss[i] = openStore(t, open)
	}
	known, err := ss[0].MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	errs := make(chan error, stores*perStore)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range ss {
		for range perStore {
			wg.Go(func() {
				<-start
				errs <- s.Migrate(ctx)
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	for _, s := range ss {
		wantAllApplied(t, s, len(known))
	}
	// Each store sees the one schema: a user made through one is a duplicate for another.
	mustCreateUser(t, ss[0], "alice", true)
	_, err = ss[stores-1].CreateUser(ctx, "alice", "h", false)
	wantErr(t, "CreateUser through another store", err, storage.ErrAlreadyExists)
	if err := ss[1].Migrate(ctx); err != nil {
		t.Fatalf("Migrate after concurrent Migrate: %v", err)
	}
	wantAdmins(t, ss[2], 1)
}

// --- users ---

func testCreateUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	cases := []storage.User{
		{Username: "alice", PasswordHash: "scrypt:32768:8:1$salt$abc", IsAdmin: true},
		{Username: "bob", PasswordHash: "pbkdf2:sha256:600000$salt$def"},
		{Username: "Bob", PasswordHash: "h3"}, // names are case-sensitive
		{Username: "zoë 😀 o'brien", PasswordHash: "h4"},
	}
	for _, want := range cases {
		u, err := s.CreateUser(ctx, want.Username, want.PasswordHash, want.IsAdmin)
		if err != nil {
			t.Fatalf("CreateUser(%q): %v", want.Username, err)
		}
		if u.ID <= 0 {
			t.Errorf("CreateUser(%q): id %d, want > 0", want.Username, u.ID)
		}
		want.ID = u.ID
		if u != want {
			t.Errorf("CreateUser returned %+v, want %+v", u, want)
		}
		got, err := s.UserByName(ctx, want.Username)
		if err != nil {
			t.Fatalf("UserByName(%q): %v", want.Username, err)
		}
		if got != want {
			t.Errorf("UserByName returned %+v, want %+v", got, want)
		}
	}
	wantAdmins(t, s, 1)
}

func testCreateUserDuplicate(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	orig := mustCreateUser(t, s, "alice", false)
	_, err := s.CreateUser(ctx, "alice", "other", true)
	wantErr(t, "CreateUser duplicate", err, storage.ErrAlreadyExists)
	got, err := s.UserByName(ctx, "alice")
	if err != nil || got != orig {
		t.Fatalf("after duplicate: UserByName = %+v, %v; want %+v unchanged", got, err, orig)
	}
	users, err := s.ListUsers(ctx, 0, 0)
	if err != nil || len(users) != 1 {
		t.Fatalf("after duplicate: ListUsers = %+v, %v; want one user", users, err)
	}
	wantAdmins(t, s, 0)
}

func testUserByNameMissing(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	mustCreateUser(t, s, "alice", false)
	for _, name := range []string{"bob", "Alice", "alice ", ""} {
		_, err := s.UserByName(context.Background(), name)
		wantErr(t, fmt.Sprintf("UserByName(%q)", name), err, storage.ErrNotFound)
	}
}

func testListUsers(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	list := func(after int32, limit int) []storage.User {
		t.Helper()
		us, err := s.ListUsers(ctx, after, limit)
		if err != nil {
			t.Fatalf("ListUsers(%d, %d): %v", after, limit, err)
		}
		return us
	}
	if us := list(0, 0); len(us) != 0 {
		t.Fatalf("empty database: ListUsers = %+v", us)
	}
	var all []storage.User
	for _, name := range []string{"u-c", "u-a", "u-e", "u-b", "u-d"} { // id order is creation order, not name order
		all = append(all, mustCreateUser(t, s, name, name == "u-a"))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("ids not increasing: %v", userIDs(all))
		}
	}
	check := func(what string, got, want []storage.User) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
		}
	}
	check("all, limit 0", list(0, 0), all)
	check("all, limit -1", list(0, -1), all)
	check("limit larger than the table", list(0, 100), all)
	check("first page", list(0, 2), all[:2])
	check("second page", list(all[1].ID, 2), all[2:4])
	check("last page", list(all[3].ID, 2), all[4:])
	check("after the last id", list(all[4].ID, 2), nil)
	check("negative afterID", list(-5, 1), all[:1])

	// Paging walks every user exactly once.
	var walked []storage.User
	for after := int32(0); ; {
		page := list(after, 2)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
		after = page[len(page)-1].ID
	}
	check("walk by pages of 2", walked, all)
}

func testSetPasswordHash(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", true)
	bob := mustCreateUser(t, s, "bob", false)
	if err := s.SetPasswordHash(ctx, "alice", "new-hash"); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	alice.PasswordHash = "new-hash"
	if got, err := s.UserByName(ctx, "alice"); err != nil || got != alice {
		t.Fatalf("UserByName(alice) = %+v, %v; want %+v", got, err, alice)
	}
	if got, err := s.UserByName(ctx, "bob"); err != nil || got != bob {
		t.Fatalf("UserByName(bob) = %+v, %v; want %+v unchanged", got, err, bob)
	}
	wantErr(t, "SetPasswordHash(missing)", s.SetPasswordHash(ctx, "carol", "h"), storage.ErrNotFound)
}

func isAdmin(t *testing.T, s storage.Store, name string) bool {
	t.Helper()
	u, err := s.UserByName(context.Background(), name)
	if err != nil {
		t.Fatalf("UserByName(%q): %v", name, err)
	}
	return u.IsAdmin
}

func testSetAdmin(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "alice", false)
	mustCreateUser(t, s, "bob", false)

	// With no admin at all, demoting a non-admin is allowed (it changes nothing).
	if err := s.SetAdmin(ctx, "alice", false); err != nil {
		t.Fatalf("SetAdmin(alice, false) with no admins: %v", err)
	}
	if err := s.SetAdmin(ctx, "alice", true); err != nil {
		t.Fatalf("SetAdmin(alice, true): %v", err)
	}
	if !isAdmin(t, s, "alice") || isAdmin(t, s, "bob") {
		t.Fatal("promoting alice changed the wrong user")
	}
	wantAdmins(t, s, 1)
	if err := s.SetAdmin(ctx, "alice", true); err != nil { // idempotent
		t.Fatalf("SetAdmin(alice, true) again: %v", err)
	}
	wantAdmins(t, s, 1)
	if err := s.SetAdmin(ctx, "bob", false); err != nil { // a non-admin, while an admin exists
		t.Fatalf("SetAdmin(bob, false): %v", err)
	}
	if err := s.SetAdmin(ctx, "bob", true); err != nil {
		t.Fatalf("SetAdmin(bob, true): %v", err)
	}
	wantAdmins(t, s, 2)
	if err := s.SetAdmin(ctx, "alice", false); err != nil {
		t.Fatalf("SetAdmin(alice, false) with two admins: %v", err)
	}
	if isAdmin(t, s, "alice") || !isAdmin(t, s, "bob") {
		t.Fatal("demoting alice changed the wrong user")
	}
	wantAdmins(t, s, 1)
	wantErr(t, "SetAdmin(missing, true)", s.SetAdmin(ctx, "carol", true), storage.ErrNotFound)
	wantErr(t, "SetAdmin(missing, false)", s.SetAdmin(ctx, "carol", false), storage.ErrNotFound)
}

func testSetAdminLastAdmin(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "alice", true)
	mustCreateUser(t, s, "bob", false)
	wantErr(t, "SetAdmin(only admin, false)", s.SetAdmin(ctx, "alice", false), storage.ErrLastAdmin)
	if !isAdmin(t, s, "alice") {
		t.Fatal("refused demotion still demoted alice")
	}
	wantAdmins(t, s, 1)
	if err := s.SetAdmin(ctx, "bob", true); err != nil {
		t.Fatalf("SetAdmin(bob, true): %v", err)
	}
	if err := s.SetAdmin(ctx, "alice", false); err != nil {
		t.Fatalf("SetAdmin(alice, false) once bob is admin: %v", err)
	}
	wantErr(t, "SetAdmin(bob, false), now the only admin", s.SetAdmin(ctx, "bob", false), storage.ErrLastAdmin)
	wantAdmins(t, s, 1)
}

func testDeleteUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatalf("DeleteUser(bob): %v", err)
	}
	_, err := s.UserByName(ctx, "bob")
	wantErr(t, "UserByName after delete", err, storage.ErrNotFound)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, "bob"), storage.ErrNotFound)
	wantErr(t, "DeleteUser(missing)", s.DeleteUser(ctx, "dave"), storage.ErrNotFound)
	if got, err := s.UserByName(ctx, "carol"); err != nil || got != carol {
		t.Fatalf("UserByName(carol) = %+v, %v; want %+v", got, err, carol)
	}
	users, err := s.ListUsers(ctx, 0, 0)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if slices.Contains(userIDs(users), bob.ID) || len(users) != 2 {
		t.Fatalf("ListUsers after deleting bob: %+v", users)
	}
	// The name is free again; the new account is a new id.
	bob2 := mustCreateUser(t, s, "bob", false)
	if bob2.ID == bob.ID {
		t.Fatalf("re-created user reuses id %d", bob.ID)
	}
	// Deleting a non-admin is allowed even when no admin is left.
	if err := s.DeleteUser(ctx, "carol"); err != nil {
		t.Fatalf("DeleteUser(carol): %v", err)
	}
}

func testDeleteUserLastAdmin(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "alice", true)
	mustCreateUser(t, s, "bob", false)
	wantErr(t, "DeleteUser(only admin)", s.DeleteUser(ctx, "alice"), storage.ErrLastAdmin)
	if _, err := s.UserByName(ctx, "alice"); err != nil {
		t.Fatalf("refused delete removed alice: %v", err)
	}
	if err := s.SetAdmin(ctx, "bob", true); err != nil {
		t.Fatalf("SetAdmin(bob, true): %v", err)
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser(alice) with two admins: %v", err)
	}
	wantAdmins(t, s, 1)
	wantErr(t, "DeleteUser(bob), now the only admin", s.DeleteUser(ctx, "bob"), storage.ErrLastAdmin)
	wantAdmins(t, s, 1)
}

func testDeleteUserRemovesGrants(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	r := exp("1")
	mustCreateGrant(t, s, bob, r, permission.Manage)
	mustCreateGrant(t, s, bob, exp("2"), permission.Read)
	cg := mustCreateGrant(t, s, carol, r, permission.Edit)

	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatalf("DeleteUser(bob): %v", err)
	}
	got, err := s.GrantsOfUsers(ctx, []int32{bob.ID, carol.ID})
	if err != nil {
		t.Fatalf("GrantsOfUsers: %v", err)
	}
	wantGrants(t, "GrantsOfUsers after deleting bob", got, []storage.Grant{cg})
	got, err = s.GrantsOnResource(ctx, r, 0, 0)
	if err != nil {
		t.Fatalf("GrantsOnResource: %v", err)
	}
	wantGrants(t, "GrantsOnResource after deleting bob", got, []storage.Grant{cg})
	_, err = s.Grant(ctx, bob.ID, r)
	wantErr(t, "Grant of deleted user", err, storage.ErrNotFound)

	// A new account with the same name inherits nothing.
	bob2 := mustCreateUser(t, s, "bob", false)
	got, err = s.GrantsOfUsers(ctx, []int32{bob2.ID})
	if err != nil || len(got) != 0 {
		t.Fatalf("GrantsOfUsers(new bob) = %+v, %v; want none", got, err)
	}
}

// --- grants ---

func testCreateGrant(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	cases := []struct {
		u storage.User
		r permission.Resource
		l permission.Level
	}{
		{bob, exp("1"), permission.Read},
		{bob, exp("2"), permission.Manage},
		{bob, permission.Resource{Type: permission.RegisteredModel, ID: "1"}, permission.Edit}, // same id, other type
		{carol, exp("1"), permission.Use}, // same resource, other user
		{carol, permission.Resource{Type: permission.Prompt, ID: "my 'prompt' % _ ✓"}, permission.NoPermissions},
	}
	for _, c := range cases {
		want := storage.Grant{UserID: c.u.ID, Username: c.u.Username, Resource: c.r, Level: c.l}
		g, err := s.CreateGrant(ctx, c.u.ID, c.r, c.l)
		if err != nil {
			t.Fatalf("CreateGrant(%s, %v): %v", c.u.Username, c.r, err)
		}
		if g != want {
			t.Errorf("CreateGrant returned %+v, want %+v", g, want)
		}
		got, err := s.Grant(ctx, c.u.ID, c.r)
		if err != nil {
			t.Fatalf("Grant(%s, %v): %v", c.u.Username, c.r, err)
		}
		if got != want {
			t.Errorf("Grant returned %+v, want %+v", got, want)
		}
	}
}

func testCreateGrantErrors(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	bob := mustCreateUser(t, s, "bob", false)
	r := exp("1")
	orig := mustCreateGrant(t, s, bob, r, permission.Read)
	_, err := s.CreateGrant(ctx, bob.ID, r, permission.Manage)
	wantErr(t, "CreateGrant duplicate", err, storage.ErrAlreadyExists)
	if got, err := s.Grant(ctx, bob.ID, r); err != nil || got != orig {
		t.Fatalf("after duplicate: Grant = %+v, %v; want %+v unchanged", got, err, orig)
	}
	_, err = s.CreateGrant(ctx, bob.ID+1000, r, permission.Read)
	wantErr(t, "CreateGrant for a nonexistent user id", err, storage.ErrNotFound)
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatalf("DeleteUser(bob): %v", err)
	}
	_, err = s.CreateGrant(ctx, bob.ID, exp("2"), permission.Read)
	wantErr(t, "CreateGrant for a deleted user", err, storage.ErrNotFound)
}

func testGrantMissing(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	bob := mustCreateUser(t, s, "bob", false)
	mustCreateGrant(t, s, bob, exp("1"), permission.Read)
	for _, c := range []struct {
		user int32
		r    permission.Resource
	}{
		{bob.ID, exp("2")},
		{bob.ID, exp("")},
		{bob.ID, permission.Resource{Type: permission.RegisteredModel, ID: "1"}},
		{bob.ID + 1000, exp("1")},
	} {
		_, err := s.Grant(ctx, c.user, c.r)
		wantErr(t, fmt.Sprintf("Grant(%d, %v)", c.user, c.r), err, storage.ErrNotFound)
	}
}

func testUpdateGrant(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	r := exp("1")
	mustCreateGrant(t, s, bob, r, permission.Read)
	other := mustCreateGrant(t, s, carol, r, permission.Read)
	g, err := s.UpdateGrant(ctx, bob.ID, r, permission.Manage)
	if err != nil {
		t.Fatalf("UpdateGrant: %v", err)
	}
	want := storage.Grant{UserID: bob.ID, Username: "bob", Resource: r, Level: permission.Manage}
	if g != want {
		t.Fatalf("UpdateGrant returned %+v, want %+v", g, want)
	}
	if got, err := s.Grant(ctx, bob.ID, r); err != nil || got != want {
		t.Fatalf("Grant after update = %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.Grant(ctx, carol.ID, r); err != nil || got != other {
		t.Fatalf("carol's grant = %+v, %v; want %+v unchanged", got, err, other)
	}
	_, err = s.UpdateGrant(ctx, bob.ID, exp("2"), permission.Edit)
	wantErr(t, "UpdateGrant(missing resource)", err, storage.ErrNotFound)
	_, err = s.UpdateGrant(ctx, bob.ID+1000, r, permission.Edit)
	wantErr(t, "UpdateGrant(missing user)", err, storage.ErrNotFound)
	_, err = s.Grant(ctx, bob.ID, exp("2"))
	wantErr(t, "UpdateGrant must not create a grant", err, storage.ErrNotFound)
}

func testDeleteGrant(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	r := exp("1")
	mustCreateGrant(t, s, bob, r, permission.Read)
	keep1 := mustCreateGrant(t, s, bob, exp("2"), permission.Read)
	keep2 := mustCreateGrant(t, s, carol, r, permission.Read)
	if err := s.DeleteGrant(ctx, bob.ID, r); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	_, err := s.Grant(ctx, bob.ID, r)
	wantErr(t, "Grant after delete", err, storage.ErrNotFound)
	wantErr(t, "DeleteGrant twice", s.DeleteGrant(ctx, bob.ID, r), storage.ErrNotFound)
	wantErr(t, "DeleteGrant(missing user)", s.DeleteGrant(ctx, bob.ID+1000, r), storage.ErrNotFound)
	got, err := s.GrantsOfUsers(ctx, []int32{bob.ID, carol.ID})
	if err != nil {
		t.Fatalf("GrantsOfUsers: %v", err)
	}
	wantGrants(t, "grants left", got, []storage.Grant{keep1, keep2})
	// A deleted grant can be created again.
	mustCreateGrant(t, s, bob, r, permission.Edit)
}

func testDeleteResourceGrants(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	model := permission.Resource{Type: permission.RegisteredModel, ID: "m"}
	mustCreateGrant(t, s, bob, model, permission.Manage)
	mustCreateGrant(t, s, carol, model, permission.Read)
	keep := mustCreateGrant(t, s, bob, permission.Resource{Type: permission.RegisteredModel, ID: "m2"}, permission.Read)
	keepOtherType := mustCreateGrant(t, s, carol, exp("m"), permission.Read)
	if err := s.DeleteResourceGrants(ctx, model); err != nil {
		t.Fatalf("DeleteResourceGrants: %v", err)
	}
	if err := s.DeleteResourceGrants(ctx, model); err != nil {
		t.Fatalf("DeleteResourceGrants with nothing to delete: %v", err)
	}
	got, err := s.GrantsOfUsers(ctx, []int32{bob.ID, carol.ID})
	if err != nil {
		t.Fatalf("GrantsOfUsers: %v", err)
	}
	wantGrants(t, "grants left", got, []storage.Grant{keep, keepOtherType})
}

func testMoveGrants(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	bob := mustCreateUser(t, s, "bob", false)
	carol := mustCreateUser(t, s, "carol", false)
	dave := mustCreateUser(t, s, "dave", false)
	erin := mustCreateUser(t, s, "erin", false)
	from := permission.Resource{Type: permission.RegisteredModel, ID: "old"}
	to := permission.Resource{Type: permission.RegisteredModel, ID: "new"}
	mustCreateGrant(t, s, bob, from, permission.Manage)
	mustCreateGrant(t, s, carol, from, permission.Read)
	mustCreateGrant(t, s, dave, from, permission.Read)
	mustCreateGrant(t, s, carol, to, permission.Edit) // loses to the grant that moves
	mustCreateGrant(t, s, erin, to, permission.Read)  // stays
	untouched := mustCreateGrant(t, s, dave, exp("old"), permission.Read)
	read, err := s.GrantsOnResource(ctx, from, 0, 0)
	if err != nil {
		t.Fatalf("GrantsOnResource: %v", err)
	}
	// Since they were read: dave's grant changed, and a new one was made on the old name.
	if _, err := s.UpdateGrant(ctx, dave.ID, from, permission.Manage); err != nil {
		t.Fatalf("UpdateGrant: %v", err)
	}
	made := mustCreateGrant(t, s, erin, from, permission.Manage)
	if err := s.MoveGrants(ctx, read, to); err != nil {
		t.Fatalf("MoveGrants: %v", err)
	}
	onNew, err := s.GrantsOnResource(ctx, to, 0, 0)
	if err != nil {
		t.Fatalf("GrantsOnResource: %v", err)
	}
	wantGrants(t, "grants on the new name", onNew, []storage.Grant{
		{UserID: bob.ID, Username: "bob", Resource: to, Level: permission.Manage},
		{UserID: carol.ID, Username: "carol", Resource: to, Level: permission.Read},
		{UserID: erin.ID, Username: "erin", Resource: to, Level: permission.Read},
	})
	onOld, err := s.GrantsOnResource(ctx, from, 0, 0)
	if err != nil {
		t.Fatalf("GrantsOnResource: %v", err)
	}
	wantGrants(t, "grants left on the old name", onOld, []storage.Grant{
		{UserID: dave.ID, Username: "dave", Resource: from, Level: permission.Manage}, made,
	})
	if g, err := s.Grant(ctx, dave.ID, exp("old")); err != nil || g != untouched {
		t.Fatalf("a grant of another type moved: %v %v", g, err)
	}
	if err := s.MoveGrants(ctx, onNew, exp("x")); err == nil {
		t.Fatal("MoveGrants across types succeeded")
	}
	if err := s.MoveGrants(ctx, nil, to); err != nil {
		t.Fatalf("MoveGrants of nothing: %v", err)
	}
}

func testGrantsOfUsers(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	a := mustCreateUser(t, s, "a", false)
	b := mustCreateUser(t, s, "b", false)
	c := mustCreateUser(t, s, "c", false)
	model := func(id string) permission.Resource {
		return permission.Resource{Type: permission.RegisteredModel, ID: id}
	}
	// Created out of order; expected order is user id, then type, then resource id,
	// compared byte by byte ("10" < "9" < "B" < "a").
	mustCreateGrant(t, s, b, exp("x"), permission.Read)
	mustCreateGrant(t, s, a, model("m"), permission.Read)
	mustCreateGrant(t, s, a, exp("a"), permission.Read)
	mustCreateGrant(t, s, a, exp("9"), permission.Edit)
	mustCreateGrant(t, s, a, exp("B"), permission.Use)
	mustCreateGrant(t, s, a, exp("10"), permission.Manage)
	mustCreateGrant(t, s, c, exp("1"), permission.Read)
	g := func(u storage.User, r permission.Resource, l permission.Level) storage.Grant {
		return storage.Grant{UserID: u.ID, Username: u.Username, Resource: r, Level: l}
	}
	aGrants := []storage.Grant{
		g(a, exp("10"), permission.Manage),
		g(a, exp("9"), permission.Edit),
		g(a, exp("B"), permission.Use),
		g(a, exp("a"), permission.Read),
		g(a, model("m"), permission.Read),
	}
	bGrants := []storage.Grant{g(b, exp("x"), permission.Read)}
	cGrants := []storage.Grant{g(c, exp("1"), permission.Read)}

	check := func(ids []int32, want []storage.Grant) {
		t.Helper()
		got, err := s.GrantsOfUsers(ctx, ids)
		if err != nil {
			t.Fatalf("GrantsOfUsers(%v): %v", ids, err)
		}
		wantGrants(t, fmt.Sprintf("GrantsOfUsers(%v)", ids), got, want)
	}
	check([]int32{a.ID}, aGrants)
	check([]int32{c.ID, a.ID}, slices.Concat(aGrants, cGrants)) // ordered by user, not by argument
	check([]int32{a.ID, b.ID, c.ID, c.ID + 1000}, slices.Concat(aGrants, bGrants, cGrants))
	check([]int32{c.ID + 1000}, nil)
	check(nil, nil)
	check([]int32{}, nil)
}

func testGrantsOnResource(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	r := exp("1")
	var want []storage.Grant
	var users []storage.User
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		users = append(users, mustCreateUser(t, s, name, false))
	}
	// Create the grants in reverse user order; results come in user id order.
	for i := len(users) - 1; i >= 0; i-- {
		if i == 2 {
			continue // u3 has no grant on r
		}
		mustCreateGrant(t, s, users[i], r, permission.Read)
	}
	for i, u := range users {
		if i != 2 {
			want = append(want, storage.Grant{UserID: u.ID, Username: u.Username, Resource: r, Level: permission.Read})
		}
	}
	// Noise: other resources that must not match.
	mustCreateGrant(t, s, users[2], exp("10"), permission.Read)
	mustCreateGrant(t, s, users[2], exp(""), permission.Read)
	mustCreateGrant(t, s, users[2], permission.Resource{Type: permission.RegisteredModel, ID: "1"}, permission.Read)

	list := func(after int32, limit int) []storage.Grant {
		t.Helper()
		gs, err := s.GrantsOnResource(ctx, r, after, limit)
		if err != nil {
			t.Fatalf("GrantsOnResource(%d, %d): %v", after, limit, err)
		}
		return gs
	}
	wantGrants(t, "all, limit 0", list(0, 0), want)
	wantGrants(t, "all, limit -1", list(0, -1), want)
	wantGrants(t, "first page", list(0, 2), want[:2])
	wantGrants(t, "second page", list(want[1].UserID, 2), want[2:4])
	wantGrants(t, "afterUserID without a grant", list(users[2].ID, 1), want[2:3])
	wantGrants(t, "after the last", list(want[3].UserID, 0), nil)
	var walked []storage.Grant
	for after := int32(0); ; {
		page := list(after, 3)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
		after = page[len(page)-1].UserID
	}
	wantGrants(t, "walk by pages of 3", walked, want)
	gs, err := s.GrantsOnResource(ctx, exp("2"), 0, 0)
	if err != nil || len(gs) != 0 {
		t.Fatalf("GrantsOnResource(no grants) = %+v, %v", gs, err)
	}
}

// --- batches ---

func batchUser(name string, admin bool) storage.User {
	return storage.User{Username: name, PasswordHash: "hash-of-" + name, IsAdmin: admin}
}

func batchGrant(username string, r permission.Resource, l permission.Level) storage.Grant {
	return storage.Grant{Username: username, Resource: r, Level: l}
}

// snapshot is every user and grant, to check that a refused batch left no trace.
func snapshot(t *testing.T, s storage.Store) ([]storage.User, []string) {
	t.Helper()
	ctx := context.Background()
	users, err := s.ListUsers(ctx, 0, 0)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	grants, err := s.GrantsOfUsers(ctx, userIDs(users))
	if err != nil {
		t.Fatalf("GrantsOfUsers: %v", err)
	}
	return users, grantKeys(grants)
}

func testCreateBatch(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	carol := mustCreateUser(t, s, "carol", false)
	if err := s.CreateBatch(ctx, storage.Batch{}); err != nil {
		t.Fatalf("CreateBatch(empty): %v", err)
	}
	scorer := permission.ScorerResource("1", "my scorer/x")
	b := storage.Batch{
		Users: []storage.User{
			{ID: 999, Username: "alice", PasswordHash: "scrypt:32768:8:1$salt$abc", IsAdmin: true}, // ID is ignored
			{Username: "bob", PasswordHash: "pbkdf2:sha256:600000$salt$def"},
		},
		Grants: []storage.Grant{
			batchGrant("alice", exp("1"), permission.Manage),
			batchGrant("bob", permission.Resource{Type: permission.RegisteredModel, ID: "model a"}, permission.Read),
			batchGrant("bob", scorer, permission.Edit),
			{UserID: 999, Username: "carol", Resource: exp("1"), Level: permission.NoPermissions}, // an existing user; UserID is ignored
		},
	}
	if err := s.CreateBatch(ctx, b); err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	var ids []int32
	for _, want := range b.Users {
		got, err := s.UserByName(ctx, want.Username)
		if err != nil {
			t.Fatalf("UserByName(%q): %v", want.Username, err)
		}
		if got.ID == want.ID || got.PasswordHash != want.PasswordHash || got.IsAdmin != want.IsAdmin {
			t.Errorf("UserByName(%q) = %+v, want %+v with a new id", want.Username, got, want)
		}
		ids = append(ids, got.ID)
	}
	alice, bob := storage.User{ID: ids[0], Username: "alice"}, storage.User{ID: ids[1], Username: "bob"}
	g := func(u storage.User, r permission.Resource, l permission.Level) storage.Grant {
		return storage.Grant{UserID: u.ID, Username: u.Username, Resource: r, Level: l}
	}
	got, err := s.GrantsOfUsers(ctx, []int32{carol.ID, alice.ID, bob.ID})
	if err != nil {
		t.Fatalf("GrantsOfUsers: %v", err)
	}
	wantGrants(t, "grants after CreateBatch", got, []storage.Grant{
		g(carol, exp("1"), permission.NoPermissions),
		g(alice, exp("1"), permission.Manage),
		g(bob, permission.Resource{Type: permission.RegisteredModel, ID: "model a"}, permission.Read),
		g(bob, scorer, permission.Edit),
	})
	wantAdmins(t, s, 1)
}

// testCreateBatchAllOrNothing sends batches that fail part-way through: each
// must be refused with the right error and leave the database as it was.
func testCreateBatchAllOrNothing(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	carol := mustCreateUser(t, s, "carol", true)
	mustCreateGrant(t, s, carol, exp("1"), permission.Read)
	users, grants := snapshot(t, s)
	for _, c := range []struct {
		name string
		b    storage.Batch
		want error
	}{
		{"existing user in the middle", storage.Batch{
			Users:  []storage.User{batchUser("u1", true), batchUser("carol", false), batchUser("u2", false)},
			Grants: []storage.Grant{batchGrant("u1", exp("1"), permission.Read)},
		}, storage.ErrAlreadyExists},
		{"existing grant in the middle", storage.Batch{
			Users: []storage.User{batchUser("u1", false)},
			Grants: []storage.Grant{
				batchGrant("u1", exp("1"), permission.Read),
				batchGrant("carol", exp("1"), permission.Manage),
				batchGrant("u1", exp("2"), permission.Read),
			},
		}, storage.ErrAlreadyExists},
		{"grant to a missing user in the middle", storage.Batch{
			Users: []storage.User{batchUser("u1", false)},
			Grants: []storage.Grant{
				batchGrant("carol", exp("2"), permission.Read),
				batchGrant("nobody", exp("1"), permission.Read),
				batchGrant("u1", exp("3"), permission.Read),
			},
		}, storage.ErrNotFound},
		{"user twice in the batch", storage.Batch{
			Users: []storage.User{batchUser("u1", false), batchUser("u1", true)},
		}, storage.ErrAlreadyExists},
		{"grant twice in the batch", storage.Batch{
			Grants: []storage.Grant{batchGrant("carol", exp("5"), permission.Read), batchGrant("carol", exp("5"), permission.Edit)},
		}, storage.ErrAlreadyExists},
	} {
		wantErr(t, c.name, s.CreateBatch(ctx, c.b), c.want)
		gotUsers, gotGrants := snapshot(t, s)
		if !slices.Equal(gotUsers, users) || !slices.Equal(gotGrants, grants) {
			t.Fatalf("%s: the refused batch left changes:\n users  %+v\n grants %q\nwant\n users  %+v\n grants %q",
				c.name, gotUsers, gotGrants, users, grants)
		}
	}
	// The store is still usable: no transaction was left open.
	if err := s.CreateBatch(ctx, storage.Batch{
		Users:  []storage.User{batchUser("u1", false)},
		Grants: []storage.Grant{batchGrant("u1", exp("1"), permission.Read)},
	}); err != nil {
		t.Fatalf("CreateBatch after refused batches: %v", err)
	}
}

// --- concurrency ---

// race runs fn(i) for i in [0, n) in n goroutines released at once and returns
// their errors in order.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner checks that exactly one error is nil and every other one is loser.
func wantOneWinner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("%s: goroutines %d and %d both succeeded", what, winner, i)
		case !errors.Is(err, loser):
			t.Errorf("%s: goroutine %d: %v, want nil or %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Errorf("%s: nobody succeeded", what)
	}
	return winner
}

func testConcurrentCreateUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	stores := []Backend{migrated(t, open), openStore(t, open)}
	errs := race(20, func(i int) error {
		_, err := stores[i%2].CreateUser(ctx, "alice", fmt.Sprint("hash", i), false)
		return err
	})
	wantOneWinner(t, "20 × CreateUser(alice)", errs, storage.ErrAlreadyExists)
	users, err := stores[0].ListUsers(ctx, 0, 0)
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers = %+v, %v; want one user", users, err)
	}
}

func testConcurrentCreateGrant(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	stores := []Backend{migrated(t, open), openStore(t, open)}
	bob := mustCreateUser(t, stores[0], "bob", false)
	levels := []permission.Level{permission.Read, permission.Edit, permission.Manage}
	errs := race(20, func(i int) error {
		_, err := stores[i%2].CreateGrant(ctx, bob.ID, exp("1"), levels[i%len(levels)])
		return err
	})
	winner := wantOneWinner(t, "20 × CreateGrant(bob, experiment 1)", errs, storage.ErrAlreadyExists)
	gs, err := stores[1].GrantsOfUsers(ctx, []int32{bob.ID})
	if err != nil || len(gs) != 1 {
		t.Fatalf("GrantsOfUsers = %+v, %v; want one grant", gs, err)
	}
	if winner >= 0 && gs[0].Level != levels[winner%len(levels)] {
		t.Errorf("stored level %s, but the winner wrote %s", gs[0].Level, levels[winner%len(levels)])
	}
}

// adminRace runs rounds where the only two admins are removed at the same time
// through two Stores (two replicas): exactly one removal must win, and one admin
// must remain.
func adminRace(t *testing.T, open OpenFunc, remove [2]func(s storage.Store, name string) error) {
	ctx := context.Background()
	stores := [2]Backend{migrated(t, open), openStore(t, open)}
	const rounds = 15
	mustCreateUser(t, stores[0], "admin-0", true)
	for round := range rounds {
		// Before the round: exactly two admins, admin-<round> and admin-<round+1>.
		names := [2]string{fmt.Sprint("admin-", round), fmt.Sprint("admin-", round+1)}
		mustCreateUser(t, stores[0], names[1], true)
		wantAdmins(t, stores[1], 2)
		errs := race(2, func(i int) error { return remove[i](stores[i], names[i]) })
		winner := wantOneWinner(t, fmt.Sprintf("round %d", round), errs, storage.ErrLastAdmin)
		wantAdmins(t, stores[0], 1)
		if t.Failed() {
			return
		}
		// Keep admin-<round+1> as the survivor for the next round.
		if winner == 1 {
			// names[1] lost its admin flag or its account; give the role back to it.
			err := stores[0].SetAdmin(ctx, names[1], true)
			if errors.Is(err, storage.ErrNotFound) {
				mustCreateUser(t, stores[0], names[1], true)
			} else if err != nil {
				t.Fatalf("SetAdmin(%s, true): %v", names[1], err)
			}
			if err := stores[0].SetAdmin(ctx, names[0], false); err != nil {
				t.Fatalf("SetAdmin(%s, false): %v", names[0], err)
			}
		}
		wantAdmins(t, stores[1], 1)
	}
}

func demote(s storage.Store, name string) error {
	return s.SetAdmin(context.Background(), name, false)
}

func deleteUser(s storage.Store, name string) error {
	return s.DeleteUser(context.Background(), name)
}

func testConcurrentDemoteAdmins(t *testing.T, open OpenFunc) {
	adminRace(t, open, [2]func(storage.Store, string) error{demote, demote})
}

func testConcurrentDeleteAdmins(t *testing.T, open OpenFunc) {
	adminRace(t, open, [2]func(storage.Store, string) error{deleteUser, deleteUser})
}

func testConcurrentDemoteAndDeleteAdmins(t *testing.T, open OpenFunc) {
	adminRace(t, open, [2]func(storage.Store, string) error{demote, deleteUser})
}

// testConcurrentAdminRemovals has 16 callers on two Stores demote and delete the
// same few admins at once, round after round. Each call succeeds or is refused
// for a reason the caller can act on (the last admin, a user already gone),
// never with a database error such as a deadlock, and an admin always remains.
func testConcurrentAdminRemovals(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	stores := []Backend{migrated(t, open), openStore(t, open)}
	const rounds, callers, newAdmins = 10, 16, 4
	for round := range rounds {
		for i := range newAdmins {
			mustCreateUser(t, stores[0], fmt.Sprintf("admin-%d-%d", round, i), true)
		}
		users, err := stores[0].ListUsers(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var admins []string
		for _, u := range users {
			if u.IsAdmin {
				admins = append(admins, u.Username)
			}
		}
		errs := race(callers, func(i int) error {
			name := admins[i%len(admins)]
			if i%2 == 0 {
				return demote(stores[i%2], name)
			}
			return deleteUser(stores[(i/2)%2], name)
		})
		for i, err := range errs {
			if err != nil && !errors.Is(err, storage.ErrLastAdmin) && !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("round %d, caller %d: %v", round, i, err)
			}
		}
		if n, err := stores[1].CountAdmins(ctx); err != nil || n < 1 {
			t.Fatalf("after round %d: %d admins, %v", round, n, err)
		}
	}
}

// testConcurrentGrantAndDeleteUser grants to a user while deleting them: either
// order is fine, but no grant may outlive its user.
// testConcurrentCreateBatch runs the same import from two replicas at once:
// exactly one lands, the others are refused whole.
func testConcurrentCreateBatch(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	stores := []Backend{migrated(t, open), openStore(t, open)}
	mustCreateUser(t, stores[0], "carol", false)
	b := storage.Batch{
		Users: []storage.User{batchUser("a", false), batchUser("b", true)},
		Grants: []storage.Grant{
			batchGrant("a", exp("1"), permission.Read),
			batchGrant("b", exp("1"), permission.Manage),
			batchGrant("carol", exp("2"), permission.Edit),
		},
	}
	errs := race(8, func(i int) error { return stores[i%2].CreateBatch(ctx, b) })
	wantOneWinner(t, "8 × CreateBatch", errs, storage.ErrAlreadyExists)
	users, grants := snapshot(t, stores[1])
	if len(users) != 3 || len(grants) != 3 {
		t.Fatalf("after the race: users %+v, grants %q; want 3 users and 3 grants", users, grants)
	}
	wantAdmins(t, stores[0], 1)
}

func testConcurrentGrantAndDeleteUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	stores := []Backend{migrated(t, open), openStore(t, open)}
	var ids []int32
	for round := range 10 {
		u := mustCreateUser(t, stores[0], fmt.Sprint("user-", round), false)
		ids = append(ids, u.ID)
		errs := race(5, func(i int) error {
			if i == 0 {
				return stores[0].DeleteUser(ctx, u.Username)
			}
			_, err := stores[1].CreateGrant(ctx, u.ID, exp(fmt.Sprint(i)), permission.Read)
			if errors.Is(err, storage.ErrNotFound) {
				return nil // the user was already gone
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, goroutine %d: %v", round, i, err)
			}
		}
	}
	gs, err := stores[0].GrantsOfUsers(ctx, ids)
	if err != nil || len(gs) != 0 {
		t.Fatalf("GrantsOfUsers(deleted users) = %+v, %v; want none", gs, err)
	}
}

// MLflowUsersTable is MLflow's basic-auth users table, as its migrations make
// it (in SQL both backends take).
const MLflowUsersTable = `CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, username VARCHAR(255) UNIQUE,
	password_hash VARCHAR(255), is_admin BOOLEAN)`

// WantForeignTablesRefused checks that Migrate on s, whose database holds
// MLflowUsersTable and nothing of mlflow-auth's, refuses in words that say why
// and applies no migration.
func WantForeignTablesRefused(t *testing.T, s Backend) {
	t.Helper()
	ctx := context.Background()
	err := s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "tables that mlflow-auth did not make (users)") ||
		!strings.Contains(err.Error(), "MLflow's own database") {
		t.Fatalf("Migrate on a database with MLflow's users table: %v", err)
	}
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.Applied {
			t.Errorf("migration %d_%s was applied", st.Version, st.Name)
		}
	}
}

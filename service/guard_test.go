package service

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// migratedSQLite is a fresh SQLite store with the schema, closed when tb ends.
func migratedSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "auth.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// countingStore counts the grant reads of the store it wraps.
type countingStore struct {
	storage.Store
	points, bulks atomic.Int32
}

func (s *countingStore) Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error) {
	s.points.Add(1)
	return s.Store.Grant(ctx, userID, r)
}

func (s *countingStore) GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error) {
	s.bulks.Add(1)
	return s.Store.GrantsOfUsers(ctx, userIDs)
}

// The proxy's resolver gives each resource its direct grant or the default, looking
// the first few up one by one and then loading all of the user's grants once.
func TestGuardPermissions(t *testing.T) {
	ctx := context.Background()
	db := migratedSQLite(t)
	alice, err := db.CreateUser(ctx, "alice", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	exp := func(i int) permission.Resource {
		return permission.Resource{Type: permission.Experiment, ID: fmt.Sprint(i)}
	}
	want := map[permission.Resource]permission.Level{}
	for i := range 30 {
		want[exp(i)] = permission.Read // the default
		if i%3 == 0 {
			levels := []permission.Level{permission.Manage, permission.Edit, permission.NoPermissions}
			want[exp(i)] = levels[i%9/3]
			if _, err := db.CreateGrant(ctx, alice.ID, exp(i), want[exp(i)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	store := &countingStore{Store: db}
	g := guard{&core{store: store, defaultLevel: permission.Read}}

	level := g.Permissions(ctx, alice)
	check := func(i int) {
		t.Helper()
		if l, err := level(exp(i)); err != nil || l != want[exp(i)] {
			t.Errorf("experiment %d: %v, %v; want %v", i, l, err, want[exp(i)])
		}
	}
	for i := range pointLookups {
		check(i)
		check(i) // remembered, not asked again
	}
	if p, b := store.points.Load(), store.bulks.Load(); p != pointLookups || b != 0 {
		t.Errorf("after %d resources: %d point lookups, %d loads", pointLookups, p, b)
	}
	for i := pointLookups; i < 30; i++ {
		check(i)
	}
	for i := range 30 {
		check(i)
	}
	if p, b := store.points.Load(), store.bulks.Load(); p != pointLookups || b != 1 {
		t.Errorf("after 30 resources: %d point lookups, %d loads", p, b)
	}

	admin := g.Permissions(ctx, storage.User{ID: 99, Username: "root", IsAdmin: true})
	if l, err := admin(exp(3)); err != nil || l != permission.Manage {
		t.Errorf("admin: %v, %v", l, err)
	}
}

// When the database goes away mid-request, the resolver's error reaches the proxy
// as MLflow's 503 TEMPORARILY_UNAVAILABLE, in both of its ways of asking.
func TestGuardPermissionsOutage(t *testing.T) {
	_, proxied, proxy := storagetest.NewCuttablePostgres(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, proxied)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	alice, err := db.CreateUser(ctx, "alice", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	g := guard{&core{store: db, defaultLevel: permission.Read}}
	level := g.Permissions(ctx, alice)
	proxy.Cut()
	for i := range pointLookups + 1 { // the last one loads all grants
		_, err := level(permission.Resource{Type: permission.Experiment, ID: fmt.Sprint(i)})
		var e interface{ MLflowError() (int, string, string) }
		if !errors.As(err, &e) {
			t.Fatalf("lookup %d: %v", i, err)
		}
		if status, code, _ := e.MLflowError(); status != 503 || code != "TEMPORARILY_UNAVAILABLE" {
			t.Errorf("lookup %d: %d %s", i, status, code)
		}
	}
}

// Resources named by a proxied MLflow request are held to the API's bounds, so
// text Postgres cannot store is a 400 on both backends instead of a 500.
func TestGuardPermissionsRefuseUnstorableIDs(t *testing.T) {
	ctx := context.Background()
	pg, err := postgres.Open(ctx, storagetest.NewPostgresSchema(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if err := pg.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]storage.Store{"sqlite": migratedSQLite(t), "postgres": pg} {
		alice, err := db.CreateUser(ctx, "alice", "x", false)
		if err != nil {
			t.Fatal(err)
		}
		level := guard{&core{store: db, defaultLevel: permission.Read}}.Permissions(ctx, alice)
		for _, r := range []permission.Resource{
			{Type: permission.Experiment, ID: "1\x00"},
			{Type: permission.RegisteredModel, ID: "caf\xe9"},
			{Type: permission.Prompt, ID: string(make([]byte, 300))},
			permission.ScorerResource("1", string(make([]byte, 300))),
		} {
			_, err := level(r)
			var e interface{ MLflowError() (int, string, string) }
			if !errors.As(err, &e) {
				t.Fatalf("%s %q: %v", name, r, err)
			}
			if status, code, _ := e.MLflowError(); status != 400 || code != "INVALID_PARAMETER_VALUE" {
				t.Errorf("%s %q: %d %s", name, r, status, code)
			}
		}
	}
}

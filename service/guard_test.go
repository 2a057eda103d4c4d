package service

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

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
	g := guard{&core{store: db, resolver: resolve.New(db, permission.Read)}}
	level := g.Permissions(ctx, alice)
	proxy.Cut()
	for i := range resolve.PointLookups + 1 { // the last one loads all grants
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
	for name, db := range map[string]storagetest.Backend{"sqlite": storagetest.NewSQLite(t), "postgres": pg} {
		alice, err := db.CreateUser(ctx, "alice", "x", false)
		if err != nil {
			t.Fatal(err)
		}
		level := guard{&core{store: db, resolver: resolve.New(db, permission.Read)}}.Permissions(ctx, alice)
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

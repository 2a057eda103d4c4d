package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testURLEnv names the database the tests may use freely: each test makes its own
// schema in it and drops it afterwards.
const testURLEnv = "MLFLOW_AUTH_TEST_DATABASE_URL"

// PostgresURL returns the test database URL, skipping the test when there is none,
// or failing it in CI (env CI set), where a missing Postgres is a broken setup.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(testURLEnv)
	if u == "" {
		msg := testURLEnv + " is not set. To run the Postgres tests, point it at a database they may use freely, e.g.\n" +
			"  pg_virtualenv -v 15 -- bash -c 'export " + testURLEnv + "=\"postgres://$PGUSER:$PGPASSWORD@127.0.0.1:$PGPORT/$PGDATABASE?sslmode=disable\"; go test -race ./storage/...'"
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set, so the Postgres tests must run: " + msg)
		}
		t.Skip(msg)
	}
	return u
}

// PostgresSchema is one test's private schema in the test database.
type PostgresSchema struct {
	Admin *pgxpool.Pool // the test database, outside the schema
	Name  string
	URL   string // the test database URL with search_path set to the schema
}

// NewPostgresSchema creates a fresh, empty schema and drops it when t ends.
func NewPostgresSchema(t testing.TB) *PostgresSchema {
	t.Helper()
	base := PostgresURL(t)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", testURLEnv, err)
	}
	t.Cleanup(admin.Close)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "mlflow_auth_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", testURLEnv)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return &PostgresSchema{Admin: admin, Name: schema, URL: u.String()}
}

// NewCuttablePostgres creates a fresh schema (as NewPostgresSchema) and returns it
// with its URL through a FaultProxy, which the test cuts to take the database away.
func NewCuttablePostgres(t testing.TB) (schema *PostgresSchema, proxied string, proxy *FaultProxy) {
	t.Helper()
	schema = NewPostgresSchema(t)
	u, err := url.Parse(schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy = NewFaultProxy(t, u.Host)
	u.Host = proxy.Addr()
	return schema, u.String(), proxy
}

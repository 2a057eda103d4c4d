//go:build unix

package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// What a proxied experiments/get costs (issue 9): a user with one direct grant
// against a user in 20 roles of 50 permissions each, among 10,000 roles in the
// store, both answered by the front door over loopback in front of a stub
// MLflow, credentials cached as in production.
func BenchmarkProxiedRequest(b *testing.B) {
	logger := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // a line per request would be most of what is measured
	b.Cleanup(func() { slog.SetDefault(logger) })
	b.Run("db=sqlite", func(b *testing.B) {
		lite, err := sqlite.Open(b.TempDir() + "/auth.db")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { lite.Close() })
		benchProxied(b, lite)
	})
	b.Run("db=postgres", func(b *testing.B) {
		pg, err := postgres.Open(context.Background(), storagetest.NewPostgresSchema(b).URL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pg.Close() })
		benchProxied(b, pg)
	})
}

func benchProxied(b *testing.B, db servicetest.Database) {
	ctx := context.Background()
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"experiment": {"experiment_id": %q, "name": "e", "lifecycle_stage": "active"}}`, r.URL.Query().Get("experiment_id"))
	}))
	b.Cleanup(mlflow.Close)
	upstream, _ := url.Parse(mlflow.URL)
	srv := servicetest.Start(b, servicetest.Options{Store: db, Upstream: upstream,
		DefaultPermission: permission.NoPermissions, CredentialCacheTTL: time.Hour})

	hash, err := password.Params{N: 1024, R: 8, P: 1}.Hash("password")
	if err != nil {
		b.Fatal(err)
	}
	one, err := db.CreateUser(ctx, "one-grant", hash, false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateGrant(ctx, one.ID, permission.Resource{Type: permission.Experiment, ID: "7"}, permission.Read); err != nil {
		b.Fatal(err)
	}
	roled, err := db.CreateUser(ctx, "roles", hash, false)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		r, err := db.CreateRole(ctx, resolve.Workspace, fmt.Sprint("role-", i), nil)
		if err != nil {
			b.Fatal(err)
		}
		if i%500 != 0 { // 20 of them are the user's, each with 50 permissions
			continue
		}
		for j := range 50 {
			if _, err := db.AddRolePermission(ctx, r.ID, string(permission.Experiment), fmt.Sprint(100_000+i*50+j), permission.Read); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := db.AssignRole(ctx, roled.ID, r.ID); err != nil {
			b.Fatal(err)
		}
	}

	for _, c := range []struct{ name, user, experiment string }{
		{"user=one-grant", "one-grant", "7"},
		// granted by the 11th of the user's roles
		{"user=20-roles-of-50", "roles", fmt.Sprint(100_000 + 5000*50 + 25)},
	} {
		b.Run(c.name, func(b *testing.B) {
			req, err := http.NewRequest("GET", srv.URL+"/api/2.0/mlflow/experiments/get?experiment_id="+c.experiment, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.SetBasicAuth(c.user, "password")
			get := func() {
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", res.Status, body)
				}
			}
			get() // the one password hash, before the clock starts
			b.ReportAllocs()
			before := storagetest.CPUTime(b) // client, front door and stub alike
			for b.Loop() {
				get()
			}
			storagetest.ReportCPU(b, before)
		})
	}
}

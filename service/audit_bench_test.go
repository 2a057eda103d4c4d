package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// unaudited is a store whose grant updates drop the audit event the request
// put in ctx: the same request, without its audit row.
type unaudited struct{ storage.Store }

func (u unaudited) UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	return u.Store.UpdateGrant(context.Background(), userID, r, l) // the default workspace, as the request's
}

// BenchmarkGrantChangeRequest is what the audit row costs the request a user
// sends: an admin's REST experiments/permissions/update through the gateway's
// in-process connection (the whole interceptor chain, credentials cached), with
// the store writing the audit row (audit=on) and dropping it (audit=off), from
// one client at a time and from 8 at once (the throughput a server reaches). The
// service builds the event on both sides, so the difference is the row's.
func BenchmarkGrantChangeRequest(b *testing.B) {
	logger := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // a line per request would be much of what is measured
	b.Cleanup(func() { slog.SetDefault(logger) })
	b.Run("store=sqlite", func(b *testing.B) { benchGrantChangeRequest(b, storagetest.NewSQLite(b)) })
	b.Run("store=postgres", func(b *testing.B) {
		pg, err := postgres.Open(context.Background(), storagetest.NewPostgresSchema(b).URL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pg.Close() })
		if err := pg.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		benchGrantChangeRequest(b, pg)
	})
}

// auditedDB is what both backends' stores are.
type auditedDB interface {
	storage.Store
	storage.Roles
	storage.Tokens
	storage.Audit
}

func benchGrantChangeRequest(b *testing.B, db auditedDB) {
	ctx := context.Background()
	hasher := password.Params{N: 2, R: 1, P: 1}
	if _, err := EnsureAdmin(ctx, db, hasher, "admin", "admin-password-1"); err != nil {
		b.Fatal(err)
	}
	u, err := db.CreateUser(ctx, "bench", "hash", false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateGrant(ctx, u.ID, permission.Resource{Type: permission.Experiment, ID: "1"}, permission.Read); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		store storage.Store
	}{{"audit=off", unaudited{db}}, {"audit=on", db}} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("clients=%d/%s", clients, c.name), func(b *testing.B) {
				srv, err := New(Config{Store: c.store, Roles: db, Tokens: db, Audit: db, DefaultPermission: permission.Read,
					Hasher: hasher, CredentialCacheTTL: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				h := srv.Handler()
				levels := [2]permission.Level{permission.Edit, permission.Read}
				var sent atomic.Int64
				change := func() bool { // false, with the failure reported, if it was refused
					i := sent.Add(1)
					req := httptest.NewRequest("PATCH", "/api/2.0/mlflow/experiments/permissions/update",
						strings.NewReader(fmt.Sprintf(`{"experiment_id": "1", "username": "bench", "permission": %q}`, levels[i%2])))
					req.SetBasicAuth("admin", "admin-password-1")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return false
					}
					return true
				}
				before := storagetest.CPUTime(b)
				if clients == 1 {
					for b.Loop() {
						if !change() {
							b.FailNow()
						}
					}
				} else {
					b.SetParallelism(clients / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() && change() {
						}
					})
				}
				storagetest.ReportCPU(b, before)
			})
		}
	}
}

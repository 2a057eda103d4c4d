package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/bench/inturn"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// unaudited is a store whose grant updates drop the audit event the request
// put in ctx: the same request, with the deadline and cancellation that the
// database drivers watch, without its audit row.
type unaudited struct{ storage.Store }

func (u unaudited) UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	return u.Store.UpdateGrant(withoutAudit{ctx}, userID, r, l)
}

// withoutAudit is a context that hides the event storage.WithAudit put in it.
type withoutAudit struct{ context.Context }

func (c withoutAudit) Value(key any) any {
	if key == auditEventKey {
		return nil
	}
	return c.Context.Value(key)
}

// auditEventKey is the key storage.AuditFrom looks up, learnt by asking.
var auditEventKey = func() any {
	var k keyRecorder
	storage.AuditFrom(&k)
	return k.key
}()

// BenchmarkGrantChangeRequest is what the audit row costs the request a user
// sends: an admin's REST experiments/permissions/update through the gateway's
// in-process connection (the whole interceptor chain, credentials cached), with
// the store writing the audit row (audit=on) and dropping it (audit=off), from
// one client at a time and from 8 at once (the throughput a server reaches). The
// service builds the event on both sides, so the difference is the row's.
// audit=paired sends the two kinds in turn (pairedBlocks).
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
	// Changes go round 63 grants: 8 admins at once change different grants, as
	// they would, where one grant for all of them made each change wait for
	// the one before to commit (Postgres's row lock), which measured that wait
	// more than the change. Each change flips its grant's level (an odd number
	// of grants flips each one on every round), so the audited and the
	// unaudited changes write the same levels.
	const grants = 63
	for e := range grants {
		if _, err := db.CreateGrant(ctx, u.ID, permission.Resource{Type: permission.Experiment, ID: fmt.Sprint(e)}, permission.Read); err != nil {
			b.Fatal(err)
		}
	}
	// servers[0] drops the audit row (audit=off), servers[1] writes it (audit=on).
	var servers [2]http.Handler
	for k, store := range []storage.Store{unaudited{db}, db} {
		srv, err := New(Config{Store: store, Roles: db, Tokens: db, Audit: db, DefaultPermission: permission.Read,
			Hasher: hasher, CredentialCacheTTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		servers[k] = srv.Handler()
	}
	levels := [2]permission.Level{permission.Edit, permission.Read}
	var sent atomic.Int64
	change := func(h http.Handler) bool { // false, with the failure reported, if it was refused
		i := sent.Add(1)
		req := httptest.NewRequest("PATCH", "/api/2.0/mlflow/experiments/permissions/update",
			strings.NewReader(fmt.Sprintf(`{"experiment_id": "%d", "username": "bench", "permission": %q}`, i%grants, levels[i%2])))
		req.SetBasicAuth("admin", "admin-password-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Errorf("status %d: %s", w.Code, w.Body)
			return false
		}
		return true
	}
	for k, mode := range []string{"off", "on", "paired"} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("clients=%d/audit=%s", clients, mode), func(b *testing.B) {
				before := storagetest.CPUTime(b)
				switch {
				case mode == "paired":
					pairedBlocks(b, clients, func(k int) bool { return change(servers[k]) })
				case clients == 1:
					for b.Loop() {
						if !change(servers[k]) {
							b.FailNow()
						}
					}
				default:
					b.SetParallelism(clients / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() && change(servers[k]) {
						}
					})
				}
				storagetest.ReportCPU(b, before)
			})
		}
	}
}

// pairedBlocks makes b.N changes from clients at once, in turn to the
// unaudited server (change(0)) and the audited one (change(1)) (see
// inturn.Blocks), and reports the time per change of each (off-ns/op and
// on-ns/op) and the audited one's extra cost (audit-%).
func pairedBlocks(b *testing.B, clients int, change func(kind int) bool) {
	per := inturn.Blocks(b, clients, 2, change)
	off, on := per[0], per[1]
	b.ReportMetric(off, "off-ns/op")
	b.ReportMetric(on, "on-ns/op")
	b.ReportMetric(100*(on/off-1), "audit-%")
}

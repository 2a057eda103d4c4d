//go:build unix

package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// The scale target of issue 10: users/get, a permission lookup and a proxied
// decision over REST, and GetUser and GetUserPermission over a gRPC client
// connection to the server's listener, cost about as much in a store of a
// million users and ten million grants as in one of a thousand.
// MLFLOW_AUTH_BENCH_SCALE_STORES names seeded databases (bench/seed;
// bench/scale.sh seeds them and runs this), each served by an in-process
// server. The stores of one backend take turns request by request, so that load
// from other work on the machine falls on them alike; each store's median is
// reported as p50-<users>-ns, and the last store's over the first's as
// p50-ratio. The user cache is off: every request reads its user from the
// store, as one that misses the cache does. Requests go round 64 users spread
// over each store's ids, not one whose rows stay in the page cache.
func BenchmarkScale(b *testing.B) {
	urls := strings.Fields(os.Getenv("MLFLOW_AUTH_BENCH_SCALE_STORES"))
	if len(urls) == 0 {
		b.Skip("MLFLOW_AUTH_BENCH_SCALE_STORES names no seeded databases (see bench/scale.sh)")
	}
	logger := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(logger) })
	upstream := stubMLflow(b)
	type store struct {
		users   string // "1e6"
		url     string // the server's
		userSvc v1.UserServiceClient
		permSvc v1.PermissionServiceClient
		probes  []storage.Grant
	}
	var backends []string
	byBackend := map[string][]store{}
	for _, dbURL := range urls {
		db, backend := openScaleStore(b, dbURL)
		users, probes := scaleProbes(b, db, 64)
		srv := servicetest.Start(b, servicetest.Options{Store: db, Upstream: upstream,
			DefaultPermission: permission.NoPermissions, CredentialCacheTTL: time.Hour})
		conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		if byBackend[backend] == nil {
			backends = append(backends, backend)
		}
		byBackend[backend] = append(byBackend[backend], store{fmt.Sprintf("1e%.0f", math.Round(math.Log10(float64(users)))), srv.URL,
			v1.NewUserServiceClient(conn), v1.NewPermissionServiceClient(conn), probes})
	}
	// A leg makes the call of one probe (a user and its experiment) to one
	// store, as the probe's user.
	type leg func(b *testing.B, s store, p storage.Grant) func()
	rest := func(path func(username, experiment string) string) leg {
		return func(b *testing.B, s store, p storage.Grant) func() {
			req, err := http.NewRequest("GET", s.url+path(p.Username, p.Resource.ID), nil)
			if err != nil {
				b.Fatal(err)
			}
			req.SetBasicAuth(p.Username, "password")
			return func() { getOK(b, req) }
		}
	}
	overGRPC := func(rpc func(ctx context.Context, s store, p storage.Grant) error) leg {
		return func(b *testing.B, s store, p storage.Grant) func() {
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth(p.Username, "password"))
			return func() {
				if err := rpc(ctx, s, p); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for _, backend := range backends {
		stores := byBackend[backend]
		for _, call := range []struct {
			name string
			leg  leg
		}{
			{"users-get", rest(func(u, _ string) string { return "/api/2.0/mlflow/users/get?username=" + url.QueryEscape(u) })},
			{"permissions-get", rest(func(u, e string) string {
				return "/api/3.0/mlflow/users/permissions/get?" + url.Values{"username": {u}, "resource_type": {"experiment"}, "resource_id": {e}}.Encode()
			})},
			{"proxied-experiments-get", rest(func(_, e string) string { return "/api/2.0/mlflow/experiments/get?experiment_id=" + e })},
			{"grpc-GetUser", overGRPC(func(ctx context.Context, s store, p storage.Grant) error {
				_, err := s.userSvc.GetUser(ctx, &v1.GetUserRequest{Username: p.Username})
				return err
			})},
			{"grpc-GetUserPermission", overGRPC(func(ctx context.Context, s store, p storage.Grant) error {
				_, err := s.permSvc.GetUserPermission(ctx, &v1.GetUserPermissionRequest{Username: p.Username, ResourceType: "experiment", ResourceId: p.Resource.ID})
				return err
			})},
		} {
			b.Run("db="+backend+"/call="+call.name, func(b *testing.B) {
				var calls []func() // probe by probe, one call for each store
				for i := range stores[0].probes {
					for _, s := range stores {
						calls = append(calls, call.leg(b, s, s.probes[i]))
					}
				}
				took := measureCalls(b, calls...)
				p50 := make([]time.Duration, len(stores))
				for j, s := range stores {
					var mine []time.Duration
					for i := j; i < len(took); i += len(stores) {
						mine = append(mine, took[i])
					}
					p50[j] = storagetest.Median(mine)
					b.ReportMetric(float64(p50[j]), "p50-"+s.users+"-ns")
				}
				b.ReportMetric(float64(p50[len(p50)-1])/float64(p50[0]), "p50-ratio")
			})
		}
	}
}

func openScaleStore(b *testing.B, dbURL string) (servicetest.Database, string) {
	if path, err := sqlite.PathFromURL(dbURL); err == nil {
		db, err := sqlite.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db, "sqlite"
	}
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, "postgres"
}

// scaleProbes finds the highest user id (about the number of users: the seed
// numbers them from 1) and n users spread evenly below it, each with an
// experiment grant, which it returns; it gives them the password "password"
// under a cheap hash, so the warm-up does not take n production scrypts.
func scaleProbes(b *testing.B, db servicetest.Database, n int) (int32, []storage.Grant) {
	ctx := context.Background()
	lo, hi := int32(0), int32(math.MaxInt32) // a user has an id above lo, none above hi
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		users, err := db.ListUsers(ctx, mid, 1)
		if err != nil {
			b.Fatal(err)
		}
		if len(users) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	hash, err := password.Params{N: 1024, R: 8, P: 1}.Hash("password")
	if err != nil {
		b.Fatal(err)
	}
	var probes []storage.Grant
	for i := range n {
		users, err := db.ListUsers(ctx, int32(int64(hi)*int64(i)/int64(n)), 1)
		if err != nil || len(users) == 0 {
			b.Fatalf("no user after id %d: %v", int64(hi)*int64(i)/int64(n), err)
		}
		u := users[0]
		grants, err := db.GrantsOfUsers(ctx, []int32{u.ID})
		if err != nil {
			b.Fatal(err)
		}
		found := false
		for _, g := range grants {
			if g.Resource.Type == permission.Experiment {
				probes, found = append(probes, g), true
				break
			}
		}
		if !found {
			b.Fatalf("user %s has no experiment grant: is the store seeded by bench/seed?", u.Username)
		}
		if err := db.SetPasswordHash(ctx, u.Username, hash); err != nil {
			b.Fatal(err)
		}
	}
	return hi, probes
}

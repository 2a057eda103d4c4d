package service_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/health/grpc_health_v1"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// startOnCuttablePostgres serves a Postgres schema through a FaultProxy the test can cut.
func startOnCuttablePostgres(t *testing.T) (*testServer, *storagetest.FaultProxy) {
	_, proxied, proxy := storagetest.NewCuttablePostgres(t)
	db, err := postgres.Open(context.Background(), proxied)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return startServerOn(t, db, permission.Read), proxy
}

// With Postgres behind a proxy that the test cuts: every call answers 503
// TEMPORARILY_UNAVAILABLE (no driver text, no 500, nothing half-written), and the
// server recovers by itself once the database is back.
func TestDatabaseOutage(t *testing.T) {
	s, proxy := startOnCuttablePostgres(t)
	transports := s.transports(t)
	admin := caller{t, transports[0], adminUser, adminPass}
	admin.createUser("before", "before-password")

	proxy.Cut()
	for _, tr := range transports {
		c := caller{t, tr, adminUser, adminPass}
		c.expect("TEMPORARILY_UNAVAILABLE", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "before"}, &v1.GetUserResponse{})
		c.expect("TEMPORARILY_UNAVAILABLE", v1.UserService_CreateUser_FullMethodName, &v1.CreateUserRequest{Username: "during-" + tr.name(), Password: "during-password"}, &v1.CreateUserResponse{})
	}
	status, body := getJSON(t, s, "GET", "/api/2.0/mlflow/users/get?username=before", adminUser, adminPass, "")
	wantError(t, status, body, 503, "TEMPORARILY_UNAVAILABLE")
	if msg := body["message"].(string); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "connect") {
		t.Errorf("the 503 leaks driver text: %q", msg)
	}

	proxy.Restore()
	waitForRecovery(t, admin)
	for _, tr := range transports {
		caller{t, tr, adminUser, adminPass}.expect(notFound, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "during-" + tr.name()}, &v1.GetUserResponse{})
	}
	admin.createUser("after", "after-password")
}

// /ready and gRPC health follow the database: NOT_SERVING while it is unreachable,
// SERVING again once it is back, while /health (liveness) stays OK throughout.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	s, proxy := startOnCuttablePostgres(t)
	health := grpc_health_v1.NewHealthClient(s.conn)
	// readiness is what /ready and gRPC health say, for the server and for one service
	// (read one after the other, so a check of the watcher's may fall between them).
	readiness := func() []any {
		res, err := http.Get(s.httpBase + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		seen := []any{res.StatusCode}
		for _, service := range []string{"", "mlflowauth.v1.UserService"} {
			h, err := health.Check(t.Context(), &grpc_health_v1.HealthCheckRequest{Service: service})
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, h.Status)
		}
		return seen
	}
	waitUntil := func(wantHTTP int, want grpc_health_v1.HealthCheckResponse_ServingStatus) {
		t.Helper()
		wanted := fmt.Sprint([]any{wantHTTP, want, want})
		for range 100 { // the watcher checks every 2 s
			if fmt.Sprint(readiness()) == wanted {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("readiness (/ready, gRPC server, UserService) is %v, want %s", readiness(), wanted)
	}
	waitUntil(200, grpc_health_v1.HealthCheckResponse_SERVING)
	proxy.Cut()
	waitUntil(503, grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	status, body := getJSON(t, s, "GET", "/ready", "", "", "")
	wantError(t, status, body, 503, "TEMPORARILY_UNAVAILABLE")
	if res, err := http.Get(s.httpBase + "/health"); err != nil || res.StatusCode != 200 {
		t.Fatalf("/health while the database is down: %v %v", res, err)
	}
	proxy.Restore()
	waitUntil(200, grpc_health_v1.HealthCheckResponse_SERVING)
}

// With Postgres behind a proxy that stops passing bytes (a hung database host,
// connections open): a call that needs the database answers 503
// TEMPORARILY_UNAVAILABLE once its bound (Config.CallTimeout) runs out, on
// both transports, instead of hanging; calls the caches answer go on; and the
// server recovers once the database answers again.
func TestStalledDatabase(t *testing.T) {
	const bound = 2 * time.Second
	_, proxied, proxy := storagetest.NewCuttablePostgres(t)
	db, err := postgres.Open(context.Background(), proxied)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := startServerWith(t, servicetest.Options{Store: db, DefaultPermission: permission.Read, CallTimeout: bound,
		CredentialCacheTTL: time.Hour, UserCacheTTL: time.Hour})
	transports := s.transports(t)
	admin := caller{t, transports[0], adminUser, adminPass}
	admin.createUser("before", "before-password")
	for _, tr := range transports { // the admin's credentials and user, cached
		caller{t, tr, adminUser, adminPass}.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: adminUser}, &v1.GetUserResponse{})
	}

	proxy.Stall()
	for _, tr := range transports {
		c := caller{t, tr, adminUser, adminPass}
		start := time.Now()
		c.expect("TEMPORARILY_UNAVAILABLE", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "before"}, &v1.GetUserResponse{})
		if took := time.Since(start); took < bound || took > bound+5*time.Second {
			t.Errorf("%s: the stalled read answered after %v, want about %v", tr.name(), took, bound)
		}
		start = time.Now()
		c.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: adminUser}, &v1.GetUserResponse{})
		if took := time.Since(start); took >= bound {
			t.Errorf("%s: a read the caches answer took %v while the database stalled", tr.name(), took)
		}
	}

	proxy.Restore()
	waitForRecovery(t, admin)
}

// waitForRecovery reads the user "before" as admin until it works: each pooled
// connection that died may fail one more call with TEMPORARILY_UNAVAILABLE.
func waitForRecovery(t *testing.T, admin caller) {
	t.Helper()
	var code string
	for range 20 {
		if code = admin.tr.call(t, adminUser, adminPass, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "before"}, &v1.GetUserResponse{}); code == "" {
			return
		}
		if code != "TEMPORARILY_UNAVAILABLE" {
			t.Fatalf("once the database is back: %s", code)
		}
	}
	t.Fatal("the server did not recover once the database was back")
}

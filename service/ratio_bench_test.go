//go:build unix

package service_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// BenchmarkAuthenticatedRead is bench/ratio.sh in one process (issue 10): what an
// authenticated users/get (Basic, token) costs next to /health, and GetUser next
// to gRPC's health check, over loopback with credentials and users cached as in
// production, logging one JSON line per request (to nowhere). cpu-ns/op is the
// process's CPU (client and server) per call, steadier than the wall clock on a
// shared machine; the ratios of interest are of those figures.
func BenchmarkAuthenticatedRead(b *testing.B) {
	logger := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.Cleanup(func() { slog.SetDefault(logger) })
	srv := servicetest.Start(b, servicetest.Options{CredentialCacheTTL: time.Hour, UserCacheTTL: time.Hour})
	admin := basicAuth(adminUser, adminPass)
	post := func(path, auth, body string) []byte {
		req, _ := http.NewRequest("POST", srv.URL+"/api/2.0/mlflow/"+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: %s %s", path, res.Status, out)
		}
		return out
	}
	post("users/create", admin, `{"username": "alice", "password": "alice-bench-password"}`)
	post("experiments/permissions/create", admin, `{"experiment_id": "1", "username": "alice", "permission": "EDIT"}`)
	basic := basicAuth("alice", "alice-bench-password")
	var created struct{ Token string }
	if err := json.Unmarshal(post("users/tokens/create", basic, `{"username": "alice", "name": "bench"}`), &created); err != nil {
		b.Fatal(err)
	}
	bearer := "Bearer " + created.Token

	rest := func(path, auth string) func() {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return func() { getOK(b, req) }
	}
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	health, users := grpc_health_v1.NewHealthClient(conn), v1.NewUserServiceClient(conn)
	asAlice := metadata.AppendToOutgoingContext(context.Background(), "authorization", basic)
	usersGet := "/api/2.0/mlflow/users/get?username=alice"

	for _, c := range []struct {
		name string
		call func()
	}{
		{"rest=health", rest("/health", "")},
		{"rest=users-get-basic", rest(usersGet, basic)},
		{"rest=users-get-token", rest(usersGet, bearer)},
		{"grpc=health-check", func() {
			if _, err := health.Check(context.Background(), &grpc_health_v1.HealthCheckRequest{}); err != nil {
				b.Fatal(err)
			}
		}},
		{"grpc=get-user", func() {
			if _, err := users.GetUser(asAlice, &v1.GetUserRequest{Username: "alice"}); err != nil {
				b.Fatal(err)
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.call() // a first hash, a first connection: before the clock starts
			b.ReportAllocs()
			before := storagetest.CPUTime(b)
			for b.Loop() {
				c.call()
			}
			storagetest.ReportCPU(b, before)
		})
	}
}

package service

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// BenchmarkGatewayConn compares the two ways the REST gateway can reach the
// services: the in-process connection the server uses, and dialling the gRPC
// listener over loopback. Both run the same policy interceptor. The password hash
// is made nearly free so that only the transport differs.
func BenchmarkGatewayConn(b *testing.B) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	db := storagetest.NewSQLite(b)
	hasher := password.Params{N: 2, R: 1, P: 1}
	if _, err := EnsureAdmin(ctx, db, hasher, "admin", "admin-password-1"); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Store: db, Roles: db, Tokens: db, DefaultPermission: permission.Read, Hasher: hasher})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.GRPCServer().Serve(lis)
	defer srv.GRPCServer().Stop()
	loopback, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer loopback.Close()
	viaLoopback, err := newHTTPHandler(apiServices(nil), loopback, nil, http.NotFoundHandler())
	if err != nil {
		b.Fatal(err)
	}

	for _, c := range []struct {
		name    string
		handler http.Handler
	}{{"in-process", srv.Handler()}, {"loopback", viaLoopback}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/2.0/mlflow/users/get?username=admin", nil)
			req.SetBasicAuth("admin", "admin-password-1")
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					c.handler.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

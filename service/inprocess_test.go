package service

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// TestHandlerHeadersReachREST: what an RPC sets with grpc.SetHeader reaches the
// REST response when restHeaders allows it, on success and on error, and no other
// metadata leaks out as a header.
func TestHandlerHeadersReachREST(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func() (any, error)
		status int
	}{
		{"success", func() (any, error) { return &v1.GetCurrentUserResponse{}, nil }, http.StatusOK},
		{"error", func() (any, error) { return nil, apiError(codeRequestLimit, "slow down") }, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setHeaders := func(ctx context.Context, _ any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
				if err := grpc.SetHeader(ctx, metadata.Pairs("retry-after", "7", "x-internal", "kept in")); err != nil {
					t.Errorf("SetHeader: %v", err)
				}
				return tc.answer()
			}
			services := apiServices(&core{}) // the interceptor answers before any service runs
			conn := newInProcess([]grpc.UnaryServerInterceptor{setHeaders})
			for _, svc := range services {
				conn.register(svc.desc, svc.impl)
			}
			h, err := newHTTPHandler(services, conn, nil, http.NotFoundHandler())
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/2.0/mlflow/users/current", nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != "7" {
				t.Errorf("Retry-After %q, want 7", got)
			}
			for name := range rec.Header() {
				if name == "X-Internal" || name == "Grpc-Metadata-X-Internal" {
					t.Errorf("metadata not meant for REST became header %s", name)
				}
			}
		})
	}
}

// TestChainUnaryOrder: chainUnary runs interceptors first to last around the handler.
func TestChainUnaryOrder(t *testing.T) {
	var order []string
	mark := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			order = append(order, name+">")
			resp, err := handler(ctx, req)
			order = append(order, "<"+name)
			return resp, err
		}
	}
	chain := chainUnary([]grpc.UnaryServerInterceptor{mark("a"), mark("b")})
	chain(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
		order = append(order, "handler")
		return nil, nil
	})
	if got, want := order, []string{"a>", "b>", "handler", "<b", "<a"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

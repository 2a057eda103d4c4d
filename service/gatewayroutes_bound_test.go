package service

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

// What routedGateway remembers is bounded by path length as well as by count:
// a long workspace name in a path (which any caller may send, before
// authentication) is answered through the whole mux and not kept.
func TestGatewayKeepsNoLongPaths(t *testing.T) {
	refuse := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, errPermissionDenied // before any service runs
	}
	services := apiServices(&core{})
	conn := newInProcess([]grpc.UnaryServerInterceptor{refuse})
	for _, svc := range services {
		conn.register(svc.desc, svc.impl)
	}
	g, err := newRoutedGateway(services, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"team-a", strings.Repeat("w", maxLearnedPath)} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/3.0/mlflow/workspaces/"+name+"/permissions", nil))
	}
	if len(g.learned) != 1 {
		t.Fatalf("learned %d routes, want only the short one", len(g.learned))
	}
}

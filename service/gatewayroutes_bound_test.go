package service

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

// What routedGateway keeps of a route is the route's own few bytes, not the
// request line they were parsed from: a caller, before authentication, can
// send a short path with a query string of nearly maxHeaderBytes, and the
// path, method and path parameters are substrings of that line. Kept as they
// are, maxLearnedRoutes such requests would pin a quarter of a GiB.
func TestGatewayKeepsNoRequestLines(t *testing.T) {
	g := refusingGateway(t)
	const routes, queryBytes = 512, 32 << 10 // 16 MiB of request lines
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range routes {
		// A fresh line each time, as the server reads one per request.
		target := fmt.Sprintf("/api/3.0/mlflow/workspaces/w%d/permissions?pad=%s", i, strings.Repeat("x", queryBytes))
		g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	if len(g.learned) != routes {
		t.Fatalf("learned %d routes, want %d", len(g.learned), routes)
	}
	if kept := int64(heap()) - int64(before); kept > 4<<20 {
		t.Fatalf("%d learned routes keep %d KiB", routes, kept>>10)
	}
	runtime.KeepAlive(g)
}

// What routedGateway remembers is bounded by path length as well as by count:
// a long workspace name in a path (which any caller may send, before
// authentication) is answered through the whole mux and not kept.
func TestGatewayKeepsNoLongPaths(t *testing.T) {
	g := refusingGateway(t)
	for _, name := range []string{"team-a", strings.Repeat("w", maxLearnedPath)} {
		g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/3.0/mlflow/workspaces/"+name+"/permissions", nil))
	}
	if len(g.learned) != 1 {
		t.Fatalf("learned %d routes, want only the short one", len(g.learned))
	}
}

// refusingGateway is the gateway on an in-process connection whose one
// interceptor refuses every call, before any service runs.
func refusingGateway(t *testing.T) *routedGateway {
	refuse := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, errPermissionDenied
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
	return g
}

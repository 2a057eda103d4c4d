package service

import (
	"context"
	"net/http"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
)

// maxLearnedRoutes bounds routedGateway's memory: paths with a parameter (a
// workspace's name) are many; past the bound they take the whole mux.
const maxLearnedRoutes = 4096

// routedGateway is the gateway's ServeMux with every service on it, which tries
// each pattern of a method in turn (with allocations for every one that fails:
// 7% of users/get's CPU plus the garbage, issue 10's profile), and one ServeMux
// per service. Once the whole mux has answered a method and path with a
// service's handler, that method and path go straight to the service's own mux:
// it holds the same pattern, after the same of that service's patterns, none of
// which matched, so it picks the same handler. The routes stay those of
// http.yaml; this remembers only the gateway's own answers.
type routedGateway struct {
	all      *runtime.ServeMux
	services []*runtime.ServeMux

	mu      sync.RWMutex
	learned map[gatewayRoute]int // index into services
}

type gatewayRoute struct{ method, path string }

// servedBy is the context key of the slot in which serviceConn says which
// service a request reached.
type servedBy struct{}

// serviceConn is the in-process connection as one service's gateway handlers
// see it: it tells routedGateway that the request was that service's.
type serviceConn struct {
	grpc.ClientConnInterface
	service int
}

func (c serviceConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if slot, ok := ctx.Value(servedBy{}).(*int); ok {
		*slot = c.service
	}
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

func newRoutedGateway(services []apiService, conn grpc.ClientConnInterface, opts ...runtime.ServeMuxOption) (*routedGateway, error) {
	g := &routedGateway{all: runtime.NewServeMux(opts...), learned: map[gatewayRoute]int{}}
	for i, svc := range services {
		own := runtime.NewServeMux(opts...)
		for _, mux := range []*runtime.ServeMux{g.all, own} {
			if err := svc.gateway(context.Background(), mux, serviceConn{conn, i}); err != nil {
				return nil, err
			}
		}
		g.services = append(g.services, own)
	}
	return g, nil
}

func (g *routedGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// An escaped path or a method override is matched on more than method
	// and path: those always take the whole mux.
	if r.URL.RawPath != "" || r.Header.Get("X-HTTP-Method-Override") != "" {
		g.all.ServeHTTP(w, r)
		return
	}
	key := gatewayRoute{r.Method, r.URL.Path}
	g.mu.RLock()
	i, ok := g.learned[key]
	g.mu.RUnlock()
	if ok {
		g.services[i].ServeHTTP(w, r)
		return
	}
	served := -1
	g.all.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), servedBy{}, &served)))
	if served < 0 {
		return
	}
	g.mu.Lock()
	if len(g.learned) < maxLearnedRoutes {
		g.learned[key] = served
	}
	g.mu.Unlock()
}

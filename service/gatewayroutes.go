package service

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
)

// maxLearnedRoutes and maxLearnedPath bound routedGateway's memory, which any
// caller can fill before authentication: paths with a parameter (a workspace's
// name) are many, and a request line may be up to maxHeaderBytes long. Past
// the bounds, requests take the whole mux.
const (
	maxLearnedRoutes = 4096
	maxLearnedPath   = 256 // the API's own paths are under 100 bytes
)

// routedGateway is the gateway's ServeMux, which tries each pattern of a method
// in turn, with allocations for every one that fails (issue 10's profiles: 7%
// of users/get's CPU, then a tenth of its allocations with one mux per
// service). Once the mux has answered a method and path with a handler, that
// method and path go straight to the handler, with the path parameters the mux
// found: a pattern matches a path or not whatever else the request holds. The
// routes stay those of http.yaml; this remembers only the mux's own answers.
// The one thing the fast path leaves out is the mux's runtime.HTTPPattern
// context value, which nothing here reads.
type routedGateway struct {
	mux *runtime.ServeMux

	mu      sync.RWMutex
	learned map[gatewayRoute]learnedRoute
}

type gatewayRoute struct{ method, path string }

// learnedRoute is the handler the mux chose for a route, before the middleware.
type learnedRoute struct {
	handler runtime.HandlerFunc
	params  map[string]string // read only, by the generated handlers
}

// servedBy is the context key of the slot in which learn records the handler a
// request reached.
type servedBy struct{}

func newRoutedGateway(services []apiService, conn grpc.ClientConnInterface, opts ...runtime.ServeMuxOption) (*routedGateway, error) {
	g := &routedGateway{learned: map[gatewayRoute]learnedRoute{}}
	g.mux = runtime.NewServeMux(append(opts, runtime.WithMiddlewares(learn))...)
	for _, svc := range services {
		if err := svc.gateway(context.Background(), g.mux, conn); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// learn is the mux's middleware: it tells ServeHTTP which handler the mux chose.
func learn(h runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if slot, ok := r.Context().Value(servedBy{}).(*learnedRoute); ok {
			*slot = learnedRoute{h, params}
		}
		h(w, r, params)
	}
}

func (g *routedGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The mux matches an escaped path, a method override and a form POST (which
	// it may serve with a GET route) on more than method and path: those always
	// take the whole mux.
	if r.URL.RawPath != "" || r.Header.Get("X-HTTP-Method-Override") != "" ||
		r.Method == http.MethodPost && strings.Contains(strings.ToLower(r.Header.Get("Content-Type")), "form") {
		g.mux.ServeHTTP(w, r)
		return
	}
	key := gatewayRoute{r.Method, r.URL.Path}
	g.mu.RLock()
	route, ok := g.learned[key]
	g.mu.RUnlock()
	if ok {
		route.handler(w, r, route.params)
		return
	}
	var served learnedRoute
	g.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), servedBy{}, &served)))
	if served.handler == nil || len(key.path) > maxLearnedPath {
		return
	}
	g.mu.Lock()
	if len(g.learned) < maxLearnedRoutes {
		key, served.params = keptRoute(key, served.params)
		g.learned[key] = served
	}
	g.mu.Unlock()
}

// keptRoute copies a route's method, path and path parameters out of the
// request line they are substrings of, which the query string can make up to
// maxHeaderBytes long: kept as they are, the bounds above would not hold.
func keptRoute(key gatewayRoute, params map[string]string) (gatewayRoute, map[string]string) {
	kept := make(map[string]string, len(params))
	for name, value := range params {
		kept[name] = strings.Clone(value)
	}
	return gatewayRoute{strings.Clone(key.method), strings.Clone(key.path)}, kept
}

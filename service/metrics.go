package service

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/mlflow-auth/mlflow-auth/metrics"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// measureUnary records each RPC's method, code and duration, naming the
// transport it came by, and names the REST request's route for the HTTP metrics.
func (c *core) measureUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	transport := "grpc"
	if _, rest := grpc.ServerTransportStreamFromContext(ctx).(*inProcessStream); rest {
		transport = "rest"
		metrics.SetRoute(ctx, info.FullMethod)
	}
	resp, err := handler(ctx, req)
	c.metrics.RPC(transport, info.FullMethod, status.Code(err).String(), time.Since(start))
	return resp, err
}

// measureStream is measureUnary for streaming calls, which only come by gRPC:
// counted, and timed from open to close, when they end.
func (c *core) measureStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	c.metrics.RPC("grpc", info.FullMethod, status.Code(err).String(), time.Since(start))
	return err
}

// measure makes the authenticator count into m, and shows the state of its
// password hashing and credential cache at each scrape.
func (a *authenticator) measure(m *metrics.Metrics) {
	a.metrics = m
	m.Gauge("mlflow_auth_kdf_running", "Password hashes (key derivations) running now.",
		func() float64 { return float64(a.kdf.Running()) })
	m.Gauge("mlflow_auth_kdf_waiting", "Requests waiting for a password hash to run.",
		func() float64 { return float64(a.kdf.Waiting()) })
	if a.cache != nil {
		m.Counter("mlflow_auth_credential_cache_hits_total", "Passwords answered from the credential cache.",
			func() float64 { return float64(a.cache.Hits()) })
		m.Counter("mlflow_auth_credential_cache_misses_total", "Passwords the credential cache did not know.",
			func() float64 { return float64(a.cache.Misses()) })
	}
}

// measurePool shows the database connections at each scrape, when the store tells of them.
func measurePool(m *metrics.Metrics, store any) {
	pool, ok := store.(storage.Pool)
	if !ok {
		return
	}
	for _, g := range []struct {
		name, help string
		value      func(storage.PoolStats) float64
	}{
		{"mlflow_auth_db_connections_open", "Database connections open.", func(s storage.PoolStats) float64 { return float64(s.Open) }},
		{"mlflow_auth_db_connections_in_use", "Database connections serving a query or transaction.", func(s storage.PoolStats) float64 { return float64(s.InUse) }},
		{"mlflow_auth_db_connections_idle", "Database connections open and idle.", func(s storage.PoolStats) float64 { return float64(s.Idle) }},
		{"mlflow_auth_db_connections_max", "The most database connections the pool opens.", func(s storage.PoolStats) float64 { return float64(s.Max) }},
	} {
		m.Gauge(g.name, g.help, func() float64 { return g.value(pool.PoolStats()) })
	}
	m.Counter("mlflow_auth_db_connection_waits_total", "Queries that waited for a free database connection.",
		func() float64 { return float64(pool.PoolStats().Waits) })
	m.Counter("mlflow_auth_db_connection_wait_seconds_total", "Time queries spent waiting for a free database connection.",
		func() float64 { return pool.PoolStats().WaitTime.Seconds() })
}

// countAuthentication records how a caller authenticated and how it ended.
func (a *authenticator) countAuthentication(header string, err *error) {
	if a.metrics == nil {
		return
	}
	method := "other"
	switch scheme, _, _ := strings.Cut(header, " "); {
	case header == "":
		method = "none"
	case strings.EqualFold(scheme, "basic"):
		method = "basic"
	case strings.EqualFold(scheme, "bearer"):
		method = "bearer"
	}
	outcome := "success"
	if *err != nil {
		switch mlflowCode(status.Convert(*err)) {
		case codeUnauthenticated:
			outcome = "failure"
		case codeRequestLimit:
			outcome = "throttled"
		default:
			outcome = "error"
		}
	}
	a.metrics.Authentication(method, outcome)
}

// Package metrics holds mlflow-auth's Prometheus metrics: one registry, the
// collectors the server feeds, and the HTTP handler that serves them. Labels
// never hold usernames, resource ids or raw paths: routes are named by their
// template (an RPC's full name, a proxied route's pattern).
package metrics

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the server's set of metrics. Its methods are safe for concurrent use.
type Metrics struct {
	registry        *prometheus.Registry
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	rpcRequests     *prometheus.CounterVec
	rpcDuration     *prometheus.HistogramVec
	authentications *prometheus.CounterVec
	upstreamDur     *prometheus.HistogramVec
	upstreamErrors  *prometheus.CounterVec
	decisions       *prometheus.CounterVec
}

// New registers every metric, Go's runtime and the process's among them.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlflow_auth_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code."}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlflow_auth_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route template and method.", Buckets: buckets}, []string{"route", "method"}),
		rpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlflow_auth_rpc_requests_total",
			Help: "RPCs of mlflow-auth's API, by transport (grpc, rest), method and gRPC code."}, []string{"transport", "method", "code"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlflow_auth_rpc_duration_seconds",
			Help: "Time to handle an RPC, by transport and method.", Buckets: buckets}, []string{"transport", "method"}),
		authentications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlflow_auth_authentications_total",
			Help: "Authentications, by method (basic, bearer, none) and outcome (success, failure, throttled, error)."}, []string{"method", "outcome"}),
		upstreamDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlflow_auth_upstream_request_duration_seconds",
			Help: "Time MLflow took to answer a proxied request, until its headers, by method.", Buckets: buckets}, []string{"method"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlflow_auth_upstream_errors_total",
			Help: "Proxied requests MLflow did not answer (connection refused, reset, timed out), by method."}, []string{"method"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlflow_auth_decisions_total",
			Help: "Authorization decisions, by route group (users, permissions, proxy:experiments, ...) and outcome (allowed, denied)."}, []string{"group", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.rpcRequests, m.rpcDuration,
		m.authentications, m.upstreamDur, m.upstreamErrors, m.decisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	// Errors are rare: start their series at zero, so that rate() sees the first.
	for _, method := range methods {
		m.upstreamErrors.WithLabelValues(method)
	}
	return m
}

// buckets span a cached authentication (tens of µs) to a slow proxied upload.
var buckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Gauge registers a gauge whose value is read at each scrape (work in flight,
// a pool's connections).
func (m *Metrics) Gauge(name, help string, value func() float64) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}

// Counter registers a counter whose value is read at each scrape (a cache's hits).
func (m *Metrics) Counter(name, help string, value func() float64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, value))
}

// route is what a request's handler says it was, for the HTTP metrics' label.
type route struct{ name string }

type routeKey struct{}

// SetRoute names the template of the route serving the request (once matched).
func SetRoute(ctx context.Context, name string) {
	if r, ok := ctx.Value(routeKey{}).(*route); ok {
		r.name = name
	}
}

// unmatched labels requests no handler named: unknown paths, refusals before routing.
const unmatched = "unmatched"

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// HTTP counts and times every request next answers.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rt := &route{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)))
		name := rt.name
		if name == "" {
			name = unmatched
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		method := methodLabel(r.Method)
		m.httpRequests.WithLabelValues(name, method, strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(name, method).Observe(time.Since(start).Seconds())
	})
}

// methods are the method label's values.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, "other"}

// methodLabel keeps a caller's made-up method out of the labels.
func methodLabel(method string) string {
	if slices.Contains(methods[:len(methods)-1], method) {
		return method
	}
	return "other"
}

// RPC records one RPC of the API; code is its gRPC code's name.
func (m *Metrics) RPC(transport, method, code string, took time.Duration) {
	m.rpcRequests.WithLabelValues(transport, method, code).Inc()
	m.rpcDuration.WithLabelValues(transport, method).Observe(took.Seconds())
}

// Authentication records one authentication's method and outcome.
func (m *Metrics) Authentication(method, outcome string) {
	m.authentications.WithLabelValues(method, outcome).Inc()
}

// DecisionGroups starts the decisions' series of groups at zero, so that
// rate() sees a group's first refusal.
func (m *Metrics) DecisionGroups(groups ...string) {
	for _, g := range groups {
		m.decisions.WithLabelValues(g, "allowed")
		m.decisions.WithLabelValues(g, "denied")
	}
}

// Decision records one authorization decision's route group and outcome.
func (m *Metrics) Decision(group, outcome string) {
	m.decisions.WithLabelValues(group, outcome).Inc()
}

// Upstream wraps the transport to MLflow so that its answers are timed and its
// failures counted.
func (m *Metrics) Upstream(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		res, err := next.RoundTrip(r)
		method := methodLabel(r.Method)
		if err != nil {
			m.upstreamErrors.WithLabelValues(method).Inc()
			return res, err
		}
		m.upstreamDur.WithLabelValues(method).Observe(time.Since(start).Seconds())
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

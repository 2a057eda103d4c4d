package service

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// readiness says whether the server can do its work: the database answers and, in
// front of MLflow, the upstream does. /health stays liveness (the process runs);
// /ready and gRPC health carry this, so that a load balancer sends no traffic to a
// replica whose database is gone. One watcher decides, every readinessInterval, and
// both transports read its last answer: probes never reach the database themselves.
type readiness struct {
	checks   []readinessCheck
	health   *health.Server
	services []string // what gRPC health reports on ("" is the whole server)

	mu       sync.Mutex
	notReady string // why the server is not ready, or "" when it is
	known    bool   // a check has run
}

type readinessCheck struct {
	name  string
	check func(ctx context.Context) error
}

const (
	readinessInterval = 2 * time.Second
	readinessTimeout  = time.Second
)

func newReadiness(h *health.Server, services []apiService, db func(context.Context) error, upstream *url.URL) *readiness {
	r := &readiness{health: h, checks: []readinessCheck{{"database", db}}, services: []string{""}}
	for _, svc := range services {
		r.services = append(r.services, svc.desc.ServiceName)
	}
	if upstream != nil {
		health := upstream.JoinPath("/health").String()
		client := &http.Client{Timeout: readinessTimeout}
		r.checks = append(r.checks, readinessCheck{"MLflow upstream", func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
			if err != nil {
				return err
			}
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, io.LimitReader(res.Body, 1<<10))
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return &upstreamStatus{res.StatusCode}
			}
			return nil
		}})
	}
	r.setServing(false)
	r.notReady = "the server is starting"
	return r
}

type upstreamStatus struct{ code int }

func (e *upstreamStatus) Error() string { return "answered " + http.StatusText(e.code) }

// start checks now, and then every readinessInterval until ctx ends.
func (r *readiness) start(ctx context.Context) {
	r.checkOnce(ctx)
	go func() {
		ticker := time.NewTicker(readinessInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				r.checkOnce(ctx)
			}
		}
	}()
}

func (r *readiness) checkOnce(ctx context.Context) {
	down := ""
	for _, c := range r.checks {
		checkCtx, cancel := context.WithTimeout(ctx, readinessTimeout)
		err := c.check(checkCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			slog.WarnContext(ctx, "not ready", "check", c.name, "err", err)
			down = "the " + c.name + " is not answering"
			break
		}
	}
	r.set(down)
}

func (r *readiness) set(down string) {
	r.mu.Lock()
	changed := !r.known || r.notReady != down
	r.notReady, r.known = down, true
	r.mu.Unlock()
	if changed {
		r.setServing(down == "")
	}
}

func (r *readiness) setServing(ready bool) {
	st := grpc_health_v1.HealthCheckResponse_NOT_SERVING
	if ready {
		st = grpc_health_v1.HealthCheckResponse_SERVING
	}
	for _, name := range r.services {
		r.health.SetServingStatus(name, st)
	}
}

// ServeHTTP is /ready: 200 OK, or 503 with MLflow's error JSON naming what is down.
func (r *readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	down := r.notReady
	r.mu.Unlock()
	if down != "" {
		writeError(w, codeUnavailable, "Not ready: "+down+".")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "OK")
}

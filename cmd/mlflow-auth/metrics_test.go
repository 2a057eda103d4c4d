package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var metricsLine = regexp.MustCompile(`msg"?[=:]"?serving metrics"?[, ]+"?addr"?[=:]"?([0-9.:]+)`)

// scrape reads the metrics listener as Prometheus would, with its own text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("Prometheus cannot parse /metrics: %v", err)
	}
	return families
}

// value is the sample of family whose labels include want (a counter's value,
// or a histogram's count); 0 when there is none.
func value(families map[string]*dto.MetricFamily, family string, want map[string]string) float64 {
	m := series(families, family, want)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

// hasSeries reports whether family has a sample whose labels include want.
func hasSeries(families map[string]*dto.MetricFamily, family string, want map[string]string) bool {
	return series(families, family, want) != nil
}

// series is family's first sample whose labels include want, nil if none.
func series(families map[string]*dto.MetricFamily, family string, want map[string]string) *dto.Metric {
next:
	for _, m := range families[family].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// TestMetricsMoveWithRequests: with --metrics-addr, a scrape parses as
// Prometheus's text format, and an API call, a refused login and a proxied call
// each move the counters they should, labelled by route template, never by
// username or raw path. --pprof serves the profiler beside it.
func TestMetricsMoveWithRequests(t *testing.T) {
	upstream := stubMLflow(t)
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	base, stderr := startServe(t, "--upstream", upstream.URL, "--metrics-addr", "127.0.0.1:0", "--pprof")
	addr := waitForLog(t, stderr, nil, metricsLine)[1]

	before := scrape(t, addr)
	// Refusals are rare: their series start at zero, for the API's groups and the front door's.
	for _, group := range []string{"roles", "audit", "proxy:runs", "proxy:unlisted"} {
		if !hasSeries(before, "mlflow_auth_decisions_total", map[string]string{"group": group, "outcome": "denied"}) {
			t.Errorf("no mlflow_auth_decisions_total{group=%q,outcome=\"denied\"} before any request", group)
		}
	}
	if status := getStatus(t, base+"/api/2.0/mlflow/users/current", "admin", "admin-password-for-tests"); status != 200 {
		t.Fatalf("users/current: %d", status)
	}
	if status := getStatus(t, base+"/api/2.0/mlflow/users/current", "mallory-7f3a", "wrong-password"); status != 401 {
		t.Fatalf("wrong login: %d", status)
	}
	if status := getStatus(t, base+"/api/2.0/mlflow/experiments/get?experiment_id=0", "admin", "admin-password-for-tests"); status != 200 {
		t.Fatalf("proxied experiments/get: %d", status)
	}
	// Refusals, of the API and of the front door, to a user who is no admin.
	if status := postStatus(t, base+"/api/2.0/mlflow/users/create", "admin", "admin-password-for-tests",
		`{"username": "eve-7f3a", "password": "eve-password-1"}`); status != 200 {
		t.Fatalf("create eve: %d", status)
	}
	if status := getStatus(t, base+"/api/2.0/mlflow/users/get?username=admin", "eve-7f3a", "eve-password-1"); status != 403 {
		t.Fatalf("eve reads admin: %d", status)
	}
	if status := postStatus(t, base+"/api/2.0/mlflow/experiments/update", "eve-7f3a", "eve-password-1",
		`{"experiment_id": "0", "new_name": "eve"}`); status != 403 {
		t.Fatalf("eve renames experiment 0: %d", status)
	}
	after := scrape(t, addr)

	for _, c := range []struct {
		family string
		labels map[string]string
	}{
		{"mlflow_auth_http_requests_total", map[string]string{"route": "/mlflowauth.v1.UserService/GetCurrentUser", "method": "GET", "code": "200"}},
		{"mlflow_auth_http_requests_total", map[string]string{"route": "mlflow GET /2.0/mlflow/experiments/get", "method": "GET", "code": "200"}},
		{"mlflow_auth_http_request_duration_seconds", map[string]string{"route": "/mlflowauth.v1.UserService/GetCurrentUser", "method": "GET"}},
		{"mlflow_auth_rpc_requests_total", map[string]string{"transport": "rest", "method": "/mlflowauth.v1.UserService/GetCurrentUser", "code": "OK"}},
		{"mlflow_auth_rpc_requests_total", map[string]string{"transport": "rest", "method": "/mlflowauth.v1.UserService/GetCurrentUser", "code": "Unauthenticated"}},
		{"mlflow_auth_authentications_total", map[string]string{"method": "basic", "outcome": "success"}},
		{"mlflow_auth_authentications_total", map[string]string{"method": "basic", "outcome": "failure"}},
		{"mlflow_auth_upstream_request_duration_seconds", map[string]string{"method": "GET"}},
		{"mlflow_auth_credential_cache_misses_total", nil},
		{"mlflow_auth_decisions_total", map[string]string{"group": "users", "outcome": "allowed"}},
		{"mlflow_auth_decisions_total", map[string]string{"group": "users", "outcome": "denied"}},
		{"mlflow_auth_decisions_total", map[string]string{"group": "proxy:experiments", "outcome": "allowed"}},
		{"mlflow_auth_decisions_total", map[string]string{"group": "proxy:experiments", "outcome": "denied"}},
	} {
		if got, was := value(after, c.family, c.labels), value(before, c.family, c.labels); got <= was {
			t.Errorf("%s%v did not move: %v before, %v after", c.family, c.labels, was, got)
		}
	}
	for _, family := range []string{"mlflow_auth_kdf_running", "mlflow_auth_db_connections_max", "go_goroutines", "process_resident_memory_bytes"} {
		if after[family] == nil {
			t.Errorf("no %s", family)
		}
	}
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); v == "mallory-7f3a" || v == "eve-7f3a" || v == "/api/2.0/mlflow/users/current" || v == "/api/2.0/mlflow/experiments/get" {
					t.Errorf("%s has label %s=%q: usernames and raw paths stay out of labels", name, l.GetName(), v)
				}
			}
		}
	}
	checkDashboard(t, after)
	res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/cmdline", addr))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("--pprof: /debug/pprof/cmdline answered %d", res.StatusCode)
	}
}

func postStatus(t *testing.T, url, user, pass, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var dashboardMetric = regexp.MustCompile(`\b(?:mlflow_auth|go|process)_[a-z_]+\b`)

// checkDashboard fails for a metric the Grafana dashboard asks for that the
// server does not serve, so the two cannot drift apart.
func checkDashboard(t *testing.T, served map[string]*dto.MetricFamily) {
	t.Helper()
	for _, panel := range readDashboard(t) {
		for _, target := range panel.Targets {
			for _, name := range dashboardMetric.FindAllString(target.Expr, -1) {
				if served[strings.TrimSuffix(name, "_bucket")] == nil {
					t.Errorf("dashboard panel %q asks for %s, which /metrics does not serve", panel.Title, name)
				}
			}
		}
	}
}

// dashboardPanel is what the tests read of a Grafana panel: its title and its
// PromQL queries.
type dashboardPanel struct {
	Title   string
	Targets []struct{ Expr string }
}

// readDashboard reads the panels of dashboards/grafana.json.
func readDashboard(t *testing.T) []dashboardPanel {
	t.Helper()
	raw, err := os.ReadFile("../../dashboards/grafana.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct{ Panels []dashboardPanel }
	if err := json.Unmarshal(raw, &dashboard); err != nil {
		t.Fatalf("dashboards/grafana.json: %v", err)
	}
	return dashboard.Panels
}

// stubMLflow is an upstream that answers every request with experiment 0, for
// the tests that need the front door to reach an MLflow but not what it says.
func stubMLflow(t *testing.T) *httptest.Server {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"experiment": {"experiment_id": "0", "name": "Default"}}`)
	}))
	t.Cleanup(upstream.Close)
	return upstream
}

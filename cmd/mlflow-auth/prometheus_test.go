package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
)

// TestPrometheusChartsTheDashboard: a real Prometheus server (Debian's
// package) scrapes --metrics-addr every second, every query of the Grafana
// dashboard evaluates there without an error or a warning, and the panels that
// the test's requests concern chart a positive value.
func TestPrometheusChartsTheDashboard(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		mlflowtest.Missing(t, "TestPrometheusChartsTheDashboard needs Prometheus (Debian package prometheus): "+err.Error())
	}
	upstream := stubMLflow(t)
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	base, stderr := startServe(t, "--upstream", upstream.URL, "--metrics-addr", "127.0.0.1:0")
	metricsAddr := waitForLog(t, stderr, nil, metricsLine)[1]

	prom := startPrometheus(t, promBin, metricsAddr)
	waitForPrometheus(t, "the first scrape", func() bool { return queryValue(t, prom, `up{job="mlflow-auth"}`) == 1 })

	if status := postStatus(t, base+"/api/2.0/mlflow/users/create", "admin", "admin-password-for-tests",
		`{"username": "eve-9c1d", "password": "eve-password-1"}`); status != 200 {
		t.Fatalf("create eve: %d", status)
	}
	// Two rounds of requests, each seen by a scrape of its own, so that every
	// counter they move has two samples in the dashboard's 5-minute rates.
	for round := 1; round <= 2; round++ {
		for _, c := range []struct {
			method, path, user, pass, body string
			want                           int
		}{
			{"GET", "/api/2.0/mlflow/users/current", "admin", "admin-password-for-tests", "", 200},
			{"GET", "/api/2.0/mlflow/users/current", "mallory-9c1d", "wrong-password", "", 401},
			{"GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", "admin", "admin-password-for-tests", "", 200},
			{"GET", "/api/2.0/mlflow/users/get?username=admin", "eve-9c1d", "eve-password-1", "", 403},
			{"POST", "/api/2.0/mlflow/experiments/update", "eve-9c1d", "eve-password-1", `{"experiment_id": "0", "new_name": "eve"}`, 403},
		} {
			if got := sendStatus(t, c.method, base+c.path, c.user, c.pass, c.body); got != c.want {
				t.Fatalf("round %d: %s %s as %s: %d, want %d", round, c.method, c.path, c.user, got, c.want)
			}
		}
		waitForScrapeAfter(t, prom, time.Now())
	}
	if got := queryValue(t, prom, `sum(mlflow_auth_authentications_total{method="basic",outcome="failure"})`); got != 2 {
		t.Errorf("Prometheus counts %v failed logins, want 2", got)
	}

	charted := map[string]bool{}
	missing := maps.Clone(panelsThatMustChart)
	for _, panel := range readDashboard(t) {
		delete(missing, panel.Title)
		for _, target := range panel.Targets {
			for _, s := range query(t, prom, target.Expr) {
				if s.value > 0 && !math.IsInf(s.value, 0) {
					charted[panel.Title] = true
				}
			}
		}
		if panelsThatMustChart[panel.Title] && !charted[panel.Title] {
			t.Errorf("dashboard panel %q charts nothing positive after the test's requests", panel.Title)
		}
	}
	for title := range missing {
		t.Errorf("the dashboard has no panel %q", title)
	}
}

// panelsThatMustChart are the dashboard's panels that a successful and a failed
// login, a proxied call and two refusals must each show.
var panelsThatMustChart = map[string]bool{
	"Requests per second by route":                            true,
	"Answers per second by status code":                       true,
	"p99 answer time by route":                                true,
	"RPCs per second by transport and code":                   true,
	"Authentications per second by outcome":                   true,
	"Credential cache hit ratio":                              true,
	"MLflow p99 answer time (front door)":                     true,
	"Database connections":                                    true,
	"Memory and goroutines":                                   true,
	"Authorization decisions per second by group and outcome": true,
	"Share of decisions refused, by group":                    true,
}

// startPrometheus runs Prometheus, scraping target every second, on a free
// loopback port of its own, and returns its address. The test's end stops it.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mlflow-auth
    static_configs:
      - targets: [%q]
`, target)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out mlflowtest.SyncBuffer
	cmd := exec.CommandContext(t.Context(), bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", lastLines(out.String(), 30))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus was not ready in 30 s:\n%s", lastLines(out.String(), 30))
		}
	}
}

// waitForScrapeAfter waits for a scrape that began after at, so that it saw
// every request made before.
func waitForScrapeAfter(t *testing.T, prom string, at time.Time) {
	t.Helper()
	waitForPrometheus(t, "a scrape after "+at.Format(time.RFC3339Nano), func() bool {
		return queryValue(t, prom, `timestamp(up{job="mlflow-auth"})`) > float64(at.UnixNano())/1e9
	})
}

// waitForPrometheus polls until done reports true, for at most 30 s.
func waitForPrometheus(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !done(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not see %s in 30 s", what)
		}
	}
}

type promSample struct {
	labels map[string]string
	value  float64
}

// query evaluates expr now on the Prometheus at addr and fails the test for an
// error or a warning.
func query(t *testing.T, addr, expr string) []promSample {
	t.Helper()
	res, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer struct {
		Status   string
		Error    string
		Warnings []string
		Data     struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	if answer.Status != "success" || len(answer.Warnings) > 0 || answer.Data.ResultType != "vector" {
		t.Errorf("query %s: status %q, error %q, warnings %q, result type %q", expr, answer.Status, answer.Error, answer.Warnings, answer.Data.ResultType)
		return nil
	}
	var samples []promSample
	for _, r := range answer.Data.Result {
		text, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			t.Errorf("query %s: value %v: %v", expr, r.Value[1], err)
			continue
		}
		samples = append(samples, promSample{r.Metric, v})
	}
	return samples
}

// queryValue is the value of expr's one sample, NaN when there is none.
func queryValue(t *testing.T, addr, expr string) float64 {
	t.Helper()
	samples := query(t, addr, expr)
	if len(samples) != 1 {
		return math.NaN()
	}
	return samples[0].value
}

//go:build unix

package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMLflowTrackingProxy proves the rules of `serve --upstream` with MLflow's own
// Python client: python/proxy_tests runs against mlflow-auth in front of a plain
// MLflow tracking server (no auth app) of the newest MLflow in
// MLFLOW_AUTH_TEST_PYTHONS, once for each default permission, each time with fresh
// servers. The suite also reads the upstream server directly, to check that a
// refused request changed nothing there.
func TestMLflowTrackingProxy(t *testing.T) {
	py, version := newestMLflow(t, pythons(t))
	suite, err := filepath.Abs("../../python/proxy_tests")
	if err != nil {
		t.Fatal(err)
	}
	for _, perm := range []string{"READ", "NO_PERMISSIONS"} {
		t.Run(perm, func(t *testing.T) {
			const adminPassword = "proxy-admin-password"
			upstream, mlflowLog := startMLflowServer(t, py)
			t.Setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
			t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
			base, stderr := startServe(t, "--upstream", upstream, "--default-permission", perm)

			ctx, cancel := beforeDeadline(t)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite)
			cmd.Dir = t.TempDir() // whatever the client writes locally stays out of the checkout
			cmd.Env = append(os.Environ(),
				"MLFLOW_AUTH_TEST_URL="+base,
				"MLFLOW_AUTH_TEST_UPSTREAM_URL="+upstream,
				"MLFLOW_AUTH_TEST_ADMIN_USERNAME=admin",
				"MLFLOW_AUTH_TEST_ADMIN_PASSWORD="+adminPassword,
				"MLFLOW_AUTH_TEST_DEFAULT_PERMISSION="+perm,
				"PYTHONDONTWRITEBYTECODE=1")
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pytest with %s (mlflow %s), --default-permission %s: %v\n%s\nmlflow-auth log:\n%s\nMLflow server log (end):\n%s",
					py, version, perm, err, out, stderr, lastLines(mlflowLog.String(), 40))
			}
			t.Logf("pytest with mlflow %s, --default-permission %s, %s:\n%s", version, perm,
				time.Since(start).Round(time.Second), lastLines(string(out), 1))
		})
	}
}

// newestMLflow returns the interpreter whose mlflow has the highest version, and that version.
func newestMLflow(t *testing.T, pys []string) (string, string) {
	t.Helper()
	var best, bestVersion string
	for _, py := range pys {
		out, err := exec.Command(py, "-c", "import mlflow; print(mlflow.__version__)").Output()
		if err != nil {
			t.Fatalf("%s: mlflow.__version__: %v", py, err)
		}
		v := strings.TrimSpace(string(out))
		if best == "" || versionLess(bestVersion, v) {
			best, bestVersion = py, v
		}
	}
	return best, bestVersion
}

// versionLess compares dotted versions numerically ("3.9.1" < "3.17.2"); a part's
// leading digits count, so "3.18.0rc1" is 3.18.0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		na, nb := leadingInt(pa, i), leadingInt(pb, i)
		if na != nb {
			return na < nb
		}
	}
	return false
}

func leadingInt(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	s := parts[i]
	end := 0
	for end < len(s) && '0' <= s[end] && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

// beforeDeadline bounds a step so that it ends, and the test's cleanups (which
// kill the MLflow server) run, before `go test -timeout` would kill everything.
func beforeDeadline(t *testing.T) (context.Context, context.CancelFunc) {
	if deadline, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
	}
	return context.WithCancel(context.Background())
}

// startMLflowServer runs `mlflow server` of py without any auth app, with a fresh
// SQLite store and proxied artifacts in a temporary directory, in its own process
// group, which is killed (SIGKILL: SIGTERM leaves its huey workers behind) when the
// test ends. It returns the server's URL once /health answers, and its output.
func startMLflowServer(t *testing.T, py string) (string, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	host, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "mlflow", "server", "--host", host, "--port", port,
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"), "--serve-artifacts",
		"--workers", "1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false", "PYTHONDONTWRITEBYTECODE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	output := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	url := "http://" + net.JoinHostPort(host, port)
	ctx, cancel := beforeDeadline(t)
	defer cancel()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/health", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url, output
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("the MLflow server exited early: %v\n%s", err, output)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("the MLflow server did not come up; its output:\n%s", output)
		}
	}
}

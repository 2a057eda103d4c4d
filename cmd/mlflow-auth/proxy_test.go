//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
)

// TestMLflowTrackingProxy proves the rules of `serve --upstream` with MLflow's own
// Python client: python/proxy_tests runs against mlflow-auth in front of a plain
// MLflow tracking server (no auth app) of every MLflow in MLFLOW_AUTH_TEST_PYTHONS
// (a decision must hold in front of each: older servers check less themselves),
// once for each default permission, each time with fresh servers. The suite also
// reads the upstream server directly, to check that a refused request changed
// nothing there.
func TestMLflowTrackingProxy(t *testing.T) {
	suite, err := filepath.Abs("../../python/proxy_tests")
	if err != nil {
		t.Fatal(err)
	}
	for _, py := range mlflowtest.Pythons(t) {
		for _, perm := range []string{"READ", "NO_PERMISSIONS"} {
			t.Run("mlflow-"+py.Version+"/"+perm, func(t *testing.T) { proxySuite(t, py, perm, suite) })
		}
	}
}

func proxySuite(t *testing.T, py mlflowtest.Python, perm, suite string) {
	const adminPassword = "proxy-admin-password"
	dir := t.TempDir()
	backend := "sqlite:///" + filepath.Join(dir, "mlflow.db")
	upstream, mlflowLog := mlflowtest.StartServer(t, py, dir, nil,
		"--backend-store-uri", backend,
		"--artifacts-destination", filepath.Join(dir, "artifacts"), "--serve-artifacts")
	t.Setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
	// The suite sends wrong passwords on purpose, for every route: throttling
	// (TestThrottlingAtTheFrontDoor) would answer them 429 before long.
	base, stderr := startServe(t, "--upstream", upstream, "--default-permission", perm, "--failed-login-limit", "0")

	ctx, cancel := beforeDeadline(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite)
	cmd.Dir = t.TempDir() // whatever the client writes locally stays out of the checkout
	cmd.Env = append(os.Environ(),
		"MLFLOW_AUTH_TEST_URL="+base,
		"MLFLOW_AUTH_TEST_UPSTREAM_URL="+upstream,
		"MLFLOW_AUTH_TEST_UPSTREAM_BACKEND_URI="+backend,
		"MLFLOW_AUTH_TEST_ADMIN_USERNAME=admin",
		"MLFLOW_AUTH_TEST_ADMIN_PASSWORD="+adminPassword,
		"MLFLOW_AUTH_TEST_DEFAULT_PERMISSION="+perm,
		"PYTHONDONTWRITEBYTECODE=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest with %s (mlflow %s), --default-permission %s: %v\n%s\nmlflow-auth log:\n%s\nMLflow server log (end):\n%s",
			py.Path, py.Version, perm, err, out, stderr, lastLines(mlflowLog.String(), 40))
	}
	t.Logf("pytest with mlflow %s, --default-permission %s, %s:\n%s", py.Version, perm,
		time.Since(start).Round(time.Second), lastLines(string(out), 1))
}

// beforeDeadline bounds a step so that it ends, and the test's cleanups (which
// kill the MLflow server) run, before `go test -timeout` would kill everything.
func beforeDeadline(t *testing.T) (context.Context, context.CancelFunc) {
	if deadline, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
	}
	return context.WithCancel(context.Background())
}

// TestMLflowWorkspacesProxy runs python/proxy_tests/test_workspaces.py: the front
// door in front of MLflow (3.13+ of MLFLOW_AUTH_TEST_PYTHONS) started with
// --enable-workspaces, two workspaces that do not see each other.
func TestMLflowWorkspacesProxy(t *testing.T) {
	suite, err := filepath.Abs("../../python/proxy_tests/test_workspaces.py")
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	for _, py := range mlflowtest.Pythons(t) {
		if mlflowtest.VersionLess(py.Version, "3.13") {
			continue
		}
		ran = true
		t.Run("mlflow-"+py.Version, func(t *testing.T) {
			const adminPassword = "proxy-admin-password"
			dir := t.TempDir()
			backend := "sqlite:///" + filepath.Join(dir, "mlflow.db")
			upstream, mlflowLog := mlflowtest.StartServer(t, py, dir, nil,
				"--backend-store-uri", backend, "--enable-workspaces",
				"--artifacts-destination", filepath.Join(dir, "artifacts"), "--serve-artifacts")
			t.Setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
			t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
			base, stderr := startServe(t, "--upstream", upstream, "--default-permission", "NO_PERMISSIONS")
			ctx, cancel := beforeDeadline(t)
			defer cancel()
			cmd := exec.CommandContext(ctx, py.Path, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(),
				"MLFLOW_AUTH_TEST_URL="+base,
				"MLFLOW_AUTH_TEST_UPSTREAM_URL="+upstream,
				"MLFLOW_AUTH_TEST_UPSTREAM_BACKEND_URI="+backend,
				"MLFLOW_AUTH_TEST_ADMIN_USERNAME=admin",
				"MLFLOW_AUTH_TEST_ADMIN_PASSWORD="+adminPassword,
				"MLFLOW_AUTH_TEST_DEFAULT_PERMISSION=NO_PERMISSIONS",
				"MLFLOW_AUTH_TEST_WORKSPACES=1",
				"PYTHONDONTWRITEBYTECODE=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pytest with mlflow %s: %v\n%s\nmlflow-auth log:\n%s\nMLflow server log (end):\n%s",
					py.Version, err, out, stderr, lastLines(mlflowLog.String(), 40))
			}
			t.Logf("pytest with mlflow %s:\n%s", py.Version, lastLines(string(out), 1))
		})
	}
	if !ran {
		t.Skip("no MLflow 3.13+ in MLFLOW_AUTH_TEST_PYTHONS")
	}
}

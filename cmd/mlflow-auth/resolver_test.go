package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
)

// TestMLflowResolver computes every case of python/differential/resolver.py
// (direct grants, roles, patterns, DENY, admins, three default permissions) with
// MLflow's own resolver and with Check on mlflow-auth servers: zero differences.
func TestMLflowResolver(t *testing.T) {
	var py mlflowtest.Python
	for _, p := range mlflowtest.Pythons(t) {
		if !mlflowtest.VersionLess(p.Version, "3.17") {
			py = p
		}
	}
	if py.Path == "" {
		mlflowtest.Missing(t, "no interpreter in MLFLOW_AUTH_TEST_PYTHONS has MLflow 3.17 or later, whose resolver this test compares with")
	}
	script, err := filepath.Abs("../../python/differential/resolver.py")
	if err != nil {
		t.Fatal(err)
	}
	const adminPassword = "resolver-admin-password"
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
	var servers []string
	for _, level := range []string{"NO_PERMISSIONS", "READ", "EDIT"} {
		base, _ := startServe(t, "--default-permission", level, "--failed-login-limit", "0")
		servers = append(servers, level+"="+base)
	}
	cmd := exec.Command(py.Path, script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"MLFLOW_AUTH_TEST_SERVERS="+strings.Join(servers, " "),
		"MLFLOW_AUTH_TEST_ADMIN_USERNAME=admin",
		"MLFLOW_AUTH_TEST_ADMIN_PASSWORD="+adminPassword,
		"PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s with mlflow %s: %v\n%s", script, py.Version, err, out)
	}
	t.Logf("MLflow %s: %s", py.Version, lastLines(string(out), 1))
}

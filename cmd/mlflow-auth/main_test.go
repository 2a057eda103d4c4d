package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
)

// servingLine is serve's log line that gives the bound addresses (text or JSON logs).
var servingLine = regexp.MustCompile(`msg"?[=:]"?serving"?[, ]+"?http"?[=:]"?([0-9.:]+)`)

// startServe runs `mlflow-auth serve` in process on loopback ports the system picks
// (read back from its log, so no other process can take them first) with a fresh
// SQLite file, and stops it, checking that it shuts down cleanly, when the test
// ends. It returns the REST base URL and the server's stderr.
func startServe(t *testing.T, extraArgs ...string) (string, *mlflowtest.SyncBuffer) {
	t.Helper()
	args := append([]string{"--database-url", "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")}, extraArgs...)
	stderr, cancel, done := serveInProcess(args...)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v; stderr:\n%s", err, stderr)
		}
	})
	return "http://" + waitForServing(t, stderr, done), stderr
}

// serveInProcess starts `mlflow-auth serve` with args on ports the system picks;
// cancel stops it, and done (a channel of one) gets what it returned.
func serveInProcess(args ...string) (stderr *mlflowtest.SyncBuffer, cancel func(), done chan error) {
	args = append([]string{"serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &mlflowtest.SyncBuffer{}
	done = make(chan error, 1)
	go func() { done <- run(ctx, args, &bytes.Buffer{}, stderr) }()
	return stderr, cancel, done
}

// waitForServing waits for serve's "serving" log line and returns its HTTP address.
func waitForServing(t *testing.T, stderr *mlflowtest.SyncBuffer, done <-chan error) string {
	t.Helper()
	return waitForLog(t, stderr, done, servingLine)[1]
}

// waitForLog waits for a match of pattern (a *regexp.Regexp or a string) in stderr
// and returns it with its groups. The test fails when nothing matches within 30 s
// or when the server ends first: done, a channel of one, then holds its result
// (left there for whoever waits for it).
func waitForLog(t *testing.T, stderr *mlflowtest.SyncBuffer, done <-chan error, pattern any) []string {
	t.Helper()
	re, ok := pattern.(*regexp.Regexp)
	if !ok {
		re = regexp.MustCompile(regexp.QuoteMeta(pattern.(string)))
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m
		}
		if len(done) > 0 {
			t.Fatalf("serve exited before logging %q:\n%s", re, stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within 30 s; stderr:\n%s", re, stderr)
		}
	}
}

func getStatus(t *testing.T, url, user, pass string) int {
	t.Helper()
	return sendStatus(t, http.MethodGet, url, user, pass, "")
}

// sendStatus sends a request with Basic credentials and returns its status.
func sendStatus(t *testing.T, method, url, user, pass, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Without MLFLOW_AUTH_ADMIN_PASSWORD the first start generates a password, shows
// it once on stderr, and never logs it.
func TestServeGeneratesFirstAdminPassword(t *testing.T) {
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "")
	t.Setenv("MLFLOW_AUTH_ADMIN_USERNAME", "root")
	base, stderr := startServe(t, "--log-format", "json")
	m := regexp.MustCompile(`Created admin user "root" with password: (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no generated password on stderr:\n%s", stderr)
	}
	pw := m[1]
	if len(pw) < 20 {
		t.Errorf("generated password %q is short", pw)
	}
	if got := getStatus(t, base+"/api/2.0/mlflow/users/get?username=root", "root", pw); got != 200 {
		t.Fatalf("login with the generated password: %d", got)
	}
	if n := strings.Count(stderr.String(), pw); n != 1 {
		t.Errorf("the password appears %d times on stderr, want exactly once", n)
	}
}

func TestServeUsesConfiguredAdminPassword(t *testing.T) {
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "configured-password")
	t.Setenv("MLFLOW_AUTH_DEFAULT_PERMISSION", "EDIT")
	base, stderr := startServe(t)
	if strings.Contains(stderr.String(), "configured-password") {
		t.Errorf("the admin password was written to the log:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "config.default_permission=EDIT") {
		t.Errorf("the environment's default permission is not in effect:\n%s", stderr)
	}
	if got := getStatus(t, base+"/api/2.0/mlflow/users/get?username=admin", "admin", "configured-password"); got != 200 {
		t.Fatalf("admin login: %d", got)
	}
}

func TestConfigPrecedenceAndValidation(t *testing.T) {
	t.Setenv("MLFLOW_AUTH_HTTP_ADDR", "127.0.0.1:1111")
	t.Setenv("MLFLOW_AUTH_GRPC_ADDR", "127.0.0.1:2222")
	c, err := parseServeConfig([]string{"--grpc-addr", "127.0.0.1:3333"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.httpAddr != "127.0.0.1:1111" || c.grpcAddr != "127.0.0.1:3333" || c.databaseURL != "sqlite:///mlflow-auth.db" || c.defaultPermission != "READ" {
		t.Errorf("config = %+v: want env over default and flag over env", c)
	}
	for _, args := range [][]string{
		{"--default-permission", "WRITE"},
		{"--log-format", "xml"},
		{"stray-argument"},
	} {
		if _, err := parseServeConfig(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	if got := redactURL("postgres://user:secret@db:5432/auth?password=also-secret"); strings.Contains(got, "secret") {
		t.Errorf("redacted URL still holds a secret: %s", got)
	}
}

func TestMigrateCommand(t *testing.T) {
	url := "sqlite:///" + filepath.Join(t.TempDir(), "m.db")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "status", "--database-url", url}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0001_init\tpending") {
		t.Fatalf("status before up:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "up", "--database-url", url}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0001_init\tapplied") || strings.Contains(out.String(), "pending") {
		t.Fatalf("status after up:\n%s", out.String())
	}
	for _, args := range [][]string{{"migrate"}, {"migrate", "down"}, {"nope"}, {}, {"migrate", "up", "--database-url", "mysql://x"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestMLflowPythonClients drives the server with MLflow's own Python client:
// python/tests runs once for each interpreter in MLFLOW_AUTH_TEST_PYTHONS (each
// with mlflow and pytest installed; .ci/run sets up one before and one after the
// MLflow 3.13 API change), each against a fresh server.
func TestMLflowPythonClients(t *testing.T) {
	pythons := mlflowtest.Pythons(t)
	tests, err := filepath.Abs("../../python/tests")
	if err != nil {
		t.Fatal(err)
	}
	for _, python := range pythons {
		py := python.Path
		t.Run(venvName(py), func(t *testing.T) {
			const adminPassword = "compat-admin-password"
			t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
			base, stderr := startServe(t)
			cmd := exec.Command(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests)
			cmd.Env = append(os.Environ(),
				"MLFLOW_AUTH_TEST_URL="+base,
				"MLFLOW_AUTH_TEST_ADMIN_USERNAME=admin",
				"MLFLOW_AUTH_TEST_ADMIN_PASSWORD="+adminPassword,
				"PYTHONDONTWRITEBYTECODE=1")
			// test_roles.py, test_client_parity.py and test_workspace_permissions.py
			// compare calls with MLflow's own basic-auth server of the same version.
			// MLflow 3.12 runs with --enable-workspaces: its workspace calls need it,
			// and mlflow-auth always honours workspaces.
			const mlflowAdminPassword = "mlflow-admin-password"
			start := mlflowtest.StartBasicAuth
			if mlflowtest.VersionLess(python.Version, "3.13") {
				start = mlflowtest.StartBasicAuthWorkspaces
			}
			cmd.Env = append(cmd.Env,
				"MLFLOW_AUTH_TEST_MLFLOW_URL="+start(t, python, mlflowAdminPassword),
				"MLFLOW_AUTH_TEST_MLFLOW_ADMIN_USERNAME=admin",
				"MLFLOW_AUTH_TEST_MLFLOW_ADMIN_PASSWORD="+mlflowAdminPassword)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pytest with %s: %v\n%s\nserver log:\n%s", py, err, out, stderr)
			}
			t.Logf("pytest with %s:\n%s", py, lastLines(string(out), 3))
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

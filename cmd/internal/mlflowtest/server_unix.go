//go:build unix

package mlflowtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// StartServer runs `mlflow server <args>` of py on a free loopback port, in dir
// and with env added to the environment, in its own process group, which is
// killed when the test ends (SIGKILL: SIGTERM leaves its job workers behind). It
// returns the server's URL once /health answers, and the server's output.
func StartServer(t testing.TB, py Python, dir string, env []string, args ...string) (string, *SyncBuffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	args = append([]string{"-m", "mlflow", "server", "--host", "127.0.0.1", "--port", port, "--workers", "1"}, args...)
	cmd := exec.Command(py.Path, args...)
	cmd.Dir = dir // MLflow puts default artifact roots under its working directory
	cmd.Env = append(os.Environ(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false", "PYTHONDONTWRITEBYTECODE=1")
	cmd.Env = append(cmd.Env, env...)
	output := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second // should a straggler keep the output pipe open
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("MLflow server output:\n%s", output)
		}
	})

	url := "http://127.0.0.1:" + port
	probe := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if res, err := probe.Get(url + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url, output
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("MLflow server exited: %v\n%s", err, output)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("MLflow server did not answer /health; output:\n%s", output)
		}
	}
}

// StartBasicAuth runs `mlflow server --app-name basic-auth` of py with fresh
// databases, default_permission READ and the admin admin/adminPassword, until
// the test ends, and returns its URL.
func StartBasicAuth(t testing.TB, py Python, adminPassword string) string {
	t.Helper()
	return startBasicAuth(t, py, adminPassword)
}

// StartBasicAuthWorkspaces is StartBasicAuth with MLflow's workspaces enabled
// (--enable-workspaces, MLflow 3.10+).
func StartBasicAuthWorkspaces(t testing.TB, py Python, adminPassword string) string {
	t.Helper()
	return startBasicAuth(t, py, adminPassword, "--enable-workspaces")
}

func startBasicAuth(t testing.TB, py Python, adminPassword string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	ini := filepath.Join(dir, "basic_auth.ini")
	config := fmt.Sprintf(`[mlflow]
default_permission = READ
database_uri = sqlite:///%s
admin_username = admin
admin_password = %s
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
`, filepath.Join(dir, "basic_auth.db"), adminPassword)
	if err := os.WriteFile(ini, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	uri, _ := StartServer(t, py, dir,
		// MLflow 3.17 lets MLFLOW_AUTH_ADMIN_* override the file, and the caller's
		// environment may hold mlflow-auth's own; these come last, so they win.
		[]string{"MLFLOW_AUTH_CONFIG_PATH=" + ini, "MLFLOW_FLASK_SERVER_SECRET_KEY=mlflow-auth-test",
			"MLFLOW_AUTH_ADMIN_USERNAME=admin", "MLFLOW_AUTH_ADMIN_PASSWORD=" + adminPassword},
		append([]string{"--app-name", "basic-auth", "--backend-store-uri", "sqlite:///" + filepath.Join(dir, "mlflow.db")}, args...)...)
	return uri
}

//go:build unix

package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

const mlflowAdminPassword = "mlflow-admin-password"

// TestMLflowBasicAuthServer runs the classic commands against MLflow's own
// basic-auth server, started from the interpreter in MLFLOW_AUTH_TEST_PYTHONS
// whose mlflow is older than 3.13 (which removed the classic permission calls).
// Each needs mlflow and Flask-WTF installed.
func TestMLflowBasicAuthServer(t *testing.T) {
	pythons := strings.Fields(os.Getenv("MLFLOW_AUTH_TEST_PYTHONS"))
	if len(pythons) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs MLFLOW_AUTH_TEST_PYTHONS: python interpreters with mlflow and Flask-WTF")
		}
		t.Skip("set MLFLOW_AUTH_TEST_PYTHONS to python interpreters with mlflow and Flask-WTF installed (see .ci/run)")
	}
	py := classicMLflow(t, pythons)
	uri := startMLflow(t, py)
	asAdmin := func() { useServer(t, uri, "admin", mlflowAdminPassword) }
	asAdmin()

	// Users.
	created := decode(t, ok(t, "create-user", "alice", "alice-password-1"), &v1.CreateUserResponse{}).GetUser()
	if created.GetUsername() != "alice" || created.GetIsAdmin() || created.GetId() <= 0 {
		t.Fatalf("create-user: %v", created)
	}
	fails(t, exitFailed, []string{"create-user", "alice", "alice-password-1"}, "RESOURCE_ALREADY_EXISTS (HTTP 400)")
	fails(t, exitFailed, []string{"create-user", "bob", "short"}, "INVALID_PARAMETER_VALUE (HTTP 400)")
	wantEqual(t, decode(t, ok(t, "get-user", "alice", "to-json"), &v1.GetUserResponse{}).GetUser(), created)
	fails(t, exitFailed, []string{"get-user", "nobody"}, "RESOURCE_DOES_NOT_EXIST (HTTP 404): User with username=nobody not found")
	// A call MLflow 3.12 does not have is a plain 404 with an HTML page.
	fails(t, exitFailed, []string{"get-current-user"}, "ENDPOINT_NOT_FOUND (HTTP 404): Not Found for GET /api/2.0/mlflow/users/current")

	if r := cli(t, strings.NewReader("alice-password-2\n"), "update-user-password", "alice", "-"); r.code != exitOK || strings.TrimSpace(r.stdout) != "{}" {
		t.Fatalf("update-user-password: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	// MLflow answers 401 and 403 in plain text; the CLI still names the code.
	useServer(t, uri, "alice", "alice-password-2")
	decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{})
	fails(t, exitFailed, []string{"list-users"}, "PERMISSION_DENIED (HTTP 403): Permission denied")
	useServer(t, uri, "alice", "alice-password-1")
	fails(t, exitFailed, []string{"get-user", "alice"}, "UNAUTHENTICATED (HTTP 401): You are not authenticated.")
	asAdmin()

	for _, tc := range []struct {
		arg  string
		want bool
	}{{"True", true}, {"False", false}} {
		ok(t, "update-user-admin", "alice", tc.arg)
		if u := decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{}).GetUser(); u.GetIsAdmin() != tc.want {
			t.Errorf("after update-user-admin alice %s: is_admin %v", tc.arg, u.GetIsAdmin())
		}
	}
	// MLflow's users/list (3.10+) has no paging and lists ids and usernames.
	listed := decode(t, ok(t, "list-users", "--to-json"), &v1.ListUsersResponse{})
	if names := usernames(listed); !slices.Equal(names, []string{"admin", "alice"}) {
		t.Errorf("list-users: %v", names)
	}
	if table := ok(t, "list-users", "--output", "table"); !strings.Contains(table, "alice") {
		t.Errorf("list-users --output table:\n%s", table)
	}

	// Experiment permissions.
	wantEqual(t, decode(t, ok(t, "create-experiment-permission", "1", "alice", "READ"), &v1.CreateExperimentPermissionResponse{}).GetExperimentPermission(),
		&v1.ExperimentPermission{ExperimentId: "1", UserId: created.GetId(), Permission: "READ"})
	fails(t, exitFailed, []string{"create-experiment-permission", "1", "alice", "READ"}, "RESOURCE_ALREADY_EXISTS")
	fails(t, exitFailed, []string{"update-experiment-permission", "1", "alice", "WRITE"}, "INVALID_PARAMETER_VALUE", "Invalid permission 'WRITE'")
	ok(t, "update-experiment-permission", "1", "alice", "EDIT")
	wantEqual(t, decode(t, ok(t, "get-experiment-permission", "1", "alice"), &v1.GetExperimentPermissionResponse{}).GetExperimentPermission(),
		&v1.ExperimentPermission{ExperimentId: "1", UserId: created.GetId(), Permission: "EDIT"})
	if u := decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{}).GetUser(); len(u.GetExperimentPermissions()) != 1 {
		t.Errorf("get-user after the grant: %v", u)
	}
	ok(t, "delete-experiment-permission", "1", "alice")
	fails(t, exitFailed, []string{"get-experiment-permission", "1", "alice"}, "RESOURCE_DOES_NOT_EXIST")

	// Registered-model permissions.
	wantEqual(t, decode(t, ok(t, "create-registered-model-permission", "model-a", "alice", "READ"), &v1.CreateRegisteredModelPermissionResponse{}).GetRegisteredModelPermission(),
		&v1.RegisteredModelPermission{Workspace: "default", Name: "model-a", UserId: created.GetId(), Permission: "READ"})
	ok(t, "update-registered-model-permission", "model-a", "alice", "MANAGE")
	wantEqual(t, decode(t, ok(t, "get-registered-model-permission", "model-a", "alice"), &v1.GetRegisteredModelPermissionResponse{}).GetRegisteredModelPermission(),
		&v1.RegisteredModelPermission{Workspace: "default", Name: "model-a", UserId: created.GetId(), Permission: "MANAGE"})
	ok(t, "delete-registered-model-permission", "model-a", "alice")
	fails(t, exitFailed, []string{"get-registered-model-permission", "model-a", "alice"}, "RESOURCE_DOES_NOT_EXIST")

	ok(t, "delete-user", "alice")
	fails(t, exitFailed, []string{"get-user", "alice"}, "RESOURCE_DOES_NOT_EXIST")
}

// classicMLflow returns the first interpreter whose mlflow is older than 3.13.
func classicMLflow(t *testing.T, pythons []string) string {
	t.Helper()
	var seen []string
	for _, py := range pythons {
		out, err := exec.Command(py, "-c", "import mlflow; print(mlflow.__version__)").Output()
		if err != nil {
			t.Fatalf("%s cannot import mlflow: %v", py, err)
		}
		version := strings.TrimSpace(string(out))
		var major, minor int
		if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
			t.Fatalf("%s: mlflow version %q", py, version)
		}
		if major < 3 || major == 3 && minor < 13 {
			t.Logf("MLflow %s from %s", version, py)
			return py
		}
		seen = append(seen, version)
	}
	msg := fmt.Sprintf("no interpreter in MLFLOW_AUTH_TEST_PYTHONS has an mlflow older than 3.13 (found %v)", seen)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startMLflow runs `mlflow server --app-name basic-auth` on a free loopback
// port with fresh databases and the admin admin/mlflowAdminPassword, waits
// until /health answers, and kills its whole process group when the test ends.
func startMLflow(t *testing.T, py string) string {
	t.Helper()
	dir := t.TempDir()
	ini := filepath.Join(dir, "basic_auth.ini")
	config := fmt.Sprintf(`[mlflow]
default_permission = READ
database_uri = sqlite:///%s
admin_username = admin
admin_password = %s
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
`, filepath.Join(dir, "basic_auth.db"), mlflowAdminPassword)
	if err := os.WriteFile(ini, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	cmd := exec.Command(py, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1", "--port", port,
		"--workers", "1", "--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"))
	cmd.Dir = dir // MLflow puts its artifacts under the working directory
	cmd.Env = append(os.Environ(),
		"MLFLOW_AUTH_CONFIG_PATH="+ini,
		"MLFLOW_FLASK_SERVER_SECRET_KEY=mlflow-auth-client-test",
		"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false", // no job runner processes to start and stop
	)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second // should a straggler keep the output pipe open
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// The server, its uvicorn worker and anything they started.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("MLflow server output:\n%s", log)
		}
	})

	uri := "http://127.0.0.1:" + port
	probe := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if res, err := probe.Get(uri + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return uri
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("MLflow server exited: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("MLflow server did not answer /health; output:\n%s", log)
		}
	}
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

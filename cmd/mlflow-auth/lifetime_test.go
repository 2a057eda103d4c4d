package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// Every command's --help succeeds and names the environment variables it reads.
func TestHelpSucceeds(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"migrate", "--help"}, {"import", "--help"}, {"--help"}} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), args, &stdout, &stderr); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if args[0] != "--help" && !strings.Contains(stdout.String()+stderr.String(), "(env MLFLOW_AUTH_") {
			t.Errorf("%v names no environment variable:\n%s%s", args, stdout.String(), stderr.String())
		}
	}
}

// A server whose port is taken fails before it creates the first admin: no password
// is printed for an account nobody can reach, and the database stays empty.
func TestServeBindsBeforeCreatingTheAdmin(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "")
	dbPath := filepath.Join(t.TempDir(), "auth.db")
	var stderr bytes.Buffer
	err = run(t.Context(), []string{"serve", "--http-addr", taken.Addr().String(), "--grpc-addr", "127.0.0.1:0",
		"--database-url", "sqlite:///" + dbPath}, &bytes.Buffer{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if strings.Contains(stderr.String(), "Created admin user") {
		t.Errorf("an admin was created by a server that cannot serve:\n%s", &stderr)
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Errorf("the database was written: %v", err)
	}
}

// A Postgres that is not up yet when serve starts is waited for, with backoff.
func TestServeWaitsForTheDatabase(t *testing.T) {
	_, proxied, proxy := storagetest.NewCuttablePostgres(t)
	proxy.Cut()
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	stderr, cancel, done := serveInProcess("--database-url", proxied, "--database-wait", "2m")
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, stderr)
		}
	}()
	waitForLog(t, stderr, done, "database not reachable yet")
	proxy.Restore()
	base := "http://" + waitForServing(t, stderr, done)
	if status := getStatus(t, base+"/api/2.0/mlflow/users/get?username=admin", "admin", "admin-password-for-tests"); status != 200 {
		t.Errorf("after the database came up: %d", status)
	}
}

// A body that stops arriving is cut after --request-stall-timeout with MLflow's 400,
// instead of holding its connection open for ever.
func TestStalledBodyIsCut(t *testing.T) {
	base, _ := startServe(t, "--request-stall-timeout", "200ms")
	conn := stallBody(t, strings.TrimPrefix(base, "http://"))
	if line := statusLine(t, conn); !strings.HasPrefix(line, "HTTP/1.1 400") {
		t.Errorf("a stalled body got %q, want 400", line)
	}
}

// At shutdown a request still waiting for its body is answered at once (400), not
// left to hold up the drain until the grace period ends and then reset.
func TestShutdownCutsStalledBodies(t *testing.T) {
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	stderr, cancel, done := serveInProcess("--database-url", "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"))
	conn := stallBody(t, waitForServing(t, stderr, done))
	time.Sleep(100 * time.Millisecond) // the server is now waiting for the body
	cancel()
	if line := statusLine(t, conn); !strings.HasPrefix(line, "HTTP/1.1 400") {
		t.Errorf("a stalled body at shutdown got %q, want 400", line)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestMain lets a test run the server as a process of its own (startProcess).
func TestMain(m *testing.M) {
	if os.Getenv("MLFLOW_AUTH_TEST_MAIN") == "1" {
		for i, arg := range os.Args {
			if arg == "--" {
				os.Args = append(os.Args[:1], os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startProcess runs `mlflow-auth <args>` as a child process (this test binary, see
// TestMain) with a fresh SQLite file, so that a test can send it signals. It
// returns the process, its stderr, and a channel of one that gets its exit.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, *mlflowtest.SyncBuffer, chan error) {
	t.Helper()
	args = append(args, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
		"--database-url", "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"))
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "MLFLOW_AUTH_TEST_MAIN=1", "MLFLOW_AUTH_ADMIN_PASSWORD=admin-password-for-tests")
	stderr := &mlflowtest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd, stderr, exited
}

// The first SIGTERM drains in-flight requests; a second one ends the process at
// once, even while a request is still waiting for MLflow.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	hung, err := net.Listen("tcp", "127.0.0.1:0") // an MLflow that accepts and never answers
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cmd, stderr, exited := startProcess(t, "serve", "--upstream", "http://"+hung.Addr().String())
	addr := waitForServing(t, stderr, exited)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtZm9yLXRlc3Rz\r\n\r\n"))
	time.Sleep(200 * time.Millisecond) // the request now waits for the hung upstream
	cmd.Process.Signal(syscall.SIGTERM)
	waitForLog(t, stderr, exited, "draining in-flight requests")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err == nil || !strings.Contains(stderr.String(), "stopped at once by a second signal") {
		t.Errorf("after two signals the server exited with %v, want it stopped by the second\n%s", err, stderr)
	}
	exited <- nil // for the cleanup
}

// stallBody starts a request whose body never comes: its headers promise 100 bytes.
func stallBody(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.Write([]byte("POST /api/2.0/mlflow/users/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Authorization: Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtZm9yLXRlc3Rz\r\nContent-Length: 100\r\n\r\n{\"user"))
	return conn
}

// statusLine reads the first line of the answer on conn, "" when none comes within 20 s.
func statusLine(t *testing.T, conn net.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

// A refused login is logged with the attempted username and the client's address,
// never with the password.
func TestRefusedLoginIsLogged(t *testing.T) {
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	base, stderr := startServe(t)
	if status := getStatus(t, base+"/api/2.0/mlflow/users/current", "mallory", "guessed-password-123"); status != 401 {
		t.Fatalf("a wrong login: %d", status)
	}
	log := stderr.String()
	if !strings.Contains(log, `msg="refused login" username=mallory client=127.0.0.1 reason="unknown user"`) {
		t.Errorf("no refused-login line naming the user and the client:\n%s", log)
	}
	if strings.Contains(log, "guessed-password-123") {
		t.Error("the password is in the log")
	}
}

// The front door throttles failed logins as the API does (the default limit of 5),
// before any request reaches MLflow.
func TestThrottlingAtTheFrontDoor(t *testing.T) {
	reached := make(chan string, 16)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" { // the readiness check's
			reached <- r.URL.Path
		}
	}))
	defer upstream.Close()
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	base, _ := startServe(t, "--upstream", upstream.URL)
	for i := range 5 {
		if status := getStatus(t, base+"/api/2.0/mlflow/experiments/get?experiment_id=0", "admin", "wrong-password"); status != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, status)
		}
	}
	req, _ := http.NewRequest("GET", base+"/api/2.0/mlflow/experiments/get?experiment_id=0", nil)
	req.SetBasicAuth("admin", "admin-password-for-tests")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Errorf("after 5 failures: %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	select {
	case path := <-reached:
		t.Errorf("a refused login reached MLflow: %s", path)
	default:
	}
}

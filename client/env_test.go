package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// cleanEnvironment unsets MLflow's client variables and points HOME at an empty
// directory, which it returns.
func cleanEnvironment(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
		"MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH"} {
		t.Setenv(name, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func writeCredentials(t *testing.T, home, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(home, ".mlflow"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".mlflow", "credentials"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// whoAmI connects from the environment and returns the username the server sees.
func whoAmI(t *testing.T) (string, error) {
	t.Helper()
	c, err := client.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.GetCurrentUser(t.Context(), &v1.GetCurrentUserRequest{})
	return resp.GetUser().GetUsername(), err
}

func TestFromEnvironment(t *testing.T) {
	srv := servicetest.NewServer(t)
	home := cleanEnvironment(t)
	admin := asAdmin(t, srv)
	// A % in the file is written %%, as Python's configparser wants.
	createUser(t, admin, "alice", "alice%password")
	createUser(t, admin, "bob", "alice%password")

	if _, err := client.FromEnvironment(); !errors.Is(err, client.ErrNoTrackingURI) || !strings.Contains(err.Error(), "MLFLOW_TRACKING_URI") {
		t.Fatalf("without MLFLOW_TRACKING_URI: %v", err)
	}
	t.Setenv("MLFLOW_TRACKING_URI", srv.URL)
	_, err := whoAmI(t)
	wantError(t, err, 401, "UNAUTHENTICATED")

	t.Setenv("MLFLOW_TRACKING_USERNAME", servicetest.AdminUsername)
	t.Setenv("MLFLOW_TRACKING_PASSWORD", servicetest.AdminPassword)
	if name, err := whoAmI(t); name != "admin" || err != nil {
		t.Fatalf("with the environment's credentials: %q, %v", name, err)
	}

	writeCredentials(t, home, `# MLflow's credentials file
[other]
mlflow_tracking_username = admin

[mlflow]
; keys in any case, "=" or ":"
MLFLOW_TRACKING_USERNAME = alice
mlflow_tracking_password: alice%%password
`)
	t.Setenv("MLFLOW_TRACKING_USERNAME", "")
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "")
	if name, err := whoAmI(t); name != "alice" || err != nil {
		t.Fatalf("with the file's credentials: %q, %v", name, err)
	}
	// Each variable overrides its own field of the file.
	t.Setenv("MLFLOW_TRACKING_USERNAME", "bob")
	if name, err := whoAmI(t); name != "bob" || err != nil {
		t.Fatalf("username from the environment, password from the file: %q, %v", name, err)
	}
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password")
	_, err = whoAmI(t)
	wantError(t, err, 401, "UNAUTHENTICATED")

	writeCredentials(t, home, "[mlflow]\nthis line has no value\n")
	if _, err := client.FromEnvironment(); err == nil || !strings.Contains(err.Error(), "credentials line 2") {
		t.Errorf("a malformed credentials file: %v", err)
	}
}

func TestFromEnvironmentTLS(t *testing.T) {
	srv := servicetest.NewTLSServer(t)
	cleanEnvironment(t)
	t.Setenv("MLFLOW_TRACKING_URI", srv.URL)
	t.Setenv("MLFLOW_TRACKING_USERNAME", servicetest.AdminUsername)
	t.Setenv("MLFLOW_TRACKING_PASSWORD", servicetest.AdminPassword)

	if _, err := whoAmI(t); !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("an untrusted certificate: %v", err)
	}
	t.Setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", srv.CertFile)
	if name, err := whoAmI(t); name != "admin" || err != nil {
		t.Errorf("with MLFLOW_TRACKING_SERVER_CERT_PATH: %q, %v", name, err)
	}
	t.Setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
	if _, err := client.FromEnvironment(); err == nil {
		t.Error("both MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH: accepted")
	}
	t.Setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "")
	for _, v := range []string{"TRUE", "1"} {
		t.Setenv("MLFLOW_TRACKING_INSECURE_TLS", v)
		if name, err := whoAmI(t); name != "admin" || err != nil {
			t.Errorf("MLFLOW_TRACKING_INSECURE_TLS=%s: %q, %v", v, name, err)
		}
	}
	t.Setenv("MLFLOW_TRACKING_INSECURE_TLS", "yes")
	if _, err := client.FromEnvironment(); err == nil || !strings.Contains(err.Error(), "MLFLOW_TRACKING_INSECURE_TLS") {
		t.Errorf("MLFLOW_TRACKING_INSECURE_TLS=yes: %v", err)
	}
}

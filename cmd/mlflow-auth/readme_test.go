package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
)

// The README's examples, from "Using it" through the command-line client, run in
// order against a fresh server as a newcomer would run them: its shell blocks in
// bash (curl failing on any error answer), its Python blocks with the newest MLflow.
// Only what needs a tool CI lacks is left out (grpcurl when it is not installed),
// and `go install` is replaced by a build of the client onto PATH.
func TestMLflowREADMEExamples(t *testing.T) {
	python := mlflowtest.Newest(mlflowtest.Pythons(t))
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start, end := strings.Index(readme, "\n## Using it"), strings.Index(readme, "\n## Go clients")
	if start < 0 || end < start {
		t.Fatal("the README has no section from \"Using it\" to \"Go clients\"")
	}
	const password = "readme-admin-password"
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", password)
	base, stderr := startServe(t)
	grpcAddr := regexp.MustCompile(`grpc"?[=:]"?([0-9.]+:[0-9]+)`).FindStringSubmatch(stderr.String())
	if grpcAddr == nil {
		t.Fatalf("no gRPC address in the log:\n%s", stderr)
	}

	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin, "./../mlflow-auth-client").CombinedOutput(); err != nil {
		t.Fatalf("building mlflow-auth-client: %v\n%s", err, out)
	}
	_, grpcurlErr := exec.LookPath("grpcurl")
	home := t.TempDir() // no ~/.mlflow/credentials of the machine's
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+home,
		"MLFLOW_TRACKING_URI=", "MLFLOW_TRACKING_USERNAME=", "MLFLOW_TRACKING_PASSWORD=", "PYTHONDONTWRITEBYTECODE=1")

	// One bash session runs every block in order, so that exports carry over; each
	// Python block runs from a file at its place.
	var script strings.Builder
	script.WriteString("set -euo pipefail\ncurl() { command curl --silent --show-error --fail-with-body \"$@\"; echo; }\n")
	blocks := regexp.MustCompile("(?s)```(sh|python)\n(.*?)```").FindAllStringSubmatch(readme[start:end], -1)
	for i, b := range blocks {
		text := strings.NewReplacer("<the printed password>", password, "http://localhost:8080", base,
			"localhost:8080", strings.TrimPrefix(base, "http://"), "localhost:9090", grpcAddr[1]).Replace(b[2])
		if b[1] == "python" {
			file := filepath.Join(home, fmt.Sprintf("example-%d.py", i))
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&script, "%q %q\n", python.Path, file)
			continue
		}
		skipping := false
		for _, line := range strings.Split(text, "\n") {
			if !skipping {
				switch {
				case strings.HasPrefix(line, "go install "):
					skipping = true // the client is built above, grpcurl installed by .ci/run
				case strings.HasPrefix(line, "grpcurl ") && grpcurlErr != nil:
					t.Log("grpcurl is not installed: its example is left out")
					skipping = true
				}
			}
			if !skipping {
				script.WriteString(line + "\n")
			}
			skipping = skipping && strings.HasSuffix(line, "\\") // a command goes on after a backslash
		}
	}
	if len(blocks) < 6 {
		t.Fatalf("only %d examples found in the README", len(blocks))
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's examples failed: %v\n%s\n--- script:\n%s\n--- server:\n%s", err, out, script.String(), stderr)
	}
	ran := len(blocks)
	t.Logf("ran %d README examples (%s)", ran, filepath.Base(python.Path))
}

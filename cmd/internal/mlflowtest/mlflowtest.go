// Package mlflowtest runs MLflow itself for the tests that need it: the Python
// interpreters named in MLFLOW_AUTH_TEST_PYTHONS, their mlflow versions, and
// `mlflow server` processes. Tests that use it are named TestMLflow*, which
// .ci/run runs with the interpreters and without the race detector.
package mlflowtest

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Python is an interpreter with mlflow installed.
type Python struct {
	Path    string
	Version string // mlflow.__version__
}

// Pythons returns the interpreters of MLFLOW_AUTH_TEST_PYTHONS with their mlflow
// versions, skipping the test without them (failing it in CI).
func Pythons(t testing.TB) []Python {
	t.Helper()
	paths := strings.Fields(os.Getenv("MLFLOW_AUTH_TEST_PYTHONS"))
	if len(paths) == 0 {
		Missing(t, "set MLFLOW_AUTH_TEST_PYTHONS to python interpreters with mlflow installed (see .ci/run)")
	}
	pys := make([]Python, len(paths))
	for i, path := range paths {
		out, err := exec.Command(path, "-c", "import mlflow; print(mlflow.__version__)").Output()
		if err != nil {
			t.Fatalf("%s cannot import mlflow: %v", path, err)
		}
		pys[i] = Python{Path: path, Version: strings.TrimSpace(string(out))}
	}
	return pys
}

// Before returns the first interpreter whose mlflow is older than version, skipping
// the test when there is none (failing it in CI).
func Before(t testing.TB, pys []Python, version string) Python {
	t.Helper()
	var seen []string
	for _, py := range pys {
		if VersionLess(py.Version, version) {
			return py
		}
		seen = append(seen, py.Version)
	}
	Missing(t, "no interpreter in MLFLOW_AUTH_TEST_PYTHONS has an mlflow older than "+version+" (found "+strings.Join(seen, ", ")+")")
	return Python{}
}

// Missing skips a test whose environment is missing, and fails it in CI, which
// must have everything (see .ci/run).
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// VersionLess compares dotted versions numerically ("3.9.1" < "3.17.2"); a part's
// leading digits count, so "3.18.0rc1" is 3.18.0.
func VersionLess(a, b string) bool {
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

// SyncBuffer collects a process's output while it runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
)

// TestMLflowUI proves that MLflow's web UI works through `serve --upstream` in a
// browser with Basic auth: python/ui_tests drives headless Chromium (Debian's
// package, with the Python playwright package) against mlflow-auth in front of a
// plain MLflow server, once for each interpreter of MLFLOW_AUTH_TEST_PYTHONS (each
// MLflow ships its own UI), with --default-permission NO_PERMISSIONS. The data is
// made through the proxy's REST API: an owner's experiment with a run that has a
// param, a metric and an artifact, a registered model from the run, and an
// experiment of another user, who has no grant on the owner's, and a reader with
// a grant on the model only, whom the browser test gives a role. A failed browser
// check leaves screenshots in a directory the log names, kept when the test fails.
func TestMLflowUI(t *testing.T) {
	pys := mlflowtest.Pythons(t)
	chromium := os.Getenv("MLFLOW_AUTH_TEST_CHROMIUM")
	if chromium == "" {
		chromium = "chromium"
	}
	chromium, err := exec.LookPath(chromium)
	if err != nil {
		mlflowtest.Missing(t, "TestMLflowUI needs Chromium (Debian package chromium, or MLFLOW_AUTH_TEST_CHROMIUM): "+err.Error())
	}
	suite, err := filepath.Abs("../../python/ui_tests")
	if err != nil {
		t.Fatal(err)
	}
	for _, py := range pys {
		t.Run("mlflow-"+py.Version, func(t *testing.T) { browseUI(t, py, chromium, suite) })
	}
}

// browseUI runs the browser suite against one MLflow version behind mlflow-auth.
func browseUI(t *testing.T, py mlflowtest.Python, chromium, suite string) {
	if out, err := exec.Command(py.Path, "-c", "import playwright, pytest").CombinedOutput(); err != nil {
		mlflowtest.Missing(t, "TestMLflowUI needs the playwright package of python/ui_tests/requirements.txt in "+
			py.Path+": "+strings.TrimSpace(string(out)))
	}
	const adminPassword = "ui-admin-password"
	dir := t.TempDir()
	upstream, mlflowLog := mlflowtest.StartServer(t, py, dir, []string{"MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true"},
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"), "--serve-artifacts")
	t.Setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
	base, stderr := startServe(t, "--upstream", upstream, "--default-permission", "NO_PERMISSIONS")

	data := seedUIData(t, base, adminPassword)
	dataJSON, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}

	// Screenshots of failed checks: in a directory of their own that outlives a
	// failed test (t.TempDir would be removed with it).
	shots, err := os.MkdirTemp("", "mlflow-auth-ui-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots of the failed browser checks are kept in %s", shots)
			return
		}
		os.RemoveAll(shots)
	})
	tmp := t.TempDir() // Chromium's fresh profile and Playwright's files

	ctx, cancel := beforeDeadline(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", suite)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"MLFLOW_AUTH_UI_TEST_URL="+base,
		"MLFLOW_AUTH_UI_TEST_DATA="+string(dataJSON),
		"MLFLOW_AUTH_UI_TEST_CHROMIUM="+chromium,
		"MLFLOW_AUTH_UI_TEST_SCREENSHOTS="+shots,
		"TMPDIR="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"),
		"PYTHONDONTWRITEBYTECODE=1")
	// pytest, Playwright's driver and Chromium form one process group, all of which
	// is killed at the deadline and, for stragglers, once pytest has returned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("pytest %s with %s (mlflow %s), Chromium %s: %v\n%s\nmlflow-auth log (end):\n%s\nMLflow server log (end):\n%s",
			suite, py.Path, py.Version, chromium, err, out, lastLines(stderr.String(), 60), lastLines(mlflowLog.String(), 40))
	}
	t.Logf("browser tests of MLflow %s's UI through mlflow-auth, %s:\n%s", py.Version,
		time.Since(start).Round(time.Second), lastLines(string(out), 1))
}

// uiData is what the browser tests look for (python/ui_tests/conftest.py).
type uiData struct {
	Owner               uiUser `json:"owner"`
	Other               uiUser `json:"other"`
	ExperimentID        string `json:"experiment_id"`
	ExperimentName      string `json:"experiment_name"`
	RunID               string `json:"run_id"`
	RunName             string `json:"run_name"`
	Param               uiKV   `json:"param"`
	Metric              uiKV   `json:"metric"`
	Artifact            uiFile `json:"artifact"`
	OtherExperimentName string `json:"other_experiment_name"`
	ModelName           string `json:"model_name"`
	// Reader holds a direct READ grant on the model and nothing else, until the
	// browser test gives them a role.
	Reader uiUser `json:"reader"`
	Admin  uiUser `json:"admin"`
}

type uiUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type uiKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type uiFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// seedUIData makes the users and the data through the proxy, each call as the user
// a browser user would be.
func seedUIData(t *testing.T, base, adminPassword string) uiData {
	t.Helper()
	admin := uiUser{"admin", adminPassword}
	d := uiData{
		Owner:               uiUser{"ui-owner", "ui-owner-password"},
		Other:               uiUser{"ui-other", "ui-other-password"},
		ExperimentName:      "ui-owner-experiment",
		RunName:             "ui-owner-run",
		Param:               uiKV{"learning_rate", "0.0123"},
		Metric:              uiKV{"accuracy", "0.9375"},
		Artifact:            uiFile{"notes.txt", "hello from the mlflow-auth UI test"},
		OtherExperimentName: "ui-other-experiment",
		ModelName:           "ui-owner-model",
		Reader:              uiUser{"ui-reader", "ui-reader-password"},
		Admin:               admin,
	}
	for _, u := range []uiUser{d.Owner, d.Other, d.Reader} {
		uiCall(t, base, admin, "POST", "/api/2.0/mlflow/users/create", u, nil)
	}

	var created struct {
		ExperimentID string `json:"experiment_id"`
	}
	uiCall(t, base, d.Owner, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": d.ExperimentName}, &created)
	d.ExperimentID = created.ExperimentID
	now := time.Now().UnixMilli()
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	uiCall(t, base, d.Owner, "POST", "/api/2.0/mlflow/runs/create",
		map[string]any{"experiment_id": d.ExperimentID, "run_name": d.RunName, "start_time": now}, &run)
	d.RunID = run.Run.Info.RunID
	// Two steps of the metric: the run page shows the latest, 0.9375.
	uiCall(t, base, d.Owner, "POST", "/api/2.0/mlflow/runs/log-batch", map[string]any{
		"run_id": d.RunID,
		"params": []map[string]any{{"key": d.Param.Key, "value": d.Param.Value}},
		"metrics": []map[string]any{
			{"key": d.Metric.Key, "value": 0.875, "timestamp": now, "step": 0},
			{"key": d.Metric.Key, "value": 0.9375, "timestamp": now + 1, "step": 1},
		},
	}, nil)
	// The run's artifact_uri is mlflow-artifacts:/<experiment>/<run>/artifacts.
	uiRequest(t, base, d.Owner, "PUT",
		"/api/2.0/mlflow-artifacts/artifacts/"+d.ExperimentID+"/"+d.RunID+"/artifacts/"+d.Artifact.Path,
		"text/plain", []byte(d.Artifact.Content), nil)
	uiCall(t, base, d.Owner, "POST", "/api/2.0/mlflow/runs/update",
		map[string]any{"run_id": d.RunID, "status": "FINISHED", "end_time": now + 2}, nil)

	// A registered model whose version 1 is the run's artifacts.
	uiCall(t, base, d.Owner, "POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": d.ModelName}, nil)
	uiCall(t, base, d.Owner, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{
		"name": d.ModelName, "run_id": d.RunID, "source": "mlflow-artifacts:/" + d.ExperimentID + "/" + d.RunID + "/artifacts",
	}, nil)

	uiCall(t, base, admin, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
		map[string]any{"name": d.ModelName, "username": d.Reader.Username, "permission": "READ"}, nil)

	uiCall(t, base, d.Other, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": d.OtherExperimentName}, nil)
	// The premise of the browser checks, in REST terms: other cannot read the owner's experiment.
	for _, u := range []uiUser{d.Other, d.Reader} {
		if code := uiRequest(t, base, u, "GET", "/api/2.0/mlflow/experiments/get?experiment_id="+d.ExperimentID, "", nil, nil); code != http.StatusForbidden {
			t.Fatalf("%s reads the owner's experiment: HTTP %d, want 403", u.Username, code)
		}
	}
	return d
}

// uiCall sends body as JSON and decodes a 200 answer into out (when not nil).
func uiCall(t *testing.T, base string, u uiUser, method, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if code := uiRequest(t, base, u, method, path, "application/json", b, out); code != http.StatusOK {
		t.Fatalf("%s %s as %s: HTTP %d", method, path, u.Username, code)
	}
}

// uiRequest makes one request as u and returns its status; a 200 answer is decoded
// into out (when not nil), any other is logged.
func uiRequest(t *testing.T, base string, u uiUser, method, path, contentType string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(u.Username, u.Password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Timeout: time.Minute}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Logf("%s %s as %s: HTTP %d %s", method, path, u.Username, res.StatusCode, answer)
		return res.StatusCode
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, answer)
		}
	}
	return res.StatusCode
}

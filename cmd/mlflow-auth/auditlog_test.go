package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAuditLogLines: with --audit-log <file>, every change that commits adds
// one JSON line to the file, the same object audit-events/list returns for its
// row (id included); a change that fails adds none.
func TestAuditLogLines(t *testing.T) {
	const adminPass = "admin-password-for-tests"
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPass)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	base, _ := startServe(t, "--audit-log", path)
	send := func(method, route, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+route, strings.NewReader(body))
		req.SetBasicAuth("admin", adminPass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var answer map[string]any
		json.NewDecoder(res.Body).Decode(&answer)
		return res.StatusCode, answer
	}
	for _, c := range []struct {
		method, route, body string
		status              int
	}{
		{"POST", "/api/2.0/mlflow/users/create", `{"username": "alice", "password": "alice-password-1"}`, 200},
		{"POST", "/api/2.0/mlflow/users/create", `{"username": "alice", "password": "alice-password-1"}`, 400}, // exists: no row, no line
		{"POST", "/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "7", "username": "alice", "permission": "EDIT"}`, 200},
		{"PATCH", "/api/2.0/mlflow/experiments/permissions/update", `{"experiment_id": "8", "username": "alice", "permission": "READ"}`, 404}, // no such grant
		{"DELETE", "/api/2.0/mlflow/experiments/permissions/delete", `{"experiment_id": "7", "username": "alice"}`, 200},
	} {
		if status, answer := send(c.method, c.route, c.body); status != c.status {
			t.Fatalf("%s %s: %d %v, want %d", c.method, c.route, status, answer, c.status)
		}
	}
	_, listed := send("GET", "/api/2.0/mlflow/audit-events/list", "")
	rows, _ := listed["events"].([]any)

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var events []string
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not a JSON object: %q", i+1, line)
		}
		events = append(events, got["event"].(string))
		if len(rows) != len(lines) {
			continue
		}
		if want := rows[len(rows)-1-i]; !reflect.DeepEqual(got, want) { // the list is newest first
			t.Errorf("line %d:\n %v\nthe listed row:\n %v", i+1, got, want)
		}
	}
	// The first is the admin the start made, the second alice.
	if want := []string{"user.create", "user.create", "grant.create", "grant.delete"}; !reflect.DeepEqual(events, want) || len(rows) != len(lines) {
		t.Errorf("audit log lines are events %v (%d listed rows), want %v, one per row", events, len(rows), want)
	}
}

// TestAuditLogLinesOfRefusals: a refusal's row, written when serve stops (its
// fold window has not ended), reaches the audit log with the levels of the
// refusal: what the action required and what the caller held.
func TestAuditLogLinesOfRefusals(t *testing.T) {
	const adminPass = "admin-password-for-tests"
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPass)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	stderr, cancel, done := serveInProcess("--database-url", "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), "--audit-log", path)
	defer cancel()
	base := "http://" + waitForServing(t, stderr, done)
	send := func(user, pass, method, route, body string) int {
		t.Helper()
		return sendStatus(t, method, base+route, user, pass, body)
	}
	if status := send("admin", adminPass, "POST", "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-1"}`); status != 200 {
		t.Fatalf("create bob: %d", status)
	}
	if status := send("bob", "bob-password-1", "GET", "/api/2.0/mlflow/experiments/permissions/get?experiment_id=7&username=bob", ""); status != 403 {
		t.Fatalf("bob reads his grant on experiment 7: %d, want 403", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v; stderr:\n%s", err, stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last line is not a JSON object: %q", lines[len(lines)-1])
	}
	want := map[string]any{"event": "permission.denied", "username": "bob", "reason": "no MANAGE on the resource",
		"required_level": "MANAGE", "held_level": "READ"}
	for k, v := range want {
		if last[k] != v {
			t.Errorf("audit log line has %s=%v, want %v:\n%s", k, last[k], v, lines[len(lines)-1])
		}
	}
}

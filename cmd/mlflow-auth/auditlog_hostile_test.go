package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// TestAuditOfHostileCallers: on SQLite and Postgres, callers whose text is
// hostile (a User-Agent with bytes that are not UTF-8, a failed login's
// username with a newline and an ANSI escape, a 10 KB User-Agent) neither fail the change
// they make nor the admin's audit-events/list, and each event is one line of
// --audit-log (a file only its owner reads). No line holds a password, a
// token or a credential header, whatever the caller sent.
func TestAuditOfHostileCallers(t *testing.T) {
	databases := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "auth.db") },
		"postgres": func(t *testing.T) string { return storagetest.NewPostgresSchema(t).URL },
	}
	for name, url := range databases {
		t.Run(name, func(t *testing.T) {
			const adminPass = "admin-password-for-tests"
			t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPass)
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			stderr, cancel, done := serveInProcess("--database-url", url(t), "--audit-log", path)
			defer cancel()
			base := "http://" + waitForServing(t, stderr, done)
			var sent []string // what must never reach the trail
			send := func(user, pass, agent, method, route, body string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest(method, base+route, strings.NewReader(body))
				req.SetBasicAuth(user, pass)
				req.Header.Set("User-Agent", agent)
				sent = append(sent, pass, req.Header.Get("Authorization"), base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				answer, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(answer)
			}
			sent = append(sent, "mallory-password-1", "mallory-password-2")
			const evil = "evil\xff\xfe agent"
			for _, c := range []struct{ method, route, body string }{
				{"POST", "/api/2.0/mlflow/users/create", `{"username": "mallory", "password": "mallory-password-1"}`},
				{"PATCH", "/api/2.0/mlflow/users/update-password", `{"username": "mallory", "password": "mallory-password-2"}`},
				{"POST", "/api/2.0/mlflow/users/tokens/create", `{"username": "mallory", "name": "ci"}`},
			} {
				status, answer := send("admin", adminPass, evil, c.method, c.route, c.body)
				if status != 200 {
					t.Fatalf("%s %s with User-Agent %q: %d %s", c.method, c.route, evil, status, answer)
				}
				var created struct{ Token string }
				if json.Unmarshal([]byte(answer), &created); created.Token != "" {
					sent = append(sent, created.Token)
				}
			}
			garbage := strings.Repeat("g\x01\xff", 4000)
			if status, _ := send("ghost\n\x1b[31mforged line\x1b[0m"+strings.Repeat("x", 200), garbage, evil+strings.Repeat("x", 10<<10), "GET", "/api/2.0/mlflow/users/get?username=mallory", ""); status != 401 {
				t.Fatalf("a hostile login: %d, want 401", status)
			}
			if status, _ := send("mallory", "wrong-"+garbage, "curl/8", "GET", "/api/2.0/mlflow/users/get?username=mallory", ""); status != 401 {
				t.Fatalf("mallory's wrong password: %d, want 401", status)
			}
			if status, answer := send("admin", adminPass, "curl/8", "GET", "/api/2.0/mlflow/audit-events/list", ""); status != 200 {
				t.Fatalf("audit-events/list after hostile callers: %d %s", status, answer)
			}
			cancel() // the refusals' rows are written as serve stops
			if err := <-done; err != nil {
				t.Fatalf("serve: %v; stderr:\n%s", err, stderr)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("--audit-log file mode %v, want -rw-------", perm)
			}
			data, _ := os.ReadFile(path)
			var events []string
			for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				var ev map[string]any
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("a line that is not one JSON object: %.200q", line)
				}
				events = append(events, ev["event"].(string))
				if len(line) > 3*4096 {
					t.Errorf("a %s line of %d bytes", ev["event"], len(line))
				}
				for _, secret := range sent {
					if len(secret) >= 8 && strings.Contains(line, secret) {
						t.Errorf("a %s line holds %.20q...: %.300s", ev["event"], secret, line)
					}
				}
			}
			want := "user.create user.create user.password token.create login.failed login.failed" // the start's admin first
			if got := strings.Join(events, " "); got != want {
				t.Errorf("audit log events %q, want %q", got, want)
			}
		})
	}
}

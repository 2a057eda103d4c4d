package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// A caller's text in the audit trail (a failed login's username with a
// newline, a tab and terminal escapes) stays inside its cell of the table:
// it forges no row or column and sends no escape to the admin's terminal.
func TestAuditTableEscapesCallersText(t *testing.T) {
	srv := servicetest.Start(t, servicetest.Options{AuditFold: 50 * time.Millisecond})
	useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)
	const hostile = "ghost\n7  2026-12-02T000000Z  admin\tforged\x1b]0;owned\x07\x1b[2J\u202e"
	req, _ := http.NewRequest("GET", srv.URL+"/api/2.0/mlflow/users/current", nil)
	req.SetBasicAuth(hostile, "not-a-password")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var table string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if table = ok(t, "audit", "--event", "login.failed", "--output", "table"); strings.Count(table, "\n") > 1 {
			break
		}
	}
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2 || strings.ContainsAny(table, "\x1b\x07\t\u202e") || !strings.Contains(lines[1], `"ghost\n7`) {
		t.Fatalf("audit table of a hostile username:\n%q", table)
	}
}

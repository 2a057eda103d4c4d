package main

import (
	"strings"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// audit shows an admin who changed what, filtered, as JSON and as a table.
func TestAuditCommand(t *testing.T) {
	startServer(t)
	ok(t, "create-user", "alice", "alice-password-1")
	ok(t, "create-experiment-permission", "7", "alice", "EDIT")
	ok(t, "update-experiment-permission", "7", "alice", "READ")

	resp := decode(t, ok(t, "audit", "--resource-type", "experiment", "--resource-id", "7"), &v1.ListAuditEventsResponse{})
	var got []string
	for _, ev := range resp.Events {
		got = append(got, ev.Event+" by "+ev.Username+" "+ev.Outcome)
	}
	if want := "grant.update by admin success, grant.create by admin success"; strings.Join(got, ", ") != want {
		t.Fatalf("audit events: %q, want %s", got, want)
	}

	page := decode(t, ok(t, "audit", "--event", "grant.create", "--user", "admin", "--max-results", "1", "--since", "2026-01-01T00:00:00Z"), &v1.ListAuditEventsResponse{})
	if len(page.Events) != 1 || page.Events[0].After == "" || page.NextPageToken != "" {
		t.Fatalf("one filtered page: %v", page)
	}

	table := ok(t, "audit", "--event", "user.create", "--output", "table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID  TIME") || !strings.Contains(lines[1], "user.create") || !strings.Contains(lines[1], "alice") {
		t.Fatalf("audit table:\n%s", table)
	}
}

package main

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
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

	// A role made in another workspace is found by that workspace, and the grants by theirs.
	ok(t, "create-role", "--workspace", "team-a", "readers")
	for ws, want := range map[string]string{"team-a": "role.create", "default": "grant.update grant.create"} {
		resp := decode(t, ok(t, "audit", "--workspace", ws), &v1.ListAuditEventsResponse{})
		var got []string
		for _, ev := range resp.Events {
			got = append(got, ev.Event)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("audit --workspace %s: %q, want %s", ws, got, want)
		}
	}

	table := ok(t, "audit", "--event", "user.create", "--user", "admin", "--output", "table") // not the start's own admin
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID  TIME") || !strings.Contains(lines[1], "user.create") || !strings.Contains(lines[1], "alice") {
		t.Fatalf("audit table:\n%s", table)
	}
}

// audit shows a refusal's levels, what it required and what the caller held,
// in its table and its JSON.
func TestAuditCommandShowsRefusalLevels(t *testing.T) {
	srv := servicetest.Start(t, servicetest.Options{AuditFold: 50 * time.Millisecond})
	useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)
	ok(t, "create-user", "alice", "alice-password-1")
	ok(t, "create-experiment-permission", "7", "alice", "READ")
	useServer(t, srv.URL, "alice", "alice-password-1")
	fails(t, exitFailed, []string{"get-experiment-permission", "7", "alice"}, "PERMISSION_DENIED")
	useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)

	var resp *v1.ListAuditEventsResponse
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp = decode(t, ok(t, "audit", "--event", "permission.denied", "--user", "alice"), &v1.ListAuditEventsResponse{})
		if len(resp.Events) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(resp.Events) != 1 || resp.Events[0].RequiredLevel != "MANAGE" || resp.Events[0].HeldLevel != "READ" {
		t.Fatalf("alice's refusals: %v, want one that required MANAGE and found READ", resp.Events)
	}
	for flags, want := range map[string]int{"--required-level MANAGE --held-level READ": 1, "--required-level EDIT": 0, "--held-level EDIT": 0} {
		args := append([]string{"audit", "--user", "alice"}, strings.Fields(flags)...)
		if got := decode(t, ok(t, args...), &v1.ListAuditEventsResponse{}); len(got.Events) != want {
			t.Errorf("audit %s: %d events, want %d", flags, len(got.Events), want)
		}
	}
	table := ok(t, "audit", "--event", "permission.denied", "--user", "alice", "--output", "table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 {
		t.Fatalf("audit table:\n%s", table)
	}
	// The columns line up: each value starts where its heading does.
	for heading, want := range map[string]string{"REQUIRED_LEVEL": "MANAGE ", "HELD_LEVEL": "READ "} {
		if at := strings.Index(lines[0], heading+" "); at < 0 || !strings.HasPrefix(lines[1][min(at, len(lines[1])):], want) {
			t.Errorf("audit table has no %s %q:\n%s", heading, want, table)
		}
	}
}

package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// A database of migrations 1-3 keeps its grants through 0004, in "default",
// and then takes a grant on the same key in another workspace.
func TestUpgradeKeepsGrantsInDefault(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, storagetest.NewPostgresSchema(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	migrateBelow(t, s, 4)
	if _, err := s.pool.Exec(ctx, "INSERT INTO users (id, username, password_hash) VALUES (5, 'alice', 'x')"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "INSERT INTO grants (user_id, resource_type, resource_id, permission) VALUES (5, 'experiment', '7', 'EDIT')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	e7 := permission.Resource{Type: permission.Experiment, ID: "7"}
	if g, err := s.Grant(ctx, 5, e7); err != nil || g.Level != permission.Edit || g.Workspace != "" {
		t.Fatalf("Grant after upgrade = %+v, %v; want EDIT in default", g, err)
	}
	teamA := workspace.With(ctx, "team-a")
	if _, err := s.Grant(teamA, 5, e7); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Grant in team-a: %v, want not found", err)
	}
	if _, err := s.CreateGrant(teamA, 5, e7, permission.Read); err != nil {
		t.Fatalf("CreateGrant in team-a: %v", err)
	}
	if _, err := s.CreateGrant(ctx, 5, e7, permission.Read); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateGrant again in default: %v, want already exists", err)
	}
}

// A refusal's row written before 0009 keeps its reason and reads back with no
// levels; the rows after it have them.
func TestUpgradeKeepsAuditRowsWithoutLevels(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, storagetest.NewPostgresSchema(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	migrateBelow(t, s, 9)
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_events (at, category, event, actor_username, outcome, reason)
		VALUES (now(), 'auth', 'permission.denied', 'alice', 'denied', 'no EDIT on the resource')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.RecordAudit(ctx, storage.AuditEvent{Category: storage.AuditAuth, Event: "permission.denied", ActorUsername: "alice",
		Outcome: storage.OutcomeDenied, Reason: "no EDIT on the resource", Required: "EDIT", Held: "READ"}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListAuditEvents(ctx, storage.AuditFilter{Actor: "alice"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("alice's rows after the upgrade: %+v, %v", evs, err)
	}
	if after, before := evs[0], evs[1]; after.Required != "EDIT" || after.Held != "READ" ||
		before.Reason != "no EDIT on the resource" || before.Required != "" || before.Held != "" {
		t.Fatalf("rows after and before 0009: %+v\n%+v", after, before)
	}
}

// migrateBelow applies the migrations before version to s, as a server of that
// time left its database.
func migrateBelow(t *testing.T, s *Store, version int) {
	t.Helper()
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= version {
			break
		}
		if _, err := s.pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := s.pool.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
}

package storagetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// The bulk grant writes of the front door's after-hooks (a deleted resource's
// grants, a renamed model's) commit one row each with the grants they removed
// or moved; one that touches no grant, or fails, leaves none.
func testAuditCommitsWithResourceGrantChanges(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	ctx := context.Background()
	alice := mustCreateUser(t, s, "alice", false)
	bob := mustCreateUser(t, s, "bob", false)
	m1 := permission.Resource{Type: permission.RegisteredModel, ID: "m1"}
	m2 := permission.Resource{Type: permission.RegisteredModel, ID: "m2"}
	for _, g := range []struct {
		user int32
		r    permission.Resource
		l    permission.Level
	}{{alice.ID, m1, permission.Manage}, {bob.ID, m1, permission.Read}, {bob.ID, m2, permission.Edit}, {alice.ID, exp("1"), permission.Read}} {
		if _, err := s.CreateGrant(ctx, g.user, g.r, g.l); err != nil {
			t.Fatal(err)
		}
	}
	on := func(r permission.Resource) []storage.Grant {
		t.Helper()
		gs, err := s.GrantsOnResource(ctx, r, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return gs
	}
	levels := func(r permission.Resource) map[string]permission.Level {
		t.Helper()
		m := map[string]permission.Level{}
		for _, g := range on(r) {
			m[g.Username] = g.Level
		}
		return m
	}
	// An event the audit table refuses (its category) makes the write fail whole.
	refused := storage.WithAudit(ctx, storage.AuditEvent{Category: "nonsense", Event: "refused", Outcome: storage.OutcomeSuccess})
	if err := s.DeleteResourceGrants(refused, m1); err == nil {
		t.Fatal("DeleteResourceGrants whose audit row was refused succeeded")
	}
	if err := s.MoveGrants(refused, on(m1), m2); err == nil {
		t.Fatal("MoveGrants whose audit row was refused succeeded")
	}
	// A move that fails after it moved a grant moves none.
	if err := s.MoveGrants(audit("grant.move.types"), append(on(m1), on(exp("1"))...), m2); err == nil {
		t.Fatal("MoveGrants across types succeeded")
	}
	if got := levels(m1); len(got) != 2 || got["alice"] != permission.Manage || got["bob"] != permission.Read {
		t.Fatalf("m1's grants after the failed writes: %v", got)
	}
	if got := levels(m2); len(got) != 1 || got["bob"] != permission.Edit {
		t.Fatalf("m2's grants after the failed writes: %v", got)
	}
	if err := s.DeleteResourceGrants(audit("grant.delete_all.none"), permission.Resource{Type: permission.RegisteredModel, ID: "none"}); err != nil {
		t.Fatal(err)
	}
	wantAuditEvents(t, "failed writes and a delete of nothing", listAudit(t, s, storage.AuditFilter{}))

	read := on(m1)
	if err := s.MoveGrants(audit("grant.move"), read, m2); err != nil {
		t.Fatal(err)
	}
	if err := s.MoveGrants(audit("grant.move.again"), read, m2); err != nil { // m1 has none left
		t.Fatal(err)
	}
	if err := s.DeleteResourceGrants(audit("grant.delete_all"), m2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResourceGrants(audit("grant.delete_all.again"), m2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResourceGrants(ctx, exp("1")); err != nil { // no event, no row
		t.Fatal(err)
	}
	if got := on(exp("1")); len(got) != 0 {
		t.Fatalf("exp 1's grants after an unaudited delete: %v", got)
	}
	evs := listAudit(t, s, storage.AuditFilter{})
	wantAuditEvents(t, "a move and a delete", evs, "grant.delete_all", "grant.move")
	both := `[{"username":"alice","permission":"MANAGE"},{"username":"bob","permission":"READ"}]`
	for _, want := range []struct {
		ev            storage.AuditEvent
		before, after string
	}{
		{evs[1], both, `{"resource_type":"registered_model","resource_id":"m2","grants":` + both +
			`,"replaced":[{"username":"bob","permission":"EDIT"}]}`},
		{evs[0], both, ""},
	} {
		var after json.RawMessage
		if want.after != "" {
			after = json.RawMessage(want.after)
		}
		if !sameJSON(t, want.ev.Before, json.RawMessage(want.before)) || !sameJSON(t, want.ev.After, after) {
			t.Errorf("%s: before/after = %s/%s, want %s/%s", want.ev.Event, want.ev.Before, want.ev.After, want.before, want.after)
		}
	}
}

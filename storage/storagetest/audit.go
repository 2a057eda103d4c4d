package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// auditTests cover storage.Audit and the writes that honour storage.WithAudit.
var auditTests = []struct {
	name string
	fn   func(t *testing.T, open OpenFunc)
}{
	{"AuditRoundTrip", testAuditRoundTrip},
	{"AuditFilters", testAuditFilters},
	{"AuditPaging", testAuditPaging},
	{"AuditPrune", testAuditPrune},
	{"AuditCommitsWithUserChanges", testAuditCommitsWithUserChanges},
	{"AuditCommitsWithGrantChanges", testAuditCommitsWithGrantChanges},
	{"AuditCommitsWithTokenChanges", testAuditCommitsWithTokenChanges},
	{"AuditCommitsWithRoleChanges", testAuditCommitsWithRoleChanges},
	{"AuditCommitsWithServiceAccounts", testAuditCommitsWithServiceAccounts},
	{"AuditCommitsWithBatch", testAuditCommitsWithBatch},
	{"AuditCommitsWithResourceGrantChanges", testAuditCommitsWithResourceGrantChanges},
	{"AuditTap", testAuditTap},
	{"AuditRefusesUnknownValues", testAuditRefusesUnknownValues},
	{"AuditKeepsHostileText", testAuditKeepsHostileText},
}

var auditTime = time.Date(2026, 11, 30, 10, 0, 0, 123456000, time.UTC)

func listAudit(t *testing.T, s storage.Audit, f storage.AuditFilter) []storage.AuditEvent {
	t.Helper()
	evs, err := s.ListAuditEvents(context.Background(), f)
	if err != nil {
		t.Fatalf("ListAuditEvents(%+v): %v", f, err)
	}
	return evs
}

func auditEvents(evs []storage.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Event
	}
	return out
}

func wantAuditEvents(t *testing.T, what string, got []storage.AuditEvent, want ...string) {
	t.Helper()
	if g := auditEvents(got); !slices.Equal(g, want) {
		t.Fatalf("%s: events %q, want %q", what, g, want)
	}
}

// sameJSON compares JSON values, not their spelling (Postgres's jsonb respaces them).
func sameJSON(t *testing.T, got, want json.RawMessage) bool {
	t.Helper()
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("stored JSON %q: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return bytes.Equal(gb, wb)
}

// Every field of an event comes back as it was recorded.
func testAuditRoundTrip(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	full := storage.AuditEvent{
		Time: auditTime, Category: storage.AuditAdmin, Event: "grant.update",
		ActorUserID: 7, ActorUsername: "admin", AuthMethod: "token", TokenID: 3,
		ClientAddr: "127.0.0.1:5000", UserAgent: "mlflow/3.17.2",
		ResourceType: "experiment", ResourceID: "12", Workspace: "team-a",
		Operation: "/mlflowauth.v1.PermissionService/UpdateExperimentPermission",
		Outcome:   storage.OutcomeSuccess, Reason: "", RequestID: "req-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Before: json.RawMessage(`{"permission":"READ"}`), After: json.RawMessage(`{"permission": "EDIT"}`), Count: 1,
	}
	bare := storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied, Reason: "bad password"}
	refusal := storage.AuditEvent{Time: auditTime, Category: storage.AuditAuth, Event: "permission.denied", Outcome: storage.OutcomeDenied,
		Reason: "no EDIT on the resource", Required: "EDIT", Held: "NO_PERMISSIONS", Count: 3}
	before := time.Now().Add(-time.Second)
	if err := s.RecordAudit(context.Background(), full, refusal, bare); err != nil {
		t.Fatalf("RecordAudit: %v", err)
	}
	evs := listAudit(t, s, storage.AuditFilter{})
	wantAuditEvents(t, "all", evs, "login.failed", "permission.denied", "grant.update")
	if r := evs[1]; r.Required != refusal.Required || r.Held != refusal.Held || r.Reason != refusal.Reason || r.Count != 3 {
		t.Errorf("refusal read back as %+v, want levels %s/%s", r, refusal.Required, refusal.Held)
	}
	got := evs[2]
	if !sameJSON(t, got.Before, full.Before) || !sameJSON(t, got.After, full.After) {
		t.Errorf("before/after = %s/%s, want %s/%s", got.Before, got.After, full.Before, full.After)
	}
	got.Before, got.After, full.Before, full.After = nil, nil, nil, nil
	full.ID = got.ID
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", full) {
		t.Errorf("round trip:\n got  %+v\n want %+v", got, full)
	}
	b := evs[0]
	if b.Time.Before(before) || b.Count != 1 || b.Before != nil || b.After != nil || b.ActorUserID != 0 || b.TokenID != 0 || b.Required != "" || b.Held != "" {
		t.Errorf("an event recorded with no time, count or values: %+v", b)
	}
	if b.ID <= got.ID {
		t.Errorf("ids %d then %d: not increasing", got.ID, b.ID)
	}
}

// Each filter selects only its events, and they combine.
func testAuditFilters(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	ev := func(minutes int, event, actor, typ, id, outcome string) storage.AuditEvent {
		return storage.AuditEvent{Time: auditTime.Add(time.Duration(minutes) * time.Minute), Category: storage.AuditAdmin,
			Event: event, ActorUsername: actor, ResourceType: typ, ResourceID: id, Workspace: "default", Outcome: outcome}
	}
	refused := ev(1, "b", "bob", "experiment", "1", storage.OutcomeDenied)
	refused.Required, refused.Held = "EDIT", "READ"
	elsewhere := ev(3, "a", "bob", "experiment", "2", storage.OutcomeSuccess)
	elsewhere.Workspace = "team-a"
	if err := s.RecordAudit(context.Background(),
		ev(0, "a", "alice", "experiment", "1", storage.OutcomeSuccess),
		refused,
		ev(2, "c", "alice", "registered_model", "m", storage.OutcomeError),
		elsewhere,
	); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    storage.AuditFilter
		want []string
	}{
		{storage.AuditFilter{Actor: "alice"}, []string{"c", "a"}},
		{storage.AuditFilter{ResourceType: "experiment"}, []string{"a", "b", "a"}},
		{storage.AuditFilter{ResourceType: "experiment", ResourceID: "1"}, []string{"b", "a"}},
		{storage.AuditFilter{Workspace: "team-a"}, []string{"a"}},
		{storage.AuditFilter{ResourceType: "experiment", Workspace: "default"}, []string{"b", "a"}},
		{storage.AuditFilter{Event: "a"}, []string{"a", "a"}},
		{storage.AuditFilter{Outcome: storage.OutcomeDenied}, []string{"b"}},
		{storage.AuditFilter{Required: "EDIT"}, []string{"b"}},
		{storage.AuditFilter{Held: "READ", Actor: "bob"}, []string{"b"}},
		{storage.AuditFilter{Required: "MANAGE"}, []string{}},
		{storage.AuditFilter{Since: auditTime.Add(time.Minute), Until: auditTime.Add(3 * time.Minute)}, []string{"c", "b"}},
		{storage.AuditFilter{Actor: "bob", Event: "a"}, []string{"a"}},
		{storage.AuditFilter{Actor: "carol"}, []string{}},
	} {
		wantAuditEvents(t, fmt.Sprintf("%+v", tc.f), listAudit(t, s, tc.f), tc.want...)
	}
}

// Pages of Limit events, newest first, follow each other through BeforeID.
func testAuditPaging(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	for i := range 5 {
		if err := s.RecordAudit(context.Background(), storage.AuditEvent{Category: storage.AuditAdmin,
			Event: fmt.Sprint(i), Outcome: storage.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	f := storage.AuditFilter{Limit: 2}
	for page := 0; ; page++ {
		evs := listAudit(t, s, f)
		if page > 3 {
			t.Fatal("paging does not end")
		}
		got = append(got, auditEvents(evs)...)
		if len(evs) < f.Limit {
			break
		}
		f.BeforeID = evs[len(evs)-1].ID
	}
	if want := []string{"4", "3", "2", "1", "0"}; !slices.Equal(got, want) {
		t.Fatalf("pages: %q, want %q", got, want)
	}
}

// PruneAudit removes exactly the events older than its time.
func testAuditPrune(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	for i, at := range []time.Time{auditTime, auditTime.Add(time.Hour), auditTime.Add(2 * time.Hour)} {
		if err := s.RecordAudit(context.Background(), storage.AuditEvent{Time: at, Category: storage.AuditAdmin,
			Event: fmt.Sprint(i), Outcome: storage.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneAudit(context.Background(), auditTime.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneAudit = %d, %v; want 1", n, err)
	}
	wantAuditEvents(t, "after pruning", listAudit(t, s, storage.AuditFilter{}), "2", "1")
}

func audit(event string) context.Context {
	return storage.WithAudit(context.Background(), storage.AuditEvent{Category: storage.AuditAdmin, Event: event, Outcome: storage.OutcomeSuccess})
}

// A user change made with an audit event commits with its row; a refused one
// leaves none; a change without an event writes no row.
func testAuditCommitsWithUserChanges(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	if _, err := s.CreateUser(audit("user.create"), "alice", "h", true); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateUser(audit("user.create.duplicate"), "alice", "h", false)
	wantErr(t, "CreateUser duplicate", err, storage.ErrAlreadyExists)
	wantErr(t, "SetPasswordHash of nobody", s.SetPasswordHash(audit("password.nobody"), "nobody", "h"), storage.ErrNotFound)
	wantErr(t, "demote the last admin", s.SetAdmin(audit("admin.last"), "alice", false), storage.ErrLastAdmin)
	wantErr(t, "delete the last admin", s.DeleteUser(audit("delete.last"), "alice"), storage.ErrLastAdmin)
	wantErr(t, "promote nobody", s.SetAdmin(audit("admin.nobody"), "nobody", true), storage.ErrNotFound)
	mustCreateUser(t, s, "bob", false) // no event, no row
	for _, step := range []struct {
		event string
		do    func(ctx context.Context) error
	}{
		{"user.password", func(ctx context.Context) error { return s.SetPasswordHash(ctx, "bob", "h2") }},
		{"user.promote", func(ctx context.Context) error { return s.SetAdmin(ctx, "bob", true) }},
		{"user.demote", func(ctx context.Context) error { return s.SetAdmin(ctx, "bob", false) }},
		{"user.delete", func(ctx context.Context) error { return s.DeleteUser(ctx, "bob") }},
	} {
		if err := step.do(audit(step.event)); err != nil {
			t.Fatalf("%s: %v", step.event, err)
		}
	}
	wantAuditEvents(t, "user changes", listAudit(t, s, storage.AuditFilter{}),
		"user.delete", "user.demote", "user.promote", "user.password", "user.create")
}

// Likewise for direct grants, including one for a user deleted meanwhile.
func testAuditCommitsWithGrantChanges(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	alice := mustCreateUser(t, s, "alice", false)
	gone := mustCreateUser(t, s, "gone", false)
	if err := s.DeleteUser(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateGrant(audit("grant.gone"), gone.ID, exp("1"), permission.Read)
	wantErr(t, "grant for a deleted user", err, storage.ErrNotFound)
	if _, err := s.CreateGrant(audit("grant.create"), alice.ID, exp("1"), permission.Read); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateGrant(audit("grant.duplicate"), alice.ID, exp("1"), permission.Edit)
	wantErr(t, "duplicate grant", err, storage.ErrAlreadyExists)
	_, err = s.UpdateGrant(audit("grant.update.missing"), alice.ID, exp("2"), permission.Edit)
	wantErr(t, "update a missing grant", err, storage.ErrNotFound)
	wantErr(t, "delete a missing grant", s.DeleteGrant(audit("grant.delete.missing"), alice.ID, exp("2")), storage.ErrNotFound)
	if _, err := s.UpdateGrant(audit("grant.update"), alice.ID, exp("1"), permission.Edit); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGrant(audit("grant.delete"), alice.ID, exp("1")); err != nil {
		t.Fatal(err)
	}
	wantAuditEvents(t, "grant changes", listAudit(t, s, storage.AuditFilter{}), "grant.delete", "grant.update", "grant.create")
}

// Likewise for tokens: a duplicate name, a token of a deleted user and a
// missing one leave no row.
func testAuditCommitsWithTokenChanges(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	gone := mustCreateUser(t, s, "gone", false)
	if err := s.DeleteUser(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	tok := storage.Token{UserID: alice.ID, Name: "ci", Hash: []byte("h1"), CreatedAt: tokenTime, ExpiresAt: tokenTime.Add(time.Hour)}
	if _, err := s.CreateToken(audit("token.create"), tok); err != nil {
		t.Fatal(err)
	}
	dup := tok
	dup.Hash = []byte("h2")
	_, err := s.CreateToken(audit("token.duplicate"), dup)
	wantErr(t, "duplicate token name", err, storage.ErrAlreadyExists)
	orphan := tok
	orphan.UserID, orphan.Hash = gone.ID, []byte("h3")
	_, err = s.CreateToken(audit("token.gone"), orphan)
	wantErr(t, "token of a deleted user", err, storage.ErrNotFound)
	_, err = s.RotateToken(audit("token.rotate.missing"), alice.ID, "nope", []byte("h4"), tokenTime, tokenTime.Add(time.Hour))
	wantErr(t, "rotate a missing token", err, storage.ErrNotFound)
	wantErr(t, "revoke a missing token", s.RevokeToken(audit("token.revoke.missing"), alice.ID, "nope"), storage.ErrNotFound)
	if _, err := s.RotateToken(audit("token.rotate"), alice.ID, "ci", []byte("h5"), tokenTime, tokenTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(audit("token.revoke"), alice.ID, "ci"); err != nil {
		t.Fatal(err)
	}
	wantAuditEvents(t, "token changes", listAudit(t, s, storage.AuditFilter{}), "token.revoke", "token.rotate", "token.create")
}

// The tap (storage.AuditTap) is told of every row that committed, as
// ListAuditEvents returns it, id included, in commit order, and of no failed change.
func testAuditTap(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	tap, ok := s.(storage.AuditTap)
	if !ok {
		t.Skip("the backend has no audit tap")
	}
	var mu sync.Mutex
	var tapped []storage.AuditEvent
	tap.TapAudit(func(ev storage.AuditEvent) {
		mu.Lock()
		defer mu.Unlock()
		tapped = append(tapped, ev)
	})
	withValue := func(event string) context.Context {
		return storage.WithAudit(context.Background(), storage.AuditEvent{Category: storage.AuditAdmin, Event: event,
			Outcome: storage.OutcomeSuccess, ActorUsername: "admin", After: json.RawMessage(`{"username": "alice"}`)})
	}
	alice, err := s.CreateUser(withValue("user.create"), "alice", "h", true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateUser(withValue("user.create.duplicate"), "alice", "h", false)
	wantErr(t, "CreateUser duplicate", err, storage.ErrAlreadyExists)
	wantErr(t, "delete the last admin", s.DeleteUser(audit("delete.last"), "alice"), storage.ErrLastAdmin)
	if _, err := s.CreateGrant(audit("grant.create"), alice.ID, exp("1"), permission.Read); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateGrant(audit("grant.update.missing"), alice.ID, exp("2"), permission.Edit)
	wantErr(t, "update a missing grant", err, storage.ErrNotFound)
	mustCreateUser(t, s, "bob", true)
	if err := s.SetAdmin(audit("user.demote"), "bob", false); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(context.Background(),
		storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied},
		storage.AuditEvent{Category: storage.AuditAuth, Event: "access.denied", Outcome: storage.OutcomeDenied, Count: 3}); err != nil {
		t.Fatal(err)
	}
	rows := listAudit(t, s, storage.AuditFilter{})
	wantAuditEvents(t, "rows", rows, "access.denied", "login.failed", "user.demote", "grant.create", "user.create")
	mu.Lock()
	defer mu.Unlock()
	if len(tapped) != len(rows) {
		t.Fatalf("tapped %v, want the %d rows %v", auditEvents(tapped), len(rows), auditEvents(rows))
	}
	for i, got := range tapped {
		want := rows[len(rows)-1-i]
		if !sameJSON(t, got.After, want.After) {
			t.Errorf("tapped %s after %s, the row has %s", got.Event, got.After, want.After)
		}
		got.Before, got.After, want.Before, want.After = nil, nil, nil, nil
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("tapped\n %+v\nthe row is\n %+v", got, want)
		}
	}
}

// A row whose category or outcome is none of storage's constants is refused
// before anything is written, on every path a row takes: with the change it
// came with (one statement, and several in a transaction), and in a batch,
// whose other rows are not written either.
func testAuditRefusesUnknownValues(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	alice := mustCreateUser(t, s, "alice", false)
	if _, err := s.CreateGrant(context.Background(), alice.ID, exp("1"), permission.Read); err != nil {
		t.Fatal(err)
	}
	bad := func(category, outcome string) context.Context {
		return storage.WithAudit(context.Background(), storage.AuditEvent{Category: category, Event: "bad", Outcome: outcome})
	}
	if _, err := s.CreateUser(bad("", storage.OutcomeSuccess), "bob", "h", false); err == nil {
		t.Error("CreateUser with an event of no category: no error")
	}
	if _, err := s.UserByName(context.Background(), "bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("bob after the refused row: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateGrant(bad(storage.AuditAdmin, "ok"), alice.ID, exp("1"), permission.Edit); err == nil {
		t.Error("UpdateGrant with an event of outcome \"ok\": no error")
	}
	if err := s.SetAdmin(bad("Admin", storage.OutcomeSuccess), "alice", true); err == nil {
		t.Error("SetAdmin with an event of category \"Admin\": no error")
	}
	if u, err := s.UserByName(context.Background(), "alice"); err != nil || u.IsAdmin {
		t.Errorf("alice after the refused row: %+v, %v; want not an admin", u, err)
	}
	if g, err := s.GrantsOfUsers(context.Background(), []int32{alice.ID}); err != nil || len(g) != 1 || g[0].Level != permission.Read {
		t.Errorf("alice's grants after the refused row: %+v, %v; want READ on experiment 1", g, err)
	}
	good := storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied}
	if err := s.RecordAudit(context.Background(), good, storage.AuditEvent{Category: storage.AuditAuth, Event: "bad", Outcome: "refused"}); err == nil {
		t.Error("RecordAudit with an outcome \"refused\": no error")
	}
	wantAuditEvents(t, "after refused rows", listAudit(t, s, storage.AuditFilter{}))
}

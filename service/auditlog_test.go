package service

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// With its writer stalled, recording never waits: the buffer takes what it
// can hold and the rest is dropped. What was buffered is written, folded,
// when the writer runs and stops.
func TestAuthAuditBufferFullDrops(t *testing.T) {
	db := storagetest.NewSQLite(t)
	a := newAuthAudit(db, time.Hour)
	start := time.Now()
	for range auditBuffer + 10 {
		a.record(storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", ActorUsername: "x", Outcome: storage.OutcomeDenied})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("recording with a stalled writer took %v", took)
	}
	if n := a.dropped.Load(); n != 10 {
		t.Fatalf("dropped %d events, want 10", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // run drains the buffer and writes it before it returns
	a.run(ctx)
	evs, err := db.ListAuditEvents(context.Background(), storage.AuditFilter{})
	if err != nil || len(evs) != 1 || evs[0].Count != auditBuffer {
		t.Fatalf("rows after the writer ran: %+v, %v; want one with count %d", evs, err, auditBuffer)
	}
}

// The writer applies the retention when it starts: older events go, newer stay.
func TestAuthAuditRetention(t *testing.T) {
	db := storagetest.NewSQLite(t)
	now := time.Now()
	for _, ev := range []storage.AuditEvent{
		{Time: now.Add(-100 * 24 * time.Hour), Category: storage.AuditAdmin, Event: "old", Outcome: storage.OutcomeSuccess},
		{Time: now.Add(-time.Hour), Category: storage.AuditAdmin, Event: "recent", Outcome: storage.OutcomeSuccess},
	} {
		if err := db.RecordAudit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	a := newAuthAudit(db, time.Minute)
	a.retention = 90 * 24 * time.Hour
	runUntilTestEnds(t, a)
	var events []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs, err := db.ListAuditEvents(context.Background(), storage.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		events = events[:0]
		for _, ev := range evs {
			events = append(events, ev.Event)
		}
		if slices.Equal(events, []string{"recent"}) {
			return
		}
	}
	t.Fatalf("events after pruning: %q; want only the recent one", events)
}

// Refusals of many distinct users within one fold window are not all held
// for it: past maxOpenFolds open rows the older half are written at once, so
// memory stays bounded, and each row still stands for its own refusals.
func TestAuthAuditBoundsOpenFolds(t *testing.T) {
	db := storagetest.NewSQLite(t)
	a := newAuthAudit(db, time.Hour)
	runUntilTestEnds(t, a)
	for i := range 3 * maxOpenFolds {
		a.record(storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied,
			ActorUsername: fmt.Sprintf("sprayed-%d", i)})
		for len(a.events) > auditBuffer/2 { // never fill the buffer: no event dropped
			time.Sleep(time.Millisecond)
		}
	}
	var rows []storage.AuditEvent
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if rows, err = db.ListAuditEvents(context.Background(), storage.AuditFilter{}); err != nil {
			t.Fatal(err)
		}
		if len(rows) >= 2*maxOpenFolds {
			break
		}
	}
	if len(rows) < 2*maxOpenFolds {
		t.Fatalf("%d distinct refusals in an hour's fold window: %d rows written before it ends, want at least %d",
			3*maxOpenFolds, len(rows), 2*maxOpenFolds)
	}
	for _, ev := range rows {
		if ev.Count != 1 {
			t.Fatalf("a row of one refusal counts %d: %+v", ev.Count, ev)
		}
	}
}

// Logins refused because their address waits, as fast as a client sends
// them, fold by client address: a spray of usernames from one address is one
// row, which names no username, and one username from two addresses a row per
// address. A username that waits itself folds as any refusal of its user.
func TestAuthAuditFoldsThrottledLoginsByAddress(t *testing.T) {
	db := storagetest.NewSQLite(t)
	a := newAuthAudit(db, time.Hour)
	throttled := func(username, address, reason string) {
		a.record(storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied,
			ActorUsername: username, ClientAddr: address, Reason: reason, Operation: "/mlflowauth.v1.UserService/GetCurrentUser"})
	}
	for i := range 100 {
		throttled(fmt.Sprintf("sprayed-%d", i), "10.0.0.1", reasonAddressThrottled)
	}
	throttled("bob", "10.0.0.4", reasonAddressThrottled)
	throttled("bob", "10.0.0.5", reasonAddressThrottled)
	throttled("alice", "10.0.0.2", reasonThrottled)
	throttled("alice", "10.0.0.2", reasonThrottled)
	throttled("alice", "10.0.0.3", reasonThrottled)
	evs := writtenRows(t, a, db)
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%s %q x%d", ev.ClientAddr, ev.ActorUsername, ev.Count))
	}
	if want := []string{`10.0.0.2 "alice" x3`, `10.0.0.5 "bob" x1`, `10.0.0.4 "bob" x1`, `10.0.0.1 "" x100`}; !slices.Equal(got, want) {
		t.Fatalf("rows of throttled logins, newest first:\n got  %q\n want %q", got, want)
	}
}

// runUntilTestEnds runs a, writing what it holds when the test ends.
func runUntilTestEnds(t *testing.T, a *authAudit) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		a.run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
}

// A folded row keeps the user and token ids and the way of logging in its
// refusals share, and names none where they differ (expired tokens of one
// user; a name deleted and made anew within the window; a throttled user who
// tried a password, then a token).
func TestAuthAuditFoldKeepsOnlySharedIDs(t *testing.T) {
	db := storagetest.NewSQLite(t)
	a := newAuthAudit(db, time.Hour)
	refused := func(username, method, reason string, userID, tokenID int32) {
		a.record(storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied,
			ActorUsername: username, AuthMethod: method, ActorUserID: userID, TokenID: tokenID, Reason: reason})
	}
	refused("alice", methodToken, "expired token", 7, 3)
	refused("alice", methodToken, "expired token", 7, 3)
	refused("bob", methodToken, "expired token", 8, 4)
	refused("bob", methodToken, "expired token", 8, 5)
	refused("carol", methodToken, "expired token", 9, 6)
	refused("carol", methodToken, "expired token", 10, 6)
	refused("dave", methodBasic, reasonThrottled, 0, 0)
	refused("dave", methodToken, reasonThrottled, 0, 0)
	var got []string
	for _, ev := range writtenRows(t, a, db) {
		got = append(got, fmt.Sprintf("%s(%d) %q token %d x%d", ev.ActorUsername, ev.ActorUserID, ev.AuthMethod, ev.TokenID, ev.Count))
	}
	if want := []string{`dave(0) "" token 0 x2`, `carol(0) "token" token 6 x2`, `bob(8) "token" token 0 x2`, `alice(7) "token" token 3 x2`}; !slices.Equal(got, want) {
		t.Fatalf("folded rows, newest first:\n got  %q\n want %q", got, want)
	}
}

// writtenRows has a write every event it holds, folded, and lists the rows
// of db, newest first.
func writtenRows(t *testing.T, a *authAudit, db storage.Audit) []storage.AuditEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // run writes what is buffered before it returns
	a.run(ctx)
	evs, err := db.ListAuditEvents(context.Background(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

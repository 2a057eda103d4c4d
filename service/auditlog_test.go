package service

import (
	"context"
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

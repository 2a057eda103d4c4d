package storagetest

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// BenchmarkGrantChange measures grant updates (the level flips each time) on
// s, without an audit event and with one (storage.WithAudit), so the cost of
// the audit row shows side by side: GrantChange/audit=off and /audit=on.
func BenchmarkGrantChange(b *testing.B, s storage.Store) {
	ctx := context.Background()
	userID, r := BenchGrant(b, s)
	levels := [2]permission.Level{permission.Edit, permission.Read}
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
	}{
		{"audit=off", func() context.Context { return ctx }},
		{"audit=on", func() context.Context { return storage.WithAudit(ctx, GrantUpdateEvent(r)) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			i := 0
			before := CPUTime(b)
			for b.Loop() {
				if _, err := s.UpdateGrant(tc.ctx(), userID, r, levels[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			ReportCPU(b, before)
		})
	}
}

// BenchGrant makes the user "bench" with a READ grant on experiment 1, the
// grant the benchmarks of a change update, and returns the user's id and the
// resource.
func BenchGrant(b *testing.B, s storage.Store) (int32, permission.Resource) {
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "bench", "hash", false)
	if err != nil {
		b.Fatal(err)
	}
	r := permission.Resource{Type: permission.Experiment, ID: "1"}
	if _, err := s.CreateGrant(ctx, u.ID, r, permission.Read); err != nil {
		b.Fatal(err)
	}
	return u.ID, r
}

// GrantUpdateEvent is the audit event of an admin's update of a grant on r, as
// the service makes it, for the benchmarks of the audit row.
func GrantUpdateEvent(r permission.Resource) storage.AuditEvent {
	return storage.AuditEvent{Category: storage.AuditAdmin, Event: "grant.update",
		ActorUserID: 1, ActorUsername: "admin", AuthMethod: "basic", ClientAddr: "127.0.0.1",
		ResourceType: string(r.Type), ResourceID: r.ID, Operation: "/mlflowauth.v1.PermissionService/UpdateExperimentPermission",
		Outcome: storage.OutcomeSuccess, RequestID: "0123456789abcdef", After: []byte(`{"permission":"EDIT","username":"bench"}`)}
}

// CPUTime is the CPU the process has used (a benchmark's client and server
// alike when both run in it; never a Postgres server's), which other work on a
// shared machine disturbs less than the wall clock.
func CPUTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the CPU used since before per iteration, as cpu-ns/op.
func ReportCPU(b *testing.B, before time.Duration) {
	b.ReportMetric(float64(CPUTime(b)-before)/float64(b.N), "cpu-ns/op")
}

// Median is the middle of a benchmark's measured durations.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Sorted(slices.Values(ds))[len(ds)/2]
}

package storagetest

import (
	"context"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// BenchmarkGrantChange measures grant updates (the level flips each time) on
// s, without an audit event and with one (storage.WithAudit), so the cost of
// the audit row shows side by side: GrantChange/audit=off and /audit=on.
func BenchmarkGrantChange(b *testing.B, s storage.Store) {
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "bench", "hash", false)
	if err != nil {
		b.Fatal(err)
	}
	r := permission.Resource{Type: permission.Experiment, ID: "1"}
	if _, err := s.CreateGrant(ctx, u.ID, r, permission.Read); err != nil {
		b.Fatal(err)
	}
	levels := [2]permission.Level{permission.Edit, permission.Read}
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
	}{
		{"audit=off", func() context.Context { return ctx }},
		{"audit=on", func() context.Context {
			return storage.WithAudit(ctx, storage.AuditEvent{Category: storage.AuditAdmin, Event: "grant.update",
				ActorUserID: 1, ActorUsername: "admin", AuthMethod: "basic", ClientAddr: "127.0.0.1",
				ResourceType: string(r.Type), ResourceID: r.ID, Operation: "/mlflowauth.v1.PermissionService/UpdateExperimentPermission",
				Outcome: storage.OutcomeSuccess, RequestID: "0123456789abcdef", After: []byte(`{"permission":"EDIT","username":"bench"}`)})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.UpdateGrant(tc.ctx(), u.ID, r, levels[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

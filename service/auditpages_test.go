package service_test

import (
	"context"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// Audit ids are 64-bit (a Postgres identity, or SQLite's rowid): the trail is
// paged past id 2^31 too, every row once, over gRPC and REST.
func TestListAuditEventsPagesPast32BitIDs(t *testing.T) {
	schema := storagetest.NewPostgresSchema(t)
	pg, err := postgres.Open(context.Background(), schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	s := startServerOn(t, pg, permission.Read)
	if _, err := schema.Admin.Exec(context.Background(), "ALTER TABLE "+schema.Name+".audit_events ALTER COLUMN id RESTART WITH 4294967290"); err != nil {
		t.Fatal(err)
	}
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			erin := "erin-" + tr.name()
			admin.createUser(erin, "erin-password-1")
			for _, p := range []string{"erin-password-2", "erin-password-3", "erin-password-4"} {
				admin.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
					&v1.UpdateUserPasswordRequest{Username: erin, Password: p}, &v1.UpdateUserPasswordResponse{})
			}
			var ids []int64
			req := &v1.ListAuditEventsRequest{ResourceId: erin, MaxResults: 1}
			for range 10 {
				resp := &v1.ListAuditEventsResponse{}
				admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName, req, resp)
				for _, ev := range resp.Events {
					ids = append(ids, ev.Id)
				}
				if req.PageToken = resp.NextPageToken; req.PageToken == "" {
					break
				}
			}
			if len(ids) != 4 || ids[3] <= 1<<31 || ids[0] <= ids[1] || ids[1] <= ids[2] || ids[2] <= ids[3] {
				t.Fatalf("ids of erin's rows, page by page: %v, want 4 past 2^31, newest first", ids)
			}
		})
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// BenchmarkAuditRowFloor is the least an audit row can cost a grant change on
// SQLite when it commits in the change's transaction, as the audit trail's rows
// must. It makes the same grant update (the level flips each time) in turn, in
// blocks of 256: alone (bare), with its audit row (row), and with a row of one
// integer in a table without a secondary index, by a prepared INSERT (floor),
// and reports each one's time per change and the two rows' cost in percent of
// the bare change. What the floor row costs is the WAL frame of another page and
// a statement's execution in the transaction, which no audit row can avoid.
func BenchmarkAuditRowFloor(b *testing.B) {
	ctx := context.Background()
	s := migratedStore(b)
	if _, err := s.write.Exec("CREATE TABLE floor_rows (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	floorInsert, err := s.write.Prepare("INSERT INTO floor_rows (at) VALUES (?)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { floorInsert.Close() })
	u, err := s.CreateUser(ctx, "bench", "hash", false)
	if err != nil {
		b.Fatal(err)
	}
	r := permission.Resource{Type: permission.Experiment, ID: "1"}
	if _, err := s.CreateGrant(ctx, u.ID, r, permission.Read); err != nil {
		b.Fatal(err)
	}
	ev := storage.AuditEvent{Category: storage.AuditAdmin, Event: "grant.update",
		ActorUserID: 1, ActorUsername: "admin", AuthMethod: "basic", ClientAddr: "127.0.0.1",
		ResourceType: string(r.Type), ResourceID: r.ID, Operation: "/mlflowauth.v1.PermissionService/UpdateExperimentPermission",
		Outcome: storage.OutcomeSuccess, RequestID: "0123456789abcdef", After: []byte(`{"permission":"EDIT","username":"bench"}`)}
	levels := [2]permission.Level{permission.Edit, permission.Read}
	kinds := [3]func(l permission.Level) error{
		func(l permission.Level) error { _, err := s.UpdateGrant(ctx, u.ID, r, l); return err },
		func(l permission.Level) error {
			_, err := s.UpdateGrant(storage.WithAudit(ctx, ev), u.ID, r, l)
			return err
		},
		func(l permission.Level) error { // UpdateGrant's statements, then the floor row
			return s.inTx(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, updateGrantStatement, l, u.ID, workspace.Default, r.Type, r.ID)
				if err := oneRow(res, err); err != nil {
					return err
				}
				if _, err := scanGrant(tx.QueryRowContext(ctx, grantQuery, u.ID, workspace.Default, r.Type, r.ID)); err != nil {
					return err
				}
				_, err = tx.StmtContext(ctx, floorInsert).ExecContext(ctx, time.Now().UnixMicro())
				return err
			})
		},
	}
	const block = 256
	var took [3]time.Duration
	made := 0
	for made < b.N || made == 0 {
		for k, change := range kinds {
			start := time.Now()
			for i := range block {
				if err := change(levels[i%2]); err != nil {
					b.Fatal(err)
				}
			}
			took[k] += time.Since(start)
		}
		made += block
	}
	per := func(k int) float64 { return float64(took[k]) / float64(made) }
	b.ReportMetric(per(0), "bare-ns/op")
	b.ReportMetric(per(1), "row-ns/op")
	b.ReportMetric(per(2), "floor-ns/op")
	b.ReportMetric(100*(per(1)/per(0)-1), "row-%")
	b.ReportMetric(100*(per(2)/per(0)-1), "floor-%")
}

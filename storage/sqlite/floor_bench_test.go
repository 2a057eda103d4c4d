package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/bench/inturn"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// BenchmarkAuditRowFloor is the least an audit row can cost a grant change on
// SQLite when it commits in the change's transaction, as the audit trail's rows
// must. It makes the same grant update (the level flips each time), from one
// client and from 8 at once, in turn (inturn.Blocks): alone (bare), with its
// audit row (row), and with a row of one integer in a table without a secondary
// index, by a prepared INSERT (floor), and reports each one's time per change
// and the two rows' cost in percent of the bare change. What the floor row
// costs, the WAL frame of another page and a statement run in the
// transaction, no audit row can avoid.
func BenchmarkAuditRowFloor(b *testing.B) {
	ctx := context.Background()
	s := storagetest.NewSQLite(b)
	if _, err := s.WriteDB().Exec("CREATE TABLE floor_rows (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	floorInsert, err := s.WriteDB().Prepare("INSERT INTO floor_rows (at) VALUES (?)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { floorInsert.Close() })
	userID, r := storagetest.BenchGrant(b, s)
	kinds := [3]func(l permission.Level) error{
		func(l permission.Level) error { _, err := s.UpdateGrant(ctx, userID, r, l); return err },
		func(l permission.Level) error {
			_, err := s.UpdateGrant(storage.WithAudit(ctx, storagetest.GrantUpdateEvent(r)), userID, r, l)
			return err
		},
		func(l permission.Level) error {
			return s.UpdateGrantThen(ctx, userID, r, l, floorInsert, time.Now().UnixMicro())
		},
	}
	levels := [2]permission.Level{permission.Edit, permission.Read}
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var sent atomic.Int64
			per := inturn.Blocks(b, clients, len(kinds), func(kind int) bool {
				if err := kinds[kind](levels[sent.Add(1)%2]); err != nil {
					b.Error(err)
					return false
				}
				return true
			})
			inturn.Report(b, per, "bare", "row", "floor")
		})
	}
}

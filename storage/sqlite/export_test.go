package sqlite

import (
	"context"
	"database/sql"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// WriteDB is the pool of the store's one write connection.
func (s *Store) WriteDB() *sql.DB { return s.write }

// UpdateGrantThen makes UpdateGrant's statements, in the default workspace,
// and then stmt with args in the same transaction (BenchmarkAuditRowFloor's
// least row, in place of the audit row).
func (s *Store) UpdateGrantThen(ctx context.Context, userID int32, r permission.Resource, l permission.Level, stmt *sql.Stmt, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, updateGrantStatement, l, userID, workspace.Default, r.Type, r.ID)
		if err := oneRow(res, err); err != nil {
			return err
		}
		if _, err := scanGrant(tx.QueryRowContext(ctx, grantQuery, userID, workspace.Default, r.Type, r.ID)); err != nil {
			return err
		}
		_, err = tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		return err
	})
}

package postgres

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// migrationLock is the pg_advisory_lock key that serializes Migrate across
// replicas: the first 8 bytes of "mlflowau" ("mlflow-auth" migrations) as a bigint.
const migrationLock int64 = 0x6d6c666c6f776175

const createMigrationsTable = `CREATE TABLE schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

func migrations() ([]storage.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return storage.ReadMigrations(sub)
}

// Migrate implements storage.Migrator. It holds a session advisory lock on one
// pooled connection for the whole run, so replicas that start together apply
// each migration once; each migration runs in its own transaction.
func (s *Store) Migrate(ctx context.Context) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return classify(err)
	}
	defer conn.Release()
	// The lock belongs to the session: a connection that may still hold it must
	// not go back to the pool, so on any doubt it is closed (the pool drops it).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
		return classify(err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrationLock); uerr != nil {
			_ = conn.Conn().Close(uctx)
			err = errors.Join(err, classify(uerr))
		}
	}()
	// Look before creating: CREATE TABLE IF NOT EXISTS still needs the CREATE
	// privilege, which a runtime role on an up-to-date database may lack.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return classify(err)
	}
	if err := refuseForeignTables(ctx, conn, ms, exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
			return classify(err)
		}
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var applied bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).Scan(&applied); err != nil || applied {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// refuseForeignTables answers storage.ForeignTables when no migration is
// applied (no schema_migrations, or the empty one a start that failed left)
// but the schema the migrations create in (current_schema(), the first on the
// search_path) has a relation of a name they create: CREATE TABLE would fail
// there, and only there.
func refuseForeignTables(ctx context.Context, conn *pgxpool.Conn, ms []storage.Migration, migrationsTable bool) error {
	if migrationsTable {
		var applied bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations)").Scan(&applied); err != nil || applied {
			return classify(err)
		}
	}
	rows, err := conn.Query(ctx, "SELECT t FROM unnest($1::text[]) t WHERE EXISTS "+
		"(SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = t AND n.nspname = current_schema()) ORDER BY t", storage.Tables(ms))
	if err != nil {
		return classify(err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return classify(err)
	}
	if len(found) > 0 {
		return storage.ForeignTables(found)
	}
	return nil
}

// MigrationStatus implements storage.Migrator. It changes nothing: a database
// without schema_migrations has no migration applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]storage.MigrationState, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, classify(err)
	}
	if exists {
		rows, err := s.pool.Query(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return nil, classify(err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return nil, classify(err)
		}
		for _, v := range versions {
			applied[int(v)] = true
		}
	}
	return storage.Status(ms, applied), nil
}

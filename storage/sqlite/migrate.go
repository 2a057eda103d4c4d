package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)`

func migrations() ([]storage.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return storage.ReadMigrations(sub)
}

// Migrate implements storage.Migrator. Each migration runs in its own write
// transaction; the single writer connection serializes concurrent callers.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for i, m := range ms {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if i == 0 {
				if err := refuseForeignTables(ctx, tx, ms); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// refuseForeignTables answers storage.ForeignTables when the database has no
// migration applied (no schema_migrations, or an empty one) but a table, view or
// index (one namespace in SQLite) of a name ms create. It runs in the first
// migration's write transaction, so a replica migrating meanwhile is seen whole.
func refuseForeignTables(ctx context.Context, tx *sql.Tx, ms []storage.Migration) error {
	var applied bool
	err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')").Scan(&applied)
	if err == nil && applied {
		err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations)").Scan(&applied)
	}
	if err != nil || applied {
		return err
	}
	names, err := json.Marshal(storage.Tables(ms))
	if err != nil {
		return err
	}
	found, err := queryAll(ctx, tx, func(row scanner) (name string, err error) { return name, row.Scan(&name) },
		"SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'index') AND name IN (SELECT value FROM json_each(?)) ORDER BY name",
		string(names))
	if err != nil || len(found) == 0 {
		return err
	}
	return storage.ForeignTables(found)
}

// MigrationStatus implements storage.Migrator. It changes nothing: a database
// without schema_migrations has no migration applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]storage.MigrationState, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var tables int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&tables); err != nil {
		return nil, classify(err)
	}
	var versions []int
	if tables > 0 {
		versions, err = queryAll(ctx, s.read, func(row scanner) (v int, err error) { return v, row.Scan(&v) }, "SELECT version FROM schema_migrations")
		if err != nil {
			return nil, err
		}
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	return storage.Status(ms, applied), nil
}

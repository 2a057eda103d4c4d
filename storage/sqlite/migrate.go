package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"slices"

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
	if err := s.refuseForeignTables(ctx, ms); err != nil {
		return err
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
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

// refuseForeignTables answers storage.ForeignTables when the database has
// no schema_migrations yet but tables of the names ms create.
func (s *Store) refuseForeignTables(ctx context.Context, ms []storage.Migration) error {
	names, err := json.Marshal(append(storage.Tables(ms), "schema_migrations"))
	if err != nil {
		return err
	}
	found, err := queryAll(ctx, s, func(row scanner) (n string, err error) { return n, row.Scan(&n) },
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (SELECT value FROM json_each(?)) ORDER BY name", string(names))
	if err != nil || len(found) == 0 || slices.Contains(found, "schema_migrations") {
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
		versions, err = queryAll(ctx, s, func(row scanner) (v int, err error) { return v, row.Scan(&v) }, "SELECT version FROM schema_migrations")
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

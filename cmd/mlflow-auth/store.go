package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
)

// database is a store that can also migrate itself.
type database interface {
	storage.Store
	storage.Roles
	storage.Tokens
	storage.Audit
	storage.Migrator
}

// openDatabase picks the backend from the URL's scheme.
func openDatabase(ctx context.Context, rawURL string) (database, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path, err := sqlite.PathFromURL(rawURL)
		if err != nil {
			return nil, err
		}
		return sqlite.Open(path)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err := postgres.Open(ctx, rawURL)
		if err != nil {
			return nil, err // the driver's errors never carry the password
		}
		return db, nil
	}
	return nil, fmt.Errorf("unsupported database URL %q: use sqlite:///file.db or postgres://user:password@host:port/db",
		redactURL(rawURL))
}

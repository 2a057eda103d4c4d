package storage

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Migration is one embedded schema step, named "<version>_<name>.sql".
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ReadMigrations loads the *.sql files of fsys in version order.
func ReadMigrations(fsys fs.FS) ([]Migration, error) {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must be <version>_<name>.sql", f)
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("two migrations have version %d", ms[i].Version)
		}
	}
	return ms, nil
}

// Status merges the known migrations with the set of applied versions.
func Status(ms []Migration, applied map[int]bool) []MigrationState {
	out := make([]MigrationState, len(ms))
	for i, m := range ms {
		out[i] = MigrationState{Version: m.Version, Name: m.Name, Applied: applied[m.Version]}
	}
	return out
}

// createdTable finds the tables a migration creates.
var createdTable = regexp.MustCompile(`(?i)\bCREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)`)

// Tables are the tables ms create, in order.
func Tables(ms []Migration) []string {
	var tables []string
	for _, m := range ms {
		for _, match := range createdTable.FindAllStringSubmatch(m.SQL, -1) {
			tables = append(tables, match[1])
		}
	}
	return tables
}

// ForeignTables is Migrate's refusal of a database that has none of
// mlflow-auth's migrations applied but tables of the names they create: most
// likely MLflow's own basic-auth database (its users table), where the first
// migration would fail halfway through with the driver's words.
func ForeignTables(found []string) error {
	return fmt.Errorf("the database has tables that mlflow-auth did not make (%s): it may be MLflow's own database, "+
		"whose basic-auth tables have these names; give mlflow-auth a database of its own (`mlflow-auth import` reads MLflow's)",
		strings.Join(found, ", "))
}

package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The resolver asks RoleGrantsOfUser about one resource on every request, so
// its plan must start from the user's assignments (not the workspace's 10,000
// roles) and find the permissions that name the resource by the whole key of
// role_permissions (not every permission of the type of each role).
func TestRoleGrantsOnPlan(t *testing.T) {
	all := queryPlan(t, roleGrantsOnQuery, 1, "default", "experiment", "7")
	if strings.Contains(all, "SCAN r") || strings.Contains(all, "roles_1 (workspace=?)") ||
		!strings.Contains(all, "role_permissions_1 (role_id=? AND resource_type=? AND resource_pattern=?)") {
		t.Fatalf("plan of roleGrantsOnQuery:\n%s", all)
	}
}

// users/get reads a user's grants; in a store of 10M grants one user's rows lie
// far apart in the table, so they must come from the index alone, already in
// the order asked for.
func TestGrantsOfUsersPlan(t *testing.T) {
	all := queryPlan(t, grantsOfUsersQuery, "[1]", "default")
	if !strings.Contains(all, "SEARCH g USING COVERING INDEX grants_user_id") || strings.Contains(all, "TEMP B-TREE") {
		t.Fatalf("plan of grantsOfUsersQuery:\n%s", all)
	}
}

// migratedStore is a fresh, migrated store that the test's end closes.
func migratedStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of query on a fresh, migrated store.
func queryPlan(t *testing.T, query string, args ...any) string {
	ctx := context.Background()
	s := migratedStore(t)
	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// Counting the admins must not read every user of a store of a million.
func TestCountAdminsPlan(t *testing.T) {
	if all := queryPlan(t, countAdminsQuery); !strings.Contains(all, "INDEX users_admins") {
		t.Fatalf("plan of countAdminsQuery:\n%s", all)
	}
}

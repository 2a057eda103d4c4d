package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// users/get reads a user's grants; in a store of 10M grants one user's rows lie
// on as many heap pages, so they must come from the index alone.
func TestGrantsOfUsersPlan(t *testing.T) {
	if all := queryPlan(t, grantsOfUsersQuery, []int32{1}, "default"); !strings.Contains(all, "Index Only Scan using grants_user_id on grants g") {
		t.Fatalf("plan of grantsOfUsersQuery:\n%s", all)
	}
}

// Counting the admins must not read every user of a store of a million.
func TestCountAdminsPlan(t *testing.T) {
	if all := queryPlan(t, countAdminsQuery); !strings.Contains(all, " users_admins") {
		t.Fatalf("plan of countAdminsQuery:\n%s", all)
	}
}

// queryPlan is Postgres's EXPLAIN of query on a fresh, migrated schema. A fresh
// table is small enough to scan, so the plan is asked for with scans off.
func queryPlan(t *testing.T, query string, args ...any) string {
	ctx := context.Background()
	s, err := Open(ctx, storagetest.NewPostgresSchema(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "RESET enable_seqscan")
	rows, err := conn.Query(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

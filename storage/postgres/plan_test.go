package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// users/get reads a user's grants; in a store of 10M grants one user's rows lie
// on as many heap pages, so they must come from the index alone. A fresh table
// is small enough to scan, so the plan is asked for with scans off.
func TestGrantsOfUsersPlan(t *testing.T) {
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
	rows, err := conn.Query(ctx, "EXPLAIN "+grantsOfUsersQuery, []int32{1}, "default")
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
	if all := strings.Join(plan, "\n"); !strings.Contains(all, "Index Only Scan using grants_user_id on grants g") {
		t.Fatalf("plan of grantsOfUsersQuery:\n%s", all)
	}
}

package sqlite

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Rows written before storage.AuditText cleaned them may hold a caller's bytes
// as they came; they are read back as the API can answer them.
func TestOlderAuditRowsReadAsValidText(t *testing.T) {
	ctx := context.Background()
	s := migratedStore(t)
	if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_events (at, category, event, actor_username, user_agent, outcome)
		VALUES (1, 'admin', 'user.create', 'admin', CAST(X'6576696cff00' AS TEXT), 'success')`); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListAuditEvents(ctx, storage.AuditFilter{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("rows: %+v, %v", evs, err)
	}
	if agent := evs[0].UserAgent; !utf8.ValidString(agent) || agent != storage.AuditText("evil\xff\x00") {
		t.Fatalf("an older row's user agent read as %q", agent)
	}
}

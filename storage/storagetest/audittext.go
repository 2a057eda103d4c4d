package storagetest

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// A caller's text reaches rows as it came (a failed login's username, a user
// agent): invalid UTF-8, NUL, newlines, escapes, any length. Every row is
// still written, on both backends, alongside the rows of the same batch, as
// valid UTF-8 without NUL and at most storage.MaxAuditText bytes a column;
// text that was fine is kept as it was.
func testAuditKeepsHostileText(t *testing.T, open OpenFunc) {
	s := migrated(t, open)
	hostile := []string{"nul\x00byte", "bad\xff\xfeutf8", strings.Repeat("é", 6000), "two\nlines \x1b[2J\"quoted\""}
	var evs []storage.AuditEvent
	for _, text := range hostile {
		evs = append(evs, storage.AuditEvent{Category: storage.AuditAuth, Event: "login.failed", Outcome: storage.OutcomeDenied,
			ActorUsername: text, UserAgent: text, Reason: "wrong password", ClientAddr: "127.0.0.1"})
	}
	if err := s.RecordAudit(context.Background(), evs...); err != nil {
		t.Fatalf("RecordAudit of hostile text: %v", err)
	}
	// A change whose event holds such text still commits, with its row.
	ctx := storage.WithAudit(context.Background(), storage.AuditEvent{Category: storage.AuditAdmin, Event: "user.create",
		Outcome: storage.OutcomeSuccess, ActorUsername: "admin", UserAgent: "agent\xff\x00" + strings.Repeat("x", 10<<10)})
	if _, err := s.CreateUser(ctx, "hostile-agent", "h", false); err != nil {
		t.Fatalf("CreateUser with a hostile user agent in its event: %v", err)
	}
	got := listAudit(t, s, storage.AuditFilter{})
	if len(got) != len(hostile)+1 {
		t.Fatalf("rows: %d, want %d", len(got), len(hostile)+1)
	}
	for _, ev := range got {
		for _, text := range []string{ev.ActorUsername, ev.UserAgent} {
			if !utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0 || len(text) > storage.MaxAuditText {
				t.Errorf("%s row keeps %d bytes %.40q", ev.Event, len(text), text)
			}
		}
	}
	if kept := got[1].ActorUsername; kept != hostile[3] {
		t.Errorf("valid text changed: %q, want %q", kept, hostile[3])
	}
	if cut := got[2].ActorUsername; !strings.HasPrefix(hostile[2], cut) || len(cut) < storage.MaxAuditText-1 {
		t.Errorf("a long username kept as %d bytes, want its first %d", len(cut), storage.MaxAuditText)
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

var _ storage.Audit = (*Store)(nil)

func microArg(t time.Time) any { return t.UnixMicro() }

func jsonArg(v json.RawMessage) any {
	if v == nil {
		return nil
	}
	return string(v)
}

func placeholder(int) string { return "?" }

var insertAudit = "INSERT INTO audit_events (" + storage.AuditColumns + ") VALUES (?" + strings.Repeat(", ?", storage.AuditParams-1) + ")"

// audited inserts the event WithAudit put in ctx, if any, in tx.
func audited(ctx context.Context, tx *sql.Tx) (err error) {
	ev, ok := storage.AuditFrom(ctx)
	if !ok {
		return nil
	}
	if ev.ID, err = insertEvent(ctx, tx, ev); err != nil {
		return err
	}
	storage.AuditWritten(ctx, ev)
	return nil
}

// insertEvent inserts ev's row and returns its id.
func insertEvent(ctx context.Context, tx *sql.Tx, ev storage.AuditEvent) (int64, error) {
	args, err := storage.AuditArgs(ev, microArg, jsonArg)
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, insertAudit, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// TapAudit implements storage.AuditTap.
func (s *Store) TapAudit(f func(storage.AuditEvent)) { s.tap = f }

// auditEnded tells the tap of the audit row a transaction of ctx wrote, if it
// committed (err is nil), and returns err.
func (s *Store) auditEnded(ctx context.Context, err error) error {
	if ev, ok := storage.AuditEnded(ctx, err == nil); ok && s.tap != nil {
		s.tap(ev)
	}
	return err
}

// writer is the write connection or a transaction on it.
type writer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// change runs one write on the write connection or, when ctx carries an audit
// event (storage.WithAudit), in a transaction that inserts the event after it.
func (s *Store) change(ctx context.Context, fn func(writer) error) error {
	if _, ok := storage.AuditFrom(ctx); !ok {
		return classify(fn(s.write))
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// RecordAudit implements storage.Audit.
func (s *Store) RecordAudit(ctx context.Context, evs ...storage.AuditEvent) error {
	written := make([]storage.AuditEvent, len(evs))
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		for i, ev := range evs {
			written[i] = ev.Normalized()
			if written[i].ID, err = insertEvent(ctx, tx, written[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && s.tap != nil {
		for _, ev := range written {
			s.tap(ev)
		}
	}
	return err
}

// ListAuditEvents implements storage.Audit.
func (s *Store) ListAuditEvents(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	where, args := f.Where(placeholder, microArg)
	return queryAll(ctx, s.read, scanAudit, "SELECT id, "+storage.AuditColumns+" FROM audit_events WHERE "+where+
		" ORDER BY id DESC LIMIT "+strconv.Itoa(sqlLimit(f.Limit)), args...)
}

func scanAudit(row scanner) (storage.AuditEvent, error) {
	var ev storage.AuditEvent
	var at int64
	var actor, token sql.NullInt32
	var before, after sql.NullString
	err := row.Scan(&ev.ID, &at, &ev.Category, &ev.Event, &actor, &ev.ActorUsername, &ev.AuthMethod, &token,
		&ev.ClientAddr, &ev.UserAgent, &ev.ResourceType, &ev.ResourceID, &ev.Workspace, &ev.Operation,
		&ev.Outcome, &ev.Reason, &ev.RequestID, &ev.TraceID, &before, &after, &ev.Count,
		&ev.Required, &ev.Held)
	ev.Time = time.UnixMicro(at).UTC()
	ev.ActorUserID, ev.TokenID = actor.Int32, token.Int32
	if before.Valid {
		ev.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		ev.After = json.RawMessage(after.String)
	}
	// Rows written before Normalized cleaned text may hold a caller's bytes as
	// they came, which the API cannot answer.
	return ev.Normalized(), err
}

// PruneAudit implements storage.Audit.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM audit_events WHERE at < ?", before.UnixMicro())
	if err != nil {
		return 0, classify(err)
	}
	n, err := res.RowsAffected()
	return n, classify(err)
}

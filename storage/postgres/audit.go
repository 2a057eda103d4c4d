package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

var _ storage.Audit = (*Store)(nil)

func timeArg(t time.Time) any { return t }

func jsonArg(v json.RawMessage) any {
	if v == nil {
		return nil
	}
	return string(v)
}

func placeholder(n int) string { return "$" + strconv.Itoa(n) }

var insertAudit = func() string {
	vals := "$1"
	for n := 2; n <= 20; n++ {
		vals += ", " + placeholder(n)
	}
	return "INSERT INTO audit_events (" + storage.AuditColumns + ") VALUES (" + vals + ")"
}()

// audited inserts the event WithAudit put in ctx, if any, in tx.
func audited(ctx context.Context, tx pgx.Tx) error {
	ev, ok := storage.AuditFrom(ctx)
	if !ok {
		return nil
	}
	_, err := tx.Exec(ctx, insertAudit, storage.AuditArgs(ev, timeArg, jsonArg)...)
	return err
}

// querier is the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// change runs one write on the pool or, when ctx carries an audit event
// (storage.WithAudit), in a transaction that inserts the event after it.
func (s *Store) change(ctx context.Context, fn func(querier) error) error {
	if _, ok := storage.AuditFrom(ctx); !ok {
		return classify(fn(s.pool))
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return audited(ctx, tx)
	})
}

// RecordAudit implements storage.Audit.
func (s *Store) RecordAudit(ctx context.Context, evs ...storage.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, ev := range evs {
			batch.Queue(insertAudit, storage.AuditArgs(ev.Normalized(), timeArg, jsonArg)...)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// ListAuditEvents implements storage.Audit.
func (s *Store) ListAuditEvents(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	where, args := f.Where(placeholder, timeArg)
	args = append(args, limitArg(f.Limit))
	return queryAll(ctx, s, scanAudit, "SELECT id, "+storage.AuditColumns+" FROM audit_events WHERE "+where+
		" ORDER BY id DESC LIMIT "+placeholder(len(args)), args...)
}

func scanAudit(row pgx.Row) (storage.AuditEvent, error) {
	var ev storage.AuditEvent
	var actor, token *int32
	var before, after *string
	err := row.Scan(&ev.ID, &ev.Time, &ev.Category, &ev.Event, &actor, &ev.ActorUsername, &ev.AuthMethod, &token,
		&ev.ClientAddr, &ev.UserAgent, &ev.ResourceType, &ev.ResourceID, &ev.Workspace, &ev.Operation,
		&ev.Outcome, &ev.Reason, &ev.RequestID, &ev.TraceID, &before, &after, &ev.Count)
	ev.Time = ev.Time.UTC()
	if actor != nil {
		ev.ActorUserID = *actor
	}
	if token != nil {
		ev.TokenID = *token
	}
	if before != nil {
		ev.Before = json.RawMessage(*before)
	}
	if after != nil {
		ev.After = json.RawMessage(*after)
	}
	return ev, err
}

// PruneAudit implements storage.Audit.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM audit_events WHERE at < $1", before)
	return tag.RowsAffected(), classify(err)
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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

// auditValues are the placeholders of storage.AuditColumns.
var auditValues = func() string {
	vals := "$1"
	for n := 2; n <= storage.AuditParams; n++ {
		vals += ", " + placeholder(n)
	}
	return vals
}()

var insertAudit = "INSERT INTO audit_events (" + storage.AuditColumns + ") VALUES (" + auditValues + ") RETURNING id"

// audited inserts the event WithAudit put in ctx, if any, in tx.
func audited(ctx context.Context, tx pgx.Tx) error {
	ev, ok := storage.AuditFrom(ctx)
	if !ok {
		return nil
	}
	args, err := storage.AuditArgs(ev, timeArg, jsonArg)
	if err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, insertAudit, args...).Scan(&ev.ID); err != nil {
		return err
	}
	storage.AuditWritten(ctx, ev)
	return nil
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

// querier is the pool, a transaction, or an audited change's one statement.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// change runs fn's write on the pool. When ctx carries an audit event
// (storage.WithAudit), the write and the event's row go to Postgres as one
// pipeline, which it runs as one implicit transaction, in the one round trip
// of the bare write (BEGIN, write, INSERT, COMMIT took four). The row is
// inserted only if the write wrote: a transaction gets its id at its first
// write (pg_current_xact_id_if_assigned), and an UPDATE or DELETE that matched
// nothing, or an INSERT ... SELECT that selected nothing, gets none. So fn
// must make one statement, whose only failure once it ran is having written
// nothing (ErrNotFound); a change of more statements uses inTx and audited.
func (s *Store) change(ctx context.Context, fn func(querier) error) error {
	ev, ok := storage.AuditFrom(ctx)
	if !ok {
		return classify(fn(s.pool))
	}
	return s.auditEnded(ctx, s.retried(ctx, func() error {
		q := &auditedStatement{pool: s.pool, ev: ev}
		err := fn(q)
		if cerr := q.finish(); err == nil {
			err = cerr
		}
		if err == nil && q.id != 0 {
			ev.ID = q.id
			storage.AuditWritten(ctx, ev)
		}
		return err
	}))
}

// insertAuditIfWritten is insertAudit for change: no row unless the
// transaction has written.
var insertAuditIfWritten = "INSERT INTO audit_events (" + storage.AuditColumns + ") SELECT " + auditValues +
	" WHERE pg_current_xact_id_if_assigned() IS NOT NULL RETURNING id"

var errOneStatement = errors.New("postgres: an audited change through change makes one statement; use inTx and audited for more")

// auditedStatement is the querier of an audited change: its one statement is
// sent in one batch with the audit row.
type auditedStatement struct {
	pool *pgxpool.Pool
	ev   storage.AuditEvent
	sent bool
	br   pgx.BatchResults // until the audit row's id is read
	id   int64            // the audit row's, 0 when the statement wrote nothing
}

func (q *auditedStatement) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if q.sent {
		return nil, errOneStatement
	}
	q.sent = true
	row, err := storage.AuditArgs(q.ev, timeArg, jsonArg)
	if err != nil {
		return nil, err
	}
	batch := &pgx.Batch{}
	batch.Queue(sql, args...)
	batch.Queue(insertAuditIfWritten, row...)
	q.br = q.pool.SendBatch(ctx, batch)
	return q.br, nil
}

func (q *auditedStatement) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := q.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := q.finish(); err == nil {
		err = cerr
	}
	return tag, err
}

func (q *auditedStatement) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	br, err := q.send(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return auditedRow{q, br.QueryRow()}
}

// finish reads the audit row's id, if one was inserted, and ends the batch.
func (q *auditedStatement) finish() error {
	if q.br == nil {
		return nil
	}
	br := q.br
	q.br = nil
	err := br.QueryRow().Scan(&q.id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil // the statement wrote nothing
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// auditedRow is the statement's row: reading it finishes the batch.
type auditedRow struct {
	q   *auditedStatement
	row pgx.Row
}

func (r auditedRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.q.finish(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// RecordAudit implements storage.Audit.
func (s *Store) RecordAudit(ctx context.Context, evs ...storage.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	written := make([]storage.AuditEvent, len(evs))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for i, ev := range evs {
			written[i] = ev.Normalized()
			args, err := storage.AuditArgs(written[i], timeArg, jsonArg)
			if err != nil {
				return err
			}
			batch.Queue(insertAudit, args...).QueryRow(func(row pgx.Row) error {
				return row.Scan(&written[i].ID)
			})
		}
		return tx.SendBatch(ctx, batch).Close()
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
		&ev.Outcome, &ev.Reason, &ev.RequestID, &ev.TraceID, &before, &after, &ev.Count,
		&ev.Required, &ev.Held)
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

package postgres

import (
	"context"
	"encoding/json"
	"errors"
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
	return "INSERT INTO audit_events (" + storage.AuditColumns + ") VALUES (" + vals + ") RETURNING id"
}()

// audited inserts the event WithAudit put in ctx, if any, in tx.
func audited(ctx context.Context, tx pgx.Tx) error {
	ev, ok := storage.AuditFrom(ctx)
	if !ok {
		return nil
	}
	if err := tx.QueryRow(ctx, insertAudit, storage.AuditArgs(ev, timeArg, jsonArg)...).Scan(&ev.ID); err != nil {
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

// querier is the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// change runs one write on the pool or, when ctx carries an audit event
// (storage.WithAudit), in a transaction that inserts the event after it. That
// transaction costs two round trips, not the four of BEGIN, the write, the
// INSERT and COMMIT each on its own: BEGIN is pipelined with fn's first
// statement, and the INSERT with COMMIT.
func (s *Store) change(ctx context.Context, fn func(querier) error) error {
	ev, ok := storage.AuditFrom(ctx)
	if !ok {
		return classify(fn(s.pool))
	}
	return s.auditEnded(ctx, s.retried(ctx, func() error { return s.tryPipelined(ctx, ev, fn) }))
}

func (s *Store) tryPipelined(ctx context.Context, ev storage.AuditEvent, fn func(querier) error) (err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release() // the pool drops a connection still in a transaction
	tx := &pipelinedTx{conn: c.Conn()}
	defer func() {
		if err != nil {
			tx.rollback(ctx)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.closePending(); err != nil {
		return err
	}
	batch := &pgx.Batch{}
	batch.Queue(insertAudit, storage.AuditArgs(ev, timeArg, jsonArg)...)
	if tx.begun {
		batch.Queue("COMMIT")
	}
	br := tx.conn.SendBatch(ctx, batch)
	if err := br.QueryRow().Scan(&ev.ID); err != nil {
		return errors.Join(err, br.Close())
	}
	if err := br.Close(); err != nil {
		return err
	}
	storage.AuditWritten(ctx, ev)
	return nil
}

// pipelinedTx is the querier of change's transaction: its first statement goes
// out in one batch with BEGIN, later ones on their own.
type pipelinedTx struct {
	conn    *pgx.Conn
	begun   bool
	pending pgx.BatchResults // the first statement's batch, until its row is read
}

func (t *pipelinedTx) begin(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue(sql, args...)
	t.begun = true
	br := t.conn.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		return nil, errors.Join(err, br.Close())
	}
	return br, nil
}

func (t *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.closePending(); err != nil {
		return pgconn.CommandTag{}, err
	}
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.closePending(); err != nil {
		return errRow{err}
	}
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	t.pending = br
	return pendingRow{t, br.QueryRow()}
}

// closePending reads the rest of the first statement's batch.
func (t *pipelinedTx) closePending() error {
	if t.pending == nil {
		return nil
	}
	err := t.pending.Close()
	t.pending = nil
	return err
}

// rollback ends a failed transaction; a connection it cannot clean up is closed
// (and so dropped by the pool).
func (t *pipelinedTx) rollback(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	_ = t.closePending() // its error is the one being returned
	if t.conn.PgConn().TxStatus() != 'I' {
		if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
			_ = t.conn.Close(ctx)
		}
	}
}

// pendingRow is the first statement's row: reading it finishes its batch.
type pendingRow struct {
	t   *pipelinedTx
	row pgx.Row
}

func (r pendingRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.t.closePending(); err == nil {
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
			batch.Queue(insertAudit, storage.AuditArgs(written[i], timeArg, jsonArg)...).QueryRow(func(row pgx.Row) error {
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

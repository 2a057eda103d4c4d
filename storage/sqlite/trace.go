package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"

	"github.com/mlflow-auth/mlflow-auth/tracing"
)

// tracedConnector opens SQLite connections whose queries each get a span (named
// after the first keyword, holding the SQL text, never the arguments) inside a
// traced request. database/sql has no hook for it, so the driver's connection
// and statements are wrapped; every interface they serve is passed through.
type tracedConnector struct {
	dsn    string
	driver *sqlite.Driver
}

func (c tracedConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return tracedConn{conn.(sqliteConn), map[string]driver.Stmt{}}, nil
}

func (c tracedConnector) Driver() driver.Driver { return c.driver }

// sqliteConn is what modernc.org/sqlite's connection serves and the store uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type tracedConn struct {
	sqliteConn
	kept map[string]driver.Stmt // the statements of keptStatements it prepared; a connection serves one caller at a time
}

// keptStatements are the statements of every request that SQLite takes about as
// long to parse and plan as to run: the reads of a decision and of users/get,
// a user read by name (the target of most admin calls), a grant change's
// reads and update, and the audit row's insert (made in transactions, where
// database/sql's prepared statements would wait for the one write
// connection). Each connection prepares them once.
var keptStatements = map[string]bool{insertAudit: true, roleGrantsOnQuery: true,
	grantsOfUsersQuery: true, rolesOfUserQuery: true, permissionsOfRolesQuery: true,
	userByNameQuery: true, grantQuery: true, updateGrantStatement: true}

// keptStatement is c's prepared statement of query, if query is one of keptStatements.
func (c tracedConn) keptStatement(ctx context.Context, query string) (sqliteStmt, bool, error) {
	if !keptStatements[query] {
		return nil, false, nil
	}
	st, ok := c.kept[query]
	if !ok {
		fresh, err := c.PrepareContext(ctx, query)
		if err != nil {
			return nil, true, err
		}
		st = fresh
		c.kept[query] = st
	}
	return st.(sqliteStmt), true, nil
}

func (c tracedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if st, kept, err := c.keptStatement(ctx, query); kept {
		if err != nil {
			return nil, err
		}
		return st.ExecContext(ctx, args)
	}
	ctx, span := startQuery(ctx, query)
	res, err := c.sqliteConn.ExecContext(ctx, query, args)
	endQuery(span, err)
	return res, err
}

func (c tracedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if st, kept, err := c.keptStatement(ctx, query); kept {
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args)
	}
	ctx, span := startQuery(ctx, query)
	rows, err := c.sqliteConn.QueryContext(ctx, query, args)
	endQuery(span, err)
	return rows, err
}

func (c tracedConn) Close() error {
	var errs []error
	for _, st := range c.kept {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, c.sqliteConn.Close())...)
}

func (c tracedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return tracedStmt{st.(sqliteStmt), query}, nil
}

// sqliteStmt is what the driver's prepared statement serves.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type tracedStmt struct {
	sqliteStmt
	query string
}

func (s tracedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, span := startQuery(ctx, s.query)
	res, err := s.sqliteStmt.ExecContext(ctx, args)
	endQuery(span, err)
	return res, err
}

func (s tracedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, span := startQuery(ctx, s.query)
	rows, err := s.sqliteStmt.QueryContext(ctx, args)
	endQuery(span, err)
	return rows, err
}

// startQuery starts a query's span when a traced request runs it; a query
// outside one starts no trace of its own.
func startQuery(ctx context.Context, query string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	operation, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return tracing.Tracer().Start(ctx, "sqlite "+strings.ToUpper(operation), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "sqlite"), attribute.String("db.query.text", query)))
}

func endQuery(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && !errors.Is(err, driver.ErrSkip) {
		span.SetStatus(codes.Error, "query failed") // the driver's text stays out, as everywhere
	}
	span.End()
}

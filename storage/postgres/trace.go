package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlflow-auth/mlflow-auth/tracing"
)

// queryTracer gives every query a span (named after its first keyword, holding
// its SQL text but never its arguments, which may be hashes).
type queryTracer struct{}

func (queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx // a query outside a traced request starts no trace of its own
	}
	operation, _, _ := strings.Cut(strings.TrimSpace(data.SQL), " ")
	ctx, _ = tracing.Tracer().Start(ctx, "postgresql "+strings.ToUpper(operation), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", data.SQL)))
	return ctx
}

func (queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if data.Err != nil && !errors.Is(data.Err, pgx.ErrNoRows) {
		span.SetStatus(codes.Error, "query failed") // the driver's text stays out, as everywhere
	}
	span.End()
}

// A batch (an audited change, an import, auth events) gets one span, named for
// the first keyword of each of its statements, holding their SQL text.
func (queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	var ops, texts []string
	for _, q := range data.Batch.QueuedQueries {
		operation, _, _ := strings.Cut(strings.TrimSpace(q.SQL), " ")
		ops, texts = append(ops, strings.ToUpper(operation)), append(texts, q.SQL)
	}
	ctx, _ = tracing.Tracer().Start(ctx, "postgresql "+strings.Join(ops, ", "), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", strings.Join(texts, ";\n"))))
	return ctx
}

func (queryTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if data.Err != nil && !errors.Is(data.Err, pgx.ErrNoRows) {
		trace.SpanFromContext(ctx).SetStatus(codes.Error, "query failed")
	}
}

func (queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	span := trace.SpanFromContext(ctx)
	if data.Err != nil && !errors.Is(data.Err, pgx.ErrNoRows) {
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

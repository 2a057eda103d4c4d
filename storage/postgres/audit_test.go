package postgres

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
	"github.com/mlflow-auth/mlflow-auth/tracing"
)

// An audited change goes to Postgres as one batch, the write and its audit
// row, and a traced request still sees it: one span holding both statements.
func TestAuditedChangeIsOneTracedBatch(t *testing.T) {
	s, err := Open(context.Background(), storagetest.NewPostgresSchema(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(context.Background(), "alice", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	r := permission.Resource{Type: permission.Experiment, ID: "1"}
	if _, err := s.CreateGrant(context.Background(), u.ID, r, permission.Read); err != nil {
		t.Fatal(err)
	}

	recorder := tracetest.NewSpanRecorder()
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	defer otel.SetTracerProvider(old)
	ctx, request := tracing.Tracer().Start(context.Background(), "request")
	ctx = storage.WithAudit(ctx, storage.AuditEvent{Category: storage.AuditAdmin, Event: "grant.update", Outcome: storage.OutcomeSuccess})
	if _, err := s.UpdateGrant(ctx, u.ID, r, permission.Edit); err != nil {
		t.Fatal(err)
	}
	request.End()

	var queries []string
	for _, span := range recorder.Ended() {
		if span.Parent().SpanID() != request.SpanContext().SpanID() {
			continue
		}
		var text string
		for _, a := range span.Attributes() {
			if a.Key == "db.query.text" {
				text = a.Value.AsString()
			}
		}
		queries = append(queries, span.Name())
		if !strings.Contains(text, "UPDATE grants") || !strings.Contains(text, "INSERT INTO audit_events") {
			t.Errorf("span %s holds %q, want the grant's UPDATE and the audit row's INSERT", span.Name(), text)
		}
	}
	if len(queries) != 1 || queries[0] != "postgresql WITH, INSERT" {
		t.Errorf("the audited change made spans %q, want one postgresql WITH, INSERT", queries)
	}
}

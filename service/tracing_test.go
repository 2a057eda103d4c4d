package service_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
	"github.com/mlflow-auth/mlflow-auth/tracing"
)

// TestOneTraceEndToEnd uses the OpenTelemetry SDK's in-memory recorder: one
// proxied request, sent with a caller's traceparent, yields the HTTP span, the
// database query spans (Postgres) and the span of the call to MLflow, all in
// the caller's trace, and MLflow receives that trace in its traceparent. An API
// call over REST and one over gRPC each get the span of their RPC in the trace
// their caller sent.
func TestOneTraceEndToEnd(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	oldProvider, oldPropagator := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer func() { otel.SetTracerProvider(oldProvider); otel.SetTextMapPropagator(oldPropagator) }()

	t.Run("sqlite", func(t *testing.T) { checkOneTrace(t, recorder, storagetest.NewSQLite(t), "sqlite SELECT") })
	t.Run("postgres", func(t *testing.T) {
		pg, err := postgres.Open(context.Background(), storagetest.NewPostgresSchema(t).URL)
		if err != nil {
			t.Fatal(err)
		}
		checkOneTrace(t, recorder, pg, "postgresql SELECT")
	})
}

// checkOneTrace sends the requests through a server on db, with trace ids of
// their own, and reads their spans back from recorder.
func checkOneTrace(t *testing.T, recorder *tracetest.SpanRecorder, db servicetest.Database, query string) {
	s := startTracedFrontDoor(t, db)
	proxied, rest, viaGRPC := newTraceID(), newTraceID(), newTraceID()
	s.proxy(proxied)
	s.send(http.MethodGet, "/api/2.0/mlflow/users/current", "", rest)
	if _, err := v1.NewUserServiceClient(s.grpc()).GetCurrentUser(grpcTrace(viaGRPC), &v1.GetCurrentUserRequest{}); err != nil {
		t.Fatal(err)
	}

	spans := map[string][]string{} // trace id → span names
	for _, span := range recorder.Ended() {
		id := span.SpanContext().TraceID().String()
		spans[id] = append(spans[id], span.Name())
	}
	has := func(traceID, prefix string) {
		t.Helper()
		for _, name := range spans[traceID] {
			if strings.HasPrefix(name, prefix) {
				return
			}
		}
		t.Errorf("trace %s has spans %q, none named %s…", traceID, spans[traceID], prefix)
	}
	has(proxied, "HTTP GET")
	has(proxied, query)
	has(proxied, "mlflow GET")
	has(rest, "HTTP GET")
	has(rest, v1.UserService_GetCurrentUser_FullMethodName)
	has(viaGRPC, v1.UserService_GetCurrentUser_FullMethodName)
}

func newTraceID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestUntracedCallsKeepTheCallersTrace: with no exporter (Setup installs only
// the propagator, and no span is made), the trace a caller sends still reaches
// the audit rows of its REST and gRPC calls and MLflow behind the front door.
func TestUntracedCallsKeepTheCallersTrace(t *testing.T) {
	if !tracing.Off() {
		t.Fatal("a tracer provider is installed")
	}
	oldPropagator := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer otel.SetTextMapPropagator(oldPropagator)

	db := storagetest.NewSQLite(t)
	s := startTracedFrontDoor(t, db)
	proxied, rest, viaGRPC := newTraceID(), newTraceID(), newTraceID()
	s.proxy(proxied)
	s.send(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "traced-rest", "password": "traced-password-1"}`, rest)
	if _, err := v1.NewUserServiceClient(s.grpc()).CreateUser(grpcTrace(viaGRPC),
		&v1.CreateUserRequest{Username: "traced-grpc", Password: "traced-password-1"}); err != nil {
		t.Fatal(err)
	}
	for username, traceID := range map[string]string{"traced-rest": rest, "traced-grpc": viaGRPC} {
		rows, err := db.ListAuditEvents(context.Background(), storage.AuditFilter{Event: "user.create", ResourceID: username})
		if err != nil || len(rows) != 1 {
			t.Fatalf("user.create rows of %s: %v, %v", username, rows, err)
		}
		if rows[0].TraceID != traceID {
			t.Errorf("%s: audit row in trace %q, want the caller's %s", username, rows[0].TraceID, traceID)
		}
	}
}

// tracedFrontDoor is a server on db in front of a stub MLflow that passes on
// the traceparent of each request it gets.
type tracedFrontDoor struct {
	t        *testing.T
	server   *servicetest.Server
	received chan string
}

func startTracedFrontDoor(t *testing.T, db servicetest.Database) *tracedFrontDoor {
	received := make(chan string, 4)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			received <- r.Header.Get("traceparent")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"experiment": {"experiment_id": "0", "name": "Default"}}`))
	}))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	return &tracedFrontDoor{t, servicetest.Start(t, servicetest.Options{Store: db, Upstream: u}), received}
}

// send makes an admin's REST call in the trace traceID.
func (s *tracedFrontDoor) send(method, path, body, traceID string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.server.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", basicAuth(adminUser, adminPass))
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("%s: %d", path, res.StatusCode)
	}
}

// proxy sends experiments/get through the front door in the trace traceID and
// checks that MLflow got that trace.
func (s *tracedFrontDoor) proxy(traceID string) {
	s.t.Helper()
	s.send(http.MethodGet, "/api/2.0/mlflow/experiments/get?experiment_id=0", "", traceID)
	if got := <-s.received; !strings.Contains(got, traceID) {
		s.t.Errorf("MLflow got traceparent %q, not in trace %s", got, traceID)
	}
}

// grpc is a client connection to the server's gRPC listener.
func (s *tracedFrontDoor) grpc() *grpc.ClientConn {
	conn, err := grpc.NewClient(s.server.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return conn
}

// grpcTrace is an admin's gRPC context in the trace traceID.
func grpcTrace(traceID string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth(adminUser, adminPass),
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
}

package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/mlflow-auth/mlflow-auth/metrics"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// TestStreamsPassTheChain: streaming RPCs (reflection, gRPC health's Watch)
// pass the interceptor chain as unary ones do: each ended stream has its log
// line, with its request id and code, and moves the RPC counter.
func TestStreamsPassTheChain(t *testing.T) {
	logs := jsonLogs(t)
	db := storagetest.NewSQLite(t)
	m := metrics.New()
	srv, err := service.New(service.Config{Store: db, Roles: db, Tokens: db, Audit: db, DefaultPermission: permission.Read, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.GRPCServer().Serve(lis)
	defer srv.GRPCServer().Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "reflection-stream")
	refl, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := refl.Recv(); err != nil {
		t.Fatal(err)
	}
	if header, err := refl.Header(); err != nil || strings.Join(header.Get("x-request-id"), ",") != "reflection-stream" {
		t.Errorf("reflection stream's x-request-id header: %v (%v), want the caller's", header.Get("x-request-id"), err)
	}
	refl.CloseSend()
	if _, err := refl.Recv(); err != io.EOF {
		t.Fatalf("reflection stream ended with %v, want EOF", err)
	}

	watchCtx, stopWatch := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "health-watch"))
	watch, err := grpc_health_v1.NewHealthClient(conn).Watch(watchCtx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	stopWatch()

	want := map[string]struct{ method, code string }{
		"reflection-stream": {reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName, "OK"},
		"health-watch":      {grpc_health_v1.Health_Watch_FullMethodName, "Canceled"},
	}
	// The server ends each stream after the client sees it end.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logged := map[string]map[string]any{}
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "grpc request" {
				logged[entry["request_id"].(string)] = entry
			}
		}
		missing := ""
		for id, w := range want {
			if e := logged[id]; e == nil || e["method"] != w.method || e["code"] != w.code {
				missing = id
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no grpc request line for %s %v; logged: %v", missing, want[missing], logged)
		}
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, s := range families["mlflow_auth_rpc_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["transport"] == "grpc" {
			counted[labels["method"]+" "+labels["code"]] = s.GetCounter().GetValue()
		}
	}
	for _, w := range want {
		if n := counted[w.method+" "+w.code]; n != 1 {
			t.Errorf("mlflow_auth_rpc_requests_total{transport=grpc, method=%s, code=%s} = %v, want 1; counted %v", w.method, w.code, n, counted)
		}
	}
}

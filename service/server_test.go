package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Health needs no credentials, and reflection lists both services (for grpcurl and ghz).
func TestGRPCHealthAndReflection(t *testing.T) {
	s := startServer(t, permission.Read)
	ctx := context.Background()
	res, err := grpc_health_v1.NewHealthClient(s.conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil || res.Status != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", res, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(s.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	reply, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range reply.GetListServicesResponse().GetService() {
		names = append(names, svc.Name)
	}
	for _, want := range []string{"mlflowauth.v1.UserService", "mlflowauth.v1.PermissionService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}

// TestOneChainForBothTransports: a REST call passes the same interceptors as a
// gRPC call (logging among them), so each request has one log line, and a REST
// request's line names the RPC it became.
func TestOneChainForBothTransports(t *testing.T) {
	logs := jsonLogs(t)
	s := startServer(t, permission.Read)

	req, _ := http.NewRequest(http.MethodGet, s.httpBase+"/api/2.0/mlflow/users/get?username=admin", nil)
	req.Header.Set("Authorization", basicAuth(adminUser, adminPass))
	req.Header.Set("X-Request-Id", "rest-chain-test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", basicAuth(adminUser, adminPass), "x-request-id", "grpc-chain-test")
	if _, err := v1.NewUserServiceClient(s.conn).GetUser(ctx, &v1.GetUserRequest{Username: adminUser}); err != nil {
		t.Fatal(err)
	}

	lines := func(id string) []map[string]any {
		var found []map[string]any
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["request_id"] == id {
				found = append(found, entry)
			}
		}
		return found
	}
	rest := lines("rest-chain-test")
	if len(rest) != 1 || rest[0]["msg"] != "http request" || rest[0]["rpc"] != v1.UserService_GetUser_FullMethodName || rest[0]["user"] != adminUser {
		t.Errorf("REST request logged as %v, want one http request line naming %s and the user", rest, v1.UserService_GetUser_FullMethodName)
	}
	grpcLines := lines("grpc-chain-test")
	if len(grpcLines) != 1 || grpcLines[0]["msg"] != "grpc request" || grpcLines[0]["user"] != adminUser {
		t.Errorf("gRPC request logged as %v, want one grpc request line with the user", grpcLines)
	}
}

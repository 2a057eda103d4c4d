package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// The REST gateway forwards only the workspace header (in any letter case)
// and User-Agent to the RPC: a client's Grpc-Metadata-* headers, or headers
// named as the metadata keys, change neither who it is, nor the workspace,
// nor the request id, the User-Agent, the trace or the address of its audit
// row.
func TestGatewayHeadersCannotBeInjected(t *testing.T) {
	s := startServer(t, permission.NoPermissions)
	audit := s.store.(storage.Audit)
	send := func(verb, path, user, pass, body string, header http.Header) (int, map[string]any, http.Header) {
		t.Helper()
		status, b, answered := doWithHeaders(t, verb, s.httpBase+path, user, pass, strings.NewReader(body), header)
		var m map[string]any
		json.Unmarshal(b, &m)
		return status, m, answered
	}
	if st, body, _ := send("POST", "/api/2.0/mlflow/users/create", adminUser, adminPass,
		`{"username": "alice", "password": "alice-password-1"}`, nil); st != http.StatusOK {
		t.Fatalf("create alice: %d %v", st, body)
	}

	t.Run("authorization", func(t *testing.T) {
		asAdmin := basicAuth(adminUser, adminPass)
		for _, name := range []string{"Grpc-Metadata-Authorization", "grpc-metadata-authorization", "Grpcgateway-Authorization"} {
			if st, body, _ := send("GET", "/api/2.0/mlflow/users/current", "", "", "", http.Header{name: {asAdmin}}); st != http.StatusUnauthorized {
				t.Errorf("%s alone: %d %v, want 401", name, st, body)
			}
			// Not a second authorization value either, which would refuse alice.
			st, body, _ := send("GET", "/api/2.0/mlflow/users/current", "alice", "alice-password-1", "", http.Header{name: {asAdmin}})
			if user, _ := body["user"].(map[string]any); st != http.StatusOK || user["username"] != "alice" || user["is_admin"] != false {
				t.Errorf("alice with %s of the admin: %d %v", name, st, body)
			}
		}
	})

	t.Run("workspace", func(t *testing.T) {
		grant := `{"experiment_id": "1", "username": "alice", "permission": "EDIT"}`
		if st, body, _ := send("POST", "/api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass, grant,
			http.Header{"X-MLFLOW-WORKSPACE": {"team-a"}}); st != http.StatusOK {
			t.Fatalf("grant in team-a: %d %v", st, body)
		}
		get := "/api/2.0/mlflow/experiments/permissions/get?experiment_id=1&username=alice"
		for _, name := range []string{"X-MLFLOW-WORKSPACE", "x-mlflow-workspace", "X-Mlflow-Workspace", "x-MlFlOw-WoRkSpAcE"} {
			st, body, _ := send("GET", get, adminUser, adminPass, "", http.Header{name: {"team-a"}})
			if p, _ := body["experiment_permission"].(map[string]any); st != http.StatusOK || p["permission"] != "EDIT" {
				t.Errorf("%s: team-a: %d %v", name, st, body)
			}
		}
		// Neither the metadata's spelling nor a prefixed header names a
		// workspace: a good name is not used, a bad one not refused.
		for _, name := range []string{"Grpc-Metadata-X-Mlflow-Workspace", "X_mlflow_workspace", "Grpcgateway-X-Mlflow-Workspace"} {
			for _, ws := range []string{"team-a", "Team_A"} {
				st, body, _ := send("GET", get, adminUser, adminPass, "", http.Header{name: {ws}})
				if st != http.StatusNotFound || body["error_code"] != "RESOURCE_DOES_NOT_EXIST" {
					t.Errorf("%s: %s: %d %v, want the default workspace's 404", name, ws, st, body)
				}
			}
		}
	})

	// auditRow is the audit row of the creation of user name.
	auditRow := func(t *testing.T, name string) storage.AuditEvent {
		t.Helper()
		evs, err := audit.ListAuditEvents(context.Background(), storage.AuditFilter{ResourceType: "user", ResourceID: name})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit rows of %s: %v, %v", name, evs, err)
		}
		return evs[0]
	}
	const injectedTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	injected := http.Header{
		"User-Agent":                           {"rest-agent/1"},
		"Grpc-Metadata-User-Agent":             {"injected-agent"},
		"Grpc-Metadata-Grpcgateway-User-Agent": {"injected-agent"},
		"Grpcgateway-User-Agent":               {"injected-agent"},
		"Grpc-Metadata-X-Request-Id":           {"injected-id"},
		"Grpc-Metadata-Traceparent":            {"00-" + injectedTrace + "-00f067aa0ba902b7-01"},
		"X-Forwarded-For":                      {"203.0.113.7"},
		"Grpc-Metadata-X-Forwarded-For":        {"203.0.113.7"},
	}

	t.Run("audit rest", func(t *testing.T) {
		for i, mine := range []string{"", "mine-123"} {
			h := injected.Clone()
			if mine != "" {
				h.Set("X-Request-Id", mine)
			}
			name := []string{"ua-rest-a", "ua-rest-b"}[i]
			st, body, res := send("POST", "/api/2.0/mlflow/users/create", adminUser, adminPass,
				`{"username": "`+name+`", "password": "password-long-1"}`, h)
			if st != http.StatusOK {
				t.Fatalf("create %s: %d %v", name, st, body)
			}
			id := res.Get("X-Request-Id")
			if id == "injected-id" || mine != "" && id != mine {
				t.Errorf("request id %q, want a new one or the caller's X-Request-Id %q", id, mine)
			}
			ev := auditRow(t, name)
			if ev.UserAgent != "rest-agent/1" || ev.RequestID != id || ev.TraceID == injectedTrace ||
				ev.ClientAddr != "127.0.0.1" || ev.ActorUsername != adminUser {
				t.Errorf("audit row: %+v, want User-Agent rest-agent/1, request id %q, no injected trace, 127.0.0.1", ev, id)
			}
		}
	})

	t.Run("audit grpc", func(t *testing.T) {
		conn, err := grpc.NewClient(strings.TrimPrefix(s.conn.Target(), "dns:///"),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent("grpc-agent/2"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth(adminUser, adminPass))
		if err := conn.Invoke(ctx, v1.UserService_CreateUser_FullMethodName,
			&v1.CreateUserRequest{Username: "ua-grpc", Password: "password-long-1"}, &v1.CreateUserResponse{}); err != nil {
			t.Fatal(err)
		}
		if ev := auditRow(t, "ua-grpc"); !strings.HasPrefix(ev.UserAgent, "grpc-agent/2 grpc-go/") || ev.ClientAddr != "127.0.0.1" {
			t.Errorf("audit row: %+v, want the gRPC client's User-Agent", ev)
		}
	})
}

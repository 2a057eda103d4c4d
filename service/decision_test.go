package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// fakeTracking stands in MLflow's place behind the front door: it creates
// experiment 12 and model m (a model named "taken" exists already), registers
// scorers (version 1, 2, ... of each name), has online scoring configs in
// experiment 8, and answers {} to everything else.
func fakeTracking(t *testing.T) *url.URL {
	var mu sync.Mutex
	versions := map[string]int{}
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var body struct {
			Name         string `json:"name"`
			ExperimentID string `json:"experiment_id"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		switch r.URL.Path {
		case "/api/2.0/mlflow/experiments/create":
			io.WriteString(w, `{"experiment_id": "12"}`)
		case "/api/2.0/mlflow/registered-models/create":
			if body.Name == "taken" {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Registered Model (name=taken) already exists."}`)
				return
			}
			io.WriteString(w, `{"registered_model": {"name": "m"}}`)
		case "/api/3.0/mlflow/scorers/register":
			mu.Lock()
			versions[body.ExperimentID+"/"+body.Name]++
			v := versions[body.ExperimentID+"/"+body.Name]
			mu.Unlock()
			fmt.Fprintf(w, `{"experiment_id": %q, "name": %q, "version": %d}`, body.ExperimentID, body.Name, v)
		case "/api/3.0/mlflow/scorers/online-configs":
			io.WriteString(w, `{"configs": [{"experiment_id": "8"}]}`)
		default:
			io.WriteString(w, "{}")
		}
	}))
	t.Cleanup(mlflow.Close)
	u, _ := url.Parse(mlflow.URL)
	return u
}

// deniedBody is MLflow's answer to a refusal, which refusals keep.
var deniedBody = map[string]any{"error_code": "PERMISSION_DENIED", "message": "Permission denied"}

func expectJSON(t *testing.T, what string, status int, body []byte, wantStatus int, want map[string]any) {
	t.Helper()
	var got map[string]any
	if status != wantStatus || json.Unmarshal(body, &got) != nil || (want != nil && !reflect.DeepEqual(got, want)) {
		t.Fatalf("%s: %d %s, want %d %v", what, status, body, wantStatus, want)
	}
}

// Refusals of the API and of the front door are one kind of audit row, made
// from the decision: who, which resource, why, folded with their repeats. The
// grant the front door gives the creator of an experiment or a model has its
// row too, with what the grant was before. A refusal of a token's call names
// the token. On SQLite and Postgres.
func TestDecisionsInTheAuditTrail(t *testing.T) {
	for name, db := range serviceDatabases {
		t.Run(name, func(t *testing.T) {
			s := servicetest.Start(t, servicetest.Options{Store: db(t), Upstream: fakeTracking(t),
				DefaultPermission: permission.NoPermissions, AuditFold: time.Second})
			call := func(method, path, user, pass, body string) (int, []byte) {
				return do(t, method, s.URL+path, user, pass, strings.NewReader(body), nil)
			}
			since := time.Now().Add(-time.Second)
			status, body := call("POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "alice", "password": "alice-password-1"}`)
			expectJSON(t, "create alice", status, body, 200, nil)
			status, body = call("POST", "/api/2.0/mlflow/registered-models/permissions/create", adminUser, adminPass,
				`{"name": "m", "username": "alice", "permission": "READ"}`)
			expectJSON(t, "grant READ on m", status, body, 200, nil)
			for range 3 {
				status, body = call("POST", "/api/2.0/mlflow/experiments/update", "alice", "alice-password-1", `{"experiment_id": "7", "new_name": "x"}`)
				expectJSON(t, "proxied update", status, body, 403, deniedBody)
			}
			for range 2 {
				status, body = call("GET", "/api/2.0/mlflow/experiments/permissions/get?experiment_id=7&username=alice", "alice", "alice-password-1", "")
				expectJSON(t, "API read of a grant", status, body, 403, nil)
			}
			// Refused by an after-hook, on what MLflow answered.
			status, body = call("GET", "/api/3.0/mlflow/scorers/online-configs", "alice", "alice-password-1", "")
			expectJSON(t, "online configs of experiment 8", status, body, 403, deniedBody)
			status, body = call("POST", "/api/2.0/mlflow/experiments/create", "alice", "alice-password-1", `{"name": "mine"}`)
			expectJSON(t, "create experiment", status, body, 200, map[string]any{"experiment_id": "12"})
			status, body = call("POST", "/api/2.0/mlflow/registered-models/create", "alice", "alice-password-1", `{"name": "m"}`)
			expectJSON(t, "create model", status, body, 200, nil)
			// A refusal at the front door of a call made with a token names the token.
			status, body = call("POST", "/api/2.0/mlflow/users/tokens/create", adminUser, adminPass, `{"username": "alice", "name": "ro", "ceiling": "READ"}`)
			var readToken struct{ Token string }
			if err := json.Unmarshal(body, &readToken); status != 200 || err != nil || readToken.Token == "" {
				t.Fatalf("a READ token for alice: %d %s", status, body)
			}
			status, body = call("POST", "/api/2.0/mlflow/experiments/update", bearerUser, readToken.Token, `{"experiment_id": "12", "new_name": "y"}`)
			expectJSON(t, "proxied update with a READ token", status, body, 403, deniedBody)

			// Read back over REST, as an admin reads the trail; [required/held]
			// are a refusal's levels, none for a grant's row.
			want := []string{
				`permission.denied auth denied x3 experiment/7@default "no EDIT on the resource" [EDIT/NO_PERMISSIONS] mlflow POST /2.0/mlflow/experiments/update  `,
				`permission.denied auth denied x2 experiment/7@default "no MANAGE on the resource" [MANAGE/NO_PERMISSIONS] /mlflowauth.v1.PermissionService/GetExperimentPermission  `,
				`permission.denied auth denied x1 experiment/8@default "no READ on the resource" [READ/NO_PERMISSIONS] mlflow GET /3.0/mlflow/scorers/online-configs  `,
				`permission.denied auth denied x1 experiment/12@default "no EDIT on the resource" [EDIT/READ] mlflow POST /2.0/mlflow/experiments/update  `,
				`grant.create admin success x1 experiment/12@default "" [/] mlflow POST /2.0/mlflow/experiments/create  {"permission":"MANAGE","username":"alice"}`,
				`grant.update admin success x1 registered_model/m@default "" [/] mlflow POST /2.0/mlflow/registered-models/create {"permission":"READ","username":"alice"} {"permission":"MANAGE","username":"alice"}`,
			}
			slices.Sort(want)
			list := "/api/2.0/mlflow/audit-events/list?username=alice&start_time=" + url.QueryEscape(since.Format(time.RFC3339Nano))
			var got []string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				status, body := call("GET", list, adminUser, adminPass, "")
				var resp struct{ Events []map[string]any }
				if err := json.Unmarshal(body, &resp); status != 200 || err != nil {
					t.Fatalf("list the audit trail: %d %s", status, body)
				}
				got = got[:0]
				for _, ev := range resp.Events {
					value := func(field string) json.RawMessage {
						if v, _ := ev[field].(string); v != "" {
							return json.RawMessage(v)
						}
						return nil
					}
					got = append(got, fmt.Sprintf("%s %s %s x%v %s/%s@%s %q [%s/%s] %s %s %s", ev["event"], ev["category"], ev["outcome"], ev["count"],
						ev["resource_type"], ev["resource_id"], ev["workspace"], ev["reason"], ev["required_level"], ev["held_level"], ev["operation"],
						canonicalJSON(t, value("before")), canonicalJSON(t, value("after"))))
					agent, _ := ev["user_agent"].(string)
					method := "basic"
					if ev["event"] == "permission.denied" && ev["resource_id"] == "12" {
						method = "token"
					}
					if ev["user_id"] == 0.0 || ev["auth_method"] != method || (ev["token_id"] != 0.0) != (method == "token") ||
						ev["request_id"] == "" || ev["client_address"] != "127.0.0.1" || !strings.HasPrefix(agent, "Go-http-client/") {
						t.Errorf("%s names its actor and request badly: %v", ev["event"], ev)
					}
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					return
				}
			}
			t.Fatalf("alice's audit rows:\n got  %q\n want %q", got, want)
		})
	}
}

// Each request's log line carries its decision: allowed, what decided or why
// not, and the resource; at the front door as in the API.
func TestDecisionsInTheLog(t *testing.T) {
	logs := jsonLogs(t)
	s := servicetest.Start(t, servicetest.Options{Upstream: fakeTracking(t), DefaultPermission: permission.NoPermissions})
	call := func(id, method, path, user, pass, body string) int {
		status, _ := do(t, method, s.URL+path, user, pass, strings.NewReader(body), http.Header{"X-Request-Id": {id}})
		return status
	}
	call("setup-1", "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "bob", "password": "bob-password-1"}`)
	call("setup-2", "POST", "/api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass, `{"experiment_id": "7", "username": "bob", "permission": "READ"}`)
	for _, c := range []struct {
		id, method, path, user, pass, body string
		status                             int
		want                               map[string]any
	}{
		{"proxy-allowed", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=7", "bob", "bob-password-1", "", 200,
			map[string]any{"allowed": true, "reason": "grant", "resource": "experiment/7", "workspace": "default"}},
		{"proxy-denied", "POST", "/api/2.0/mlflow/experiments/update", "bob", "bob-password-1", `{"experiment_id": "7"}`, 403,
			map[string]any{"allowed": false, "reason": "no EDIT on the resource", "resource": "experiment/7", "workspace": "default", "required": "EDIT", "held": "READ"}},
		{"proxy-admin", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=7", adminUser, adminPass, "", 200,
			map[string]any{"allowed": true, "reason": "admin"}},
		{"api-denied", "GET", "/api/2.0/mlflow/experiments/permissions/get?experiment_id=7&username=bob", "bob", "bob-password-1", "", 403,
			map[string]any{"allowed": false, "reason": "no MANAGE on the resource", "resource": "experiment/7", "workspace": "default", "required": "MANAGE", "held": "READ"}},
		{"api-own", "GET", "/api/2.0/mlflow/users/get?username=bob", "bob", "bob-password-1", "", 200,
			map[string]any{"allowed": true, "reason": "own user", "resource": "user/bob"}},
		{"api-undecided", "GET", "/api/2.0/mlflow/users/get?username=bob", "bob", "wrong-password", "", 401,
			map[string]any{"allowed": nil, "reason": nil, "resource": nil}},
	} {
		if status := call(c.id, c.method, c.path, c.user, c.pass, c.body); status != c.status {
			t.Fatalf("%s: %d, want %d", c.id, status, c.status)
		}
		expectLogLine(t, logs, c.id, "http request", c.want)
	}
	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth("bob", "bob-password-1"), "x-request-id", "grpc-denied")
	if _, err := v1.NewUserServiceClient(conn).GetUser(ctx, &v1.GetUserRequest{Username: adminUser}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob reads admin over gRPC: %v", err)
	}
	expectLogLine(t, logs, "grpc-denied", "grpc request",
		map[string]any{"allowed": false, "reason": "not their own user", "resource": "user/" + adminUser})
}

// expectLogLine fails unless the request's log line (msg) has the fields want.
func expectLogLine(t *testing.T, logs *lockedBuffer, id, msg string, want map[string]any) {
	t.Helper()
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(l), &entry) == nil && entry["request_id"] == id && entry["msg"] == msg {
			line = entry
		}
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s: log line has %s=%v, want %v (%v)", id, k, line[k], v, line)
		}
	}
}

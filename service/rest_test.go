package service_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// rpcMethods lists every RPC of both services with its request and response types.
func rpcMethods(t *testing.T) []protoreflect.MethodDescriptor {
	var ms []protoreflect.MethodDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("mlflowauth.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				ms = append(ms, svc.Methods().Get(j))
			}
		}
		return true
	})
	if len(ms) < 20 {
		t.Fatalf("found only %d RPCs", len(ms))
	}
	return ms
}

func fullName(m protoreflect.MethodDescriptor) string {
	return "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
}

func newMessage(t *testing.T, d protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
	if err != nil {
		t.Fatal(err)
	}
	return mt.New().Interface()
}

// victimRequest fills every field of an RPC's request so that it is valid and
// aims at another user ("victim") and a resource the caller has no grant on.
func victimRequest(t *testing.T, m protoreflect.MethodDescriptor) proto.Message {
	msg := newMessage(t, m.Input())
	r := msg.ProtoReflect()
	fields := m.Input().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.Kind() == protoreflect.BoolKind:
			r.Set(fd, protoreflect.ValueOfBool(true))
		case fd.Kind() == protoreflect.Int32Kind && strings.HasSuffix(string(fd.Name()), "_id"):
			r.Set(fd, protoreflect.ValueOfInt32(1)) // a role or role permission nobody may see
		case fd.Kind() != protoreflect.StringKind:
		case fd.Name() == "username":
			r.Set(fd, protoreflect.ValueOfString("victim"))
		case fd.Name() == "password":
			r.Set(fd, protoreflect.ValueOfString("stolen-password"))
		case fd.Name() == "permission":
			r.Set(fd, protoreflect.ValueOfString("MANAGE"))
		case fd.Name() == "resource_type":
			r.Set(fd, protoreflect.ValueOfString("experiment"))
		case fd.Name() != "page_token" && fd.Name() != "current_password":
			r.Set(fd, protoreflect.ValueOfString("secret"))
		}
	}
	return msg
}

// openToAnyUser are the RPCs about the caller themself.
var openToAnyUser = map[string]bool{
	v1.UserService_GetCurrentUser_FullMethodName:                   true,
	v1.PermissionService_ListCurrentUserPermissions_FullMethodName: true,
	v1.UserService_ListUsers_FullMethodName:                        true, // filtered to what the caller may see
}

// No RPC, on either transport, lets an unauthenticated caller in or lets an
// ordinary user act on another user or on a resource they do not manage. For
// REST every binding in http.yaml (including /ajax-api) is tried, so no route
// can bypass the policy.
func TestPolicyHoldsOnEveryRouteAndTransport(t *testing.T) {
	s := startServer(t, permission.Read)
	admin := caller{t, nil, adminUser, adminPass}
	admin.tr = grpcTransport{s.conn}
	admin.createUser("victim", "victim-password")
	admin.createUser("mallory", "mallory-password")
	allRoutes := loadAllRoutes(t)

	for _, m := range rpcMethods(t) {
		method := fullName(m)
		want := denied
		if openToAnyUser[method] {
			want = ""
		}
		for _, tr := range s.transports(t) {
			c := caller{t, tr, "mallory", "mallory-password"}
			c.expect(want, method, victimRequest(t, m), newMessage(t, m.Output()))
			c.as("", "").expect(unauthorized, method, victimRequest(t, m), newMessage(t, m.Output()))
		}
		routes := allRoutes[method]
		if len(routes) < 2 {
			t.Errorf("%s has %d REST routes, want /api and /ajax-api", method, len(routes))
		}
		for _, rt := range routes {
			single := restTransport{base: s.httpBase, routes: map[string]route{method: rt}}
			c := caller{t, single, "mallory", "mallory-password"}
			c.expect(want, method, victimRequest(t, m), newMessage(t, m.Output()))
			c.as("", "").expect(unauthorized, method, victimRequest(t, m), newMessage(t, m.Output()))
		}
	}
	// Nothing was changed by all those refused calls.
	u := &v1.GetUserResponse{}
	admin.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "victim"}, u)
	if u.User.IsAdmin || len(u.User.ExperimentPermissions) != 0 {
		t.Errorf("victim changed by refused calls: %v", u.User)
	}
	admin.as("victim", "victim-password").expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "victim"}, u)
}

// getJSON returns the status and the parsed JSON body of a request.
func getJSON(t *testing.T, s *testServer, verb, path, user, pass, body string) (int, map[string]any) {
	t.Helper()
	var reader *strings.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	var status int
	var raw []byte
	if reader != nil {
		status, raw = do(t, verb, s.httpBase+path, user, pass, reader, nil)
	} else {
		status, raw = do(t, verb, s.httpBase+path, user, pass, nil, nil)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: status %d, body is not a JSON object: %q", verb, path, status, raw)
	}
	return status, m
}

func wantError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error_code"] != wantCode {
		t.Fatalf("got %d %v, want %d %s", status, body, wantStatus, wantCode)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Fatalf("error without a message: %v", body)
	}
}

// The REST facade writes MLflow's exact JSON: the full User object with numeric
// ids and all three permission lists, {} for updates and deletes.
func TestRESTWireFormat(t *testing.T) {
	s := startServer(t, permission.Read)
	status, body := getJSON(t, s, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass,
		`{"username": "wire", "password": "wire-password", "unknown_field": [1, 2]}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	// A numeric experiment_id is accepted, as MLflow clients sometimes send one, and echoed as a string.
	status, body = getJSON(t, s, "POST", "/ajax-api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass,
		`{"experiment_id": 12, "username": "wire", "permission": "READ"}`)
	if status != 200 || !reflect.DeepEqual(body, map[string]any{
		"experiment_permission": map[string]any{"experiment_id": "12", "user_id": float64(2), "permission": "READ"},
	}) {
		t.Fatalf("grant: %d %v", status, body)
	}
	status, body = getJSON(t, s, "GET", "/api/2.0/mlflow/users/get?username=wire", adminUser, adminPass, "")
	want := map[string]any{"user": map[string]any{
		"id": float64(2), "username": "wire", "is_admin": false,
		"experiment_permissions":       []any{map[string]any{"experiment_id": "12", "user_id": float64(2), "permission": "READ"}},
		"registered_model_permissions": []any{},
		"scorer_permissions":           []any{},
		// The direct grant as MLflow 3.17.2's synthetic role: a view whose ids are negative.
		"roles": []any{map[string]any{"id": float64(-2), "name": "__user_2__", "workspace": "default", "description": nil,
			"permissions": []any{map[string]any{"id": float64(-1), "role_id": float64(-2), "resource_type": "experiment", "resource_pattern": "12", "permission": "READ"}}}},
	}}
	if status != 200 || !reflect.DeepEqual(body, want) {
		t.Fatalf("users/get: %d\n got %v\nwant %v", status, body, want)
	}
	for _, path := range []string{"/api/2.0/mlflow/users", "/api/2.0/mlflow/users/list", "/ajax-api/2.0/mlflow/users/list"} {
		status, body = getJSON(t, s, "GET", path, adminUser, adminPass, "")
		users, _ := body["users"].([]any)
		if status != 200 || len(users) != 2 || body["next_page_token"] != "" || !reflect.DeepEqual(users[1].(map[string]any)["roles"], want["user"].(map[string]any)["roles"]) {
			t.Fatalf("%s: %d %v", path, status, body)
		}
	}
	for _, path := range []string{"/api/3.0/mlflow/users/roles/list?username=wire", "/ajax-api/3.0/mlflow/users/roles/list?username=wire"} {
		status, body = getJSON(t, s, "GET", path, adminUser, adminPass, "")
		if status != 200 || !reflect.DeepEqual(body["roles"], want["user"].(map[string]any)["roles"]) {
			t.Fatalf("%s: %d %v", path, status, body)
		}
	}
	status, body = getJSON(t, s, "GET", "/api/3.0/mlflow/users/permissions/list?username=wire", adminUser, adminPass, "")
	if status != 200 || !reflect.DeepEqual(body["permissions"], []any{map[string]any{"role_id": float64(-2), "role_name": "__user_2__",
		"workspace": "default", "resource_type": "experiment", "resource_pattern": "12", "permission": "READ"}}) {
		t.Fatalf("users/permissions/list: %d %v", status, body)
	}
	status, body = getJSON(t, s, "PATCH", "/api/2.0/mlflow/users/update-admin", adminUser, adminPass, `{"username": "wire", "is_admin": false}`)
	if status != 200 || len(body) != 0 {
		t.Fatalf("update-admin: %d %v, want 200 {}", status, body)
	}
	// DELETE takes its parameters from the query string when there is no JSON body.
	status, body = getJSON(t, s, "DELETE", "/api/2.0/mlflow/experiments/permissions/delete?experiment_id=12&username=wire", adminUser, adminPass, "")
	if status != 200 || len(body) != 0 {
		t.Fatalf("delete by query: %d %v", status, body)
	}
	status, body = getJSON(t, s, "DELETE", "/api/2.0/mlflow/users/delete", adminUser, adminPass, `{"username": "wire"}`)
	if status != 200 || len(body) != 0 {
		t.Fatalf("delete by body: %d %v", status, body)
	}
}

func TestRESTErrors(t *testing.T) {
	s := startServer(t, permission.Read)
	admin := caller{t, grpcTransport{s.conn}, adminUser, adminPass}
	admin.createUser("carol", "carol-password")

	// 401 carries the Basic challenge.
	res, err := http.Get(s.httpBase + "/api/2.0/mlflow/users/get?username=carol")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Basic realm="mlflow"` || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("401: %d %v", res.StatusCode, res.Header)
	}
	for _, c := range []struct {
		name, verb, path, body string
		status                 int
		code                   string
	}{
		{"malformed JSON", "POST", "/api/2.0/mlflow/users/create", `{"username": "x",`, 400, invalid},
		{"JSON array", "POST", "/api/2.0/mlflow/users/create", `[]`, 400, invalid},
		{"JSON null", "POST", "/api/2.0/mlflow/users/create", `null`, 400, invalid},
		{"two objects", "POST", "/api/2.0/mlflow/users/create", `{} {}`, 400, invalid},
		{"number password", "POST", "/api/2.0/mlflow/users/create", `{"username": "dave", "password": 123456789012}`, 400, invalid},
		{"string is_admin", "PATCH", "/api/2.0/mlflow/users/update-admin", `{"username": "carol", "is_admin": "true"}`, 400, invalid},
		{"missing is_admin", "PATCH", "/api/2.0/mlflow/users/update-admin", `{"username": "carol"}`, 400, invalid},
		{"bad max_results", "GET", "/api/2.0/mlflow/users?max_results=abc", "", 400, invalid},
		{"missing username", "GET", "/api/2.0/mlflow/users/get", "", 400, invalid},
		{"unknown permission", "POST", "/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "1", "username": "carol", "permission": "WRITE"}`, 400, invalid},
		{"duplicate user", "POST", "/api/2.0/mlflow/users/create", `{"username": "carol", "password": "carol-password"}`, 400, exists},
		{"unknown user", "GET", "/api/2.0/mlflow/users/get?username=ghost", "", 404, notFound},
		{"unknown endpoint", "GET", "/api/2.0/mlflow/users/nope", "", 404, "ENDPOINT_NOT_FOUND"},
		{"unknown path", "GET", "/somewhere", "", 404, "ENDPOINT_NOT_FOUND"},
		{"wrong method", "POST", "/api/2.0/mlflow/users/get", `{}`, 405, badRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := getJSON(t, s, c.verb, c.path, adminUser, adminPass, c.body)
			wantError(t, status, body, c.status, c.code)
		})
	}
	// The invalid updates changed nothing.
	u := &v1.GetUserResponse{}
	admin.expect("", v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "carol"}, u)
	if u.User.IsAdmin {
		t.Error("a refused update-admin made carol admin")
	}
	admin.expect(notFound, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "dave"}, u)

	// A body over 1 MiB is refused whole: 413, and no user is created.
	big := `{"username": "huge", "password": "huge-password", "padding": "` + strings.Repeat("x", 1<<20) + `"}`
	status, body := getJSON(t, s, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, big)
	wantError(t, status, body, 413, badRequest)
	admin.expect(notFound, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: "huge"}, u)

	// /health needs no credentials.
	code, raw := do(t, "GET", s.httpBase+"/health", "", "", nil, nil)
	if code != 200 || string(raw) != "OK" {
		t.Errorf("/health: %d %q", code, raw)
	}
}

// Concurrent creates of one user or one grant: exactly one succeeds, the others
// get RESOURCE_ALREADY_EXISTS, and nothing answers 500.
func TestConcurrentCreates(t *testing.T) {
	s := startServer(t, permission.Read)
	admin := caller{t, grpcTransport{s.conn}, adminUser, adminPass}
	admin.createUser("grantee", "grantee-password")
	for _, c := range []struct{ path, body string }{
		{"/api/2.0/mlflow/users/create", `{"username": "racer", "password": "racer-password"}`},
		{"/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "9", "username": "grantee", "permission": "EDIT"}`},
	} {
		const n = 16
		statuses := make(chan string, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, body := getJSON(t, s, "POST", c.path, adminUser, adminPass, c.body)
				code, _ := body["error_code"].(string)
				statuses <- http.StatusText(status) + " " + code
			}()
		}
		wg.Wait()
		close(statuses)
		counts := map[string]int{}
		for st := range statuses {
			counts[st]++
		}
		want := map[string]int{"OK ": 1, "Bad Request " + exists: n - 1}
		if !reflect.DeepEqual(counts, want) {
			t.Errorf("%s: answers %v, want %v", c.path, counts, want)
		}
	}
}

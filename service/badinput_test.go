package service_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// badCase is one request that must be refused. fields override the method's
// valid request (see validRequests); a field set to nil is left out. rawBody or
// rawQuery (REST) and rawProto (gRPC) replace the whole request and run on that
// transport only, as do fields that only JSON can carry (a number for a string).
type badCase struct {
	name     string
	method   string
	fields   map[string]any
	rawBody  string
	rawQuery string
	rawProto []byte
	auth     string // the Authorization value; "" means the admin's
	status   int    // the REST status
	code     string // the MLflow error code on both transports
}

// answer is what a caller sees of a refusal.
type answer struct {
	Status  int    // HTTP status, or gRPC code
	Code    string // MLflow error code
	Message string
}

// validRequests are requests the admin may send, so that each case fails only
// for the field it spoils.
var validRequests = map[string]map[string]any{
	v1.UserService_CreateUser_FullMethodName:                            {"username": "carol", "password": "a-long-enough-password"},
	v1.UserService_GetUser_FullMethodName:                               {"username": "alice"},
	v1.UserService_ListUsers_FullMethodName:                             {"max_results": 10},
	v1.UserService_UpdateUserPassword_FullMethodName:                    {"username": "alice", "password": "a-long-enough-password"},
	v1.UserService_UpdateUserAdmin_FullMethodName:                       {"username": "alice", "is_admin": false},
	v1.UserService_DeleteUser_FullMethodName:                            {"username": "nobody"},
	v1.PermissionService_CreateExperimentPermission_FullMethodName:      {"experiment_id": "1", "username": "alice", "permission": "READ"},
	v1.PermissionService_GetExperimentPermission_FullMethodName:         {"experiment_id": "1", "username": "alice"},
	v1.PermissionService_DeleteExperimentPermission_FullMethodName:      {"experiment_id": "1", "username": "alice"},
	v1.PermissionService_CreateRegisteredModelPermission_FullMethodName: {"name": "model", "username": "alice", "permission": "READ"},
	v1.PermissionService_UpdateRegisteredModelPermission_FullMethodName: {"name": "model", "username": "alice", "permission": "READ"},
	v1.PermissionService_CreateScorerPermission_FullMethodName:          {"experiment_id": "1", "scorer_name": "s", "username": "alice", "permission": "READ"},
	v1.PermissionService_GrantPermission_FullMethodName:                 {"username": "alice", "resource_type": "experiment", "resource_id": "1", "permission": "READ"},
	v1.PermissionService_GetUserPermission_FullMethodName:               {"username": "alice", "resource_type": "experiment", "resource_id": "1"},
	v1.PermissionService_ListUserPermissions_FullMethodName:             {"username": "alice"},
	v1.PermissionService_ListResourcePermissions_FullMethodName:         {"resource_type": "experiment", "resource_id": "1", "max_results": 10},
	v1.AuthorizationService_Check_FullMethodName:                        {"username": "alice", "capability": "read", "resource_type": "experiment", "resource_id": "1"},
}

// storedFields are the fields whose text reaches the store, each spoilt three ways.
var storedFields = []struct{ method, field string }{
	{v1.UserService_CreateUser_FullMethodName, "username"},
	{v1.UserService_GetUser_FullMethodName, "username"},
	{v1.UserService_UpdateUserPassword_FullMethodName, "username"},
	{v1.UserService_UpdateUserAdmin_FullMethodName, "username"},
	{v1.UserService_DeleteUser_FullMethodName, "username"},
	{v1.PermissionService_ListUserPermissions_FullMethodName, "username"},
	{v1.PermissionService_CreateExperimentPermission_FullMethodName, "experiment_id"},
	{v1.PermissionService_GetExperimentPermission_FullMethodName, "username"},
	{v1.PermissionService_CreateRegisteredModelPermission_FullMethodName, "name"},
	{v1.PermissionService_CreateScorerPermission_FullMethodName, "scorer_name"},
	{v1.PermissionService_GrantPermission_FullMethodName, "resource_id"},
	{v1.PermissionService_GetUserPermission_FullMethodName, "resource_id"},
	{v1.PermissionService_ListResourcePermissions_FullMethodName, "resource_id"},
	{v1.AuthorizationService_Check_FullMethodName, "username"},
}

func badInputCases() []badCase {
	const invalid = http.StatusBadRequest
	const bad = "INVALID_PARAMETER_VALUE"
	var cases []badCase
	for _, sf := range storedFields {
		for name, value := range map[string]string{
			"NUL":       "a\x00b",
			"not UTF-8": "caf\xe9",
			"too long":  strings.Repeat("é", 600),
		} {
			cases = append(cases, badCase{name: name + " " + sf.field, method: sf.method,
				fields: map[string]any{sf.field: value}, status: invalid, code: bad})
		}
	}
	basic := func(user string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":some-password"))
	}
	get := v1.UserService_GetUser_FullMethodName
	grant := v1.PermissionService_GrantPermission_FullMethodName
	list := v1.PermissionService_ListResourcePermissions_FullMethodName
	users := v1.UserService_ListUsers_FullMethodName
	scorer := v1.PermissionService_CreateScorerPermission_FullMethodName
	token := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return append(cases, []badCase{
		{name: "Basic username with NUL", method: get, auth: basic("admin\x00"), status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
		{name: "Basic username not UTF-8", method: get, auth: basic("\xff\xfe"), status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
		{name: "Basic username too long", method: get, auth: basic(strings.Repeat("a", 300)), status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
		{name: "Basic without colon", method: get, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("admin")), status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
		{name: "Basic not base64", method: get, auth: "Basic !!!", status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},

		{name: "username a number", method: v1.UserService_DeleteUser_FullMethodName, fields: map[string]any{"username": 5}, status: invalid, code: bad},
		{name: "username a boolean", method: v1.UserService_DeleteUser_FullMethodName, rawBody: `{"username": true}`, status: invalid, code: bad},
		{name: "username a list", method: v1.UserService_DeleteUser_FullMethodName, rawBody: `{"username": ["a"]}`, status: invalid, code: bad},
		{name: "username an object", method: v1.UserService_DeleteUser_FullMethodName, rawBody: `{"username": {"a": 1}}`, status: invalid, code: bad},
		{name: "is_admin a string", method: v1.UserService_UpdateUserAdmin_FullMethodName, rawBody: `{"username": "alice", "is_admin": "yes"}`, status: invalid, code: bad},
		{name: "permission a number", method: grant, fields: map[string]any{"permission": 3}, status: invalid, code: bad},
		{name: "max_results a word", method: users, fields: map[string]any{"max_results": "abc"}, status: invalid, code: bad},
		{name: "max_results a fraction", method: list, fields: map[string]any{"max_results": 1.5}, status: invalid, code: bad},
		{name: "max_results over int32", method: list, fields: map[string]any{"max_results": 3000000000}, status: invalid, code: bad},
		{name: "max_results under int32", method: users, fields: map[string]any{"max_results": -3000000000}, status: invalid, code: bad},
		{name: "max_results negative", method: users, fields: map[string]any{"max_results": -1}, status: invalid, code: bad},
		{name: "max_results negative on grants", method: list, fields: map[string]any{"max_results": -5}, status: invalid, code: bad},
		{name: "max_results too large", method: users, fields: map[string]any{"max_results": 1000000}, status: invalid, code: bad},

		{name: "body not JSON", method: grant, rawBody: `{"username": `, status: invalid, code: bad},
		{name: "body a list", method: grant, rawBody: `[]`, status: invalid, code: bad},
		{name: "body null", method: grant, rawBody: `null`, status: invalid, code: bad},
		{name: "body two objects", method: grant, rawBody: `{}{}`, status: invalid, code: bad},
		{name: "body deeply nested", method: grant, rawBody: `{"username": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, status: invalid, code: bad},
		{name: "body not UTF-8", method: grant, rawBody: "{\"username\": \"\xc3\x28\"}", status: invalid, code: bad},
		{name: "body with a lone surrogate", method: grant, rawBody: `{"username": "a\ud800b", "resource_type": "experiment", "resource_id": "1", "permission": "READ"}`, status: invalid, code: bad},
		{name: "body with a reversed surrogate pair", method: grant, rawBody: `{"username": "\udc00\ud800", "resource_type": "experiment", "resource_id": "1", "permission": "READ"}`, status: invalid, code: bad},
		{name: "DELETE query not UTF-8", method: v1.UserService_DeleteUser_FullMethodName, rawQuery: "username=caf%E9", status: invalid, code: bad},
		{name: "DELETE query with NUL", method: v1.PermissionService_DeleteExperimentPermission_FullMethodName, rawQuery: "experiment_id=1%00&username=alice", status: invalid, code: bad},
		{name: "body with an escaped NUL", method: grant, rawBody: `{"username": "a\u0000", "resource_type": "experiment", "resource_id": "1", "permission": "READ"}`, status: invalid, code: bad},

		{name: "page token not base64", method: users, fields: map[string]any{"page_token": "!!!"}, status: invalid, code: bad},
		{name: "page token not a number", method: users, fields: map[string]any{"page_token": token("abc")}, status: invalid, code: bad},
		{name: "page token negative", method: list, fields: map[string]any{"page_token": token("-5")}, status: invalid, code: bad},
		{name: "page token over int32", method: users, fields: map[string]any{"page_token": token("99999999999")}, status: invalid, code: bad},
		{name: "page token too long", method: users, fields: map[string]any{"page_token": strings.Repeat("MQ", 1000)}, status: invalid, code: bad},
		{name: "page token with NUL", method: list, fields: map[string]any{"page_token": "M\x00"}, status: invalid, code: bad},

		{name: "unknown permission", method: grant, fields: map[string]any{"permission": "SUPERUSER"}, status: invalid, code: bad},
		{name: "NO_PERMISSIONS granted", method: grant, fields: map[string]any{"permission": "NO_PERMISSIONS"}, status: invalid, code: bad},
		{name: "permission in lower case", method: v1.PermissionService_CreateExperimentPermission_FullMethodName, fields: map[string]any{"permission": "read"}, status: invalid, code: bad},
		{name: "permission not UTF-8", method: v1.PermissionService_UpdateRegisteredModelPermission_FullMethodName, fields: map[string]any{"permission": "\xff"}, status: invalid, code: bad},
		{name: "unknown resource type", method: grant, fields: map[string]any{"resource_type": "dataset"}, status: invalid, code: bad},
		{name: "resource type too long", method: list, fields: map[string]any{"resource_type": strings.Repeat("x", 5000)}, status: invalid, code: bad},
		{name: "unknown capability", method: v1.AuthorizationService_Check_FullMethodName, fields: map[string]any{"capability": "own"}, status: invalid, code: bad},
		{name: "scorer id without a name", method: grant, fields: map[string]any{"resource_type": "scorer", "resource_id": "1"}, status: invalid, code: bad},
		{name: "scorer id with a bad escape", method: grant, fields: map[string]any{"resource_type": "scorer", "resource_id": "1/%zz"}, status: invalid, code: bad},
		{name: "scorer id with a long experiment", method: grant, fields: map[string]any{"resource_type": "scorer", "resource_id": strings.Repeat("1", 300) + "/s"}, status: invalid, code: bad},
		{name: "scorer id with an escaped NUL", method: grant, fields: map[string]any{"resource_type": "scorer", "resource_id": "1/a%00"}, status: invalid, code: bad},
		{name: "scorer name too long when unescaped", method: grant, fields: map[string]any{"resource_type": "scorer", "resource_id": "1/" + strings.Repeat("%C3%A9", 300)}, status: invalid, code: bad},
		{name: "scorer name too long to store", method: scorer, fields: map[string]any{"scorer_name": strings.Repeat("\U0001F600", 256)}, status: invalid, code: bad},
		{name: "scorer experiment too long", method: scorer, fields: map[string]any{"experiment_id": strings.Repeat("9", 256)}, status: invalid, code: bad},

		{name: "username empty", method: get, fields: map[string]any{"username": ""}, status: invalid, code: bad},
		{name: "username absent", method: v1.UserService_CreateUser_FullMethodName, fields: map[string]any{"username": nil}, status: invalid, code: bad},
		{name: "experiment id empty", method: v1.PermissionService_DeleteExperimentPermission_FullMethodName, fields: map[string]any{"experiment_id": ""}, status: invalid, code: bad},
		{name: "resource id absent", method: v1.PermissionService_GetUserPermission_FullMethodName, fields: map[string]any{"resource_id": nil}, status: invalid, code: bad},
		{name: "password too short", method: v1.UserService_CreateUser_FullMethodName, fields: map[string]any{"password": "short"}, status: invalid, code: bad},
		{name: "username with a colon", method: v1.UserService_CreateUser_FullMethodName, fields: map[string]any{"username": "a:b"}, status: invalid, code: bad},
		{name: "username with a control character", method: v1.UserService_CreateUser_FullMethodName, fields: map[string]any{"username": "a\tb"}, status: invalid, code: bad},

		{name: "protobuf truncated", method: grant, rawProto: []byte{0x0a, 0x10, 'a'}, status: invalid, code: bad},
		{name: "protobuf garbage", method: get, rawProto: []byte{0xff, 0xff, 0xff, 0xff}, status: invalid, code: bad},
		{name: "protobuf wrong wire type", method: get, rawProto: []byte{0x08, 0x01}, status: invalid, code: bad},
	}...)
}

// TestBadInputSameOnBothBackends sends every bad case over REST and gRPC to a
// server on SQLite and one on Postgres: each is refused with its 4xx and MLflow
// code, never a 500 or Internal, and both backends answer exactly alike.
func TestBadInputSameOnBothBackends(t *testing.T) {
	pg := openPostgres(t, "")
	servers := map[string]*testServer{"sqlite": startServer(t, "READ"), "postgres": startServerOn(t, pg, "READ")}
	for _, s := range servers {
		if st, body := do(t, http.MethodPost, s.httpBase+"/api/2.0/mlflow/users/create", adminUser, adminPass,
			strings.NewReader(`{"username": "alice", "password": "alice-password-1"}`), nil); st != http.StatusOK {
			t.Fatalf("create alice: %d %s", st, body)
		}
	}
	routes := loadRoutes(t)
	cases := badInputCases()
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, query, restOK := restRequest(t, c)
			msg, grpcOK := grpcRequest(t, c)
			got := map[string]answer{}
			for backend, s := range servers {
				if restOK {
					a := restAnswer(t, s, routes[c.method], c, body, query)
					if a.Status != c.status || a.Code != c.code {
						t.Errorf("%s rest: %+v, want %d %s", backend, a, c.status, c.code)
					}
					got[backend+" rest"] = a
				}
				if grpcOK {
					a := grpcAnswer(t, s, c, msg)
					if a.Code != c.code || codes.Code(a.Status) == codes.Internal || codes.Code(a.Status) == codes.Unknown {
						t.Errorf("%s grpc: %+v, want %s", backend, a, c.code)
					}
					got[backend+" grpc"] = a
				}
			}
			for _, tr := range []string{"rest", "grpc"} {
				if l, p := got["sqlite "+tr], got["postgres "+tr]; l != p {
					t.Errorf("%s: sqlite answered %+v, postgres %+v", tr, l, p)
				}
			}
			if len(got) == 0 {
				t.Fatal("the case runs on no transport")
			}
		})
	}
}

// The longest names and ids that MLflow's tables hold are stored alike on both
// backends.
func TestLongestInputsAreStored(t *testing.T) {
	pg := openPostgres(t, "")
	user := strings.Repeat("é", 255)
	for backend, s := range map[string]*testServer{"sqlite": startServer(t, "READ"), "postgres": startServerOn(t, pg, "READ")} {
		for _, c := range []struct{ path, body string }{
			{"/api/2.0/mlflow/users/create", `{"username": "` + user + `", "password": "a-long-enough-password"}`},
			{"/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "` + strings.Repeat("9", 255) + `", "username": "` + user + `", "permission": "READ"}`},
			{"/api/2.0/mlflow/registered-models/permissions/create", `{"name": "` + strings.Repeat("模", 256) + `", "username": "` + user + `", "permission": "EDIT"}`},
			{"/api/3.0/mlflow/scorers/permissions/create", `{"experiment_id": "1", "scorer_name": "` + strings.Repeat("é", 256) + `", "username": "` + user + `", "permission": "MANAGE"}`},
		} {
			if st, body := do(t, http.MethodPost, s.httpBase+c.path, adminUser, adminPass, strings.NewReader(c.body), nil); st != http.StatusOK {
				t.Errorf("%s %s: %d %.300s", backend, c.path, st, body)
			}
		}
		st, body := do(t, http.MethodGet, s.httpBase+"/api/2.0/mlflow/users/get?username="+url.QueryEscape(user), adminUser, adminPass, nil, nil)
		var got struct {
			User struct {
				ExperimentPermissions      []any `json:"experiment_permissions"`
				RegisteredModelPermissions []any `json:"registered_model_permissions"`
				ScorerPermissions          []any `json:"scorer_permissions"`
			}
		}
		if err := json.Unmarshal(body, &got); err != nil || st != http.StatusOK ||
			len(got.User.ExperimentPermissions)+len(got.User.RegisteredModelPermissions)+len(got.User.ScorerPermissions) != 3 {
			t.Errorf("%s: get the user: %d %.300s", backend, st, body)
		}
	}
}

// fieldsOf is the valid request of c's method with c's fields over it.
func fieldsOf(c badCase) map[string]any {
	fields := map[string]any{}
	for k, v := range validRequests[c.method] {
		fields[k] = v
	}
	for k, v := range c.fields {
		if v == nil {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	return fields
}

// restRequest encodes c as MLflow clients do: query parameters for GET, a JSON
// body otherwise, with strings written byte for byte (json.Marshal would repair
// invalid UTF-8).
func restRequest(t *testing.T, c badCase) (body string, query url.Values, ok bool) {
	if c.rawProto != nil {
		return "", nil, false
	}
	if c.rawBody != "" || c.rawQuery != "" {
		return c.rawBody, nil, true
	}
	fields := fieldsOf(c)
	query = url.Values{}
	var parts []string
	for k, v := range fields {
		query.Set(k, fmt.Sprint(v))
		var text string
		if s, isString := v.(string); isString {
			text = `"` + strings.NewReplacer(`"`, `\"`, `\`, `\\`, "\x00", `\u0000`, "\t", `\t`).Replace(s) + `"`
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
		}
		parts = append(parts, fmt.Sprintf("%q: %s", k, text))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ", ") + "}", query, true
}

func restAnswer(t *testing.T, s *testServer, rt route, c badCase, body string, query url.Values) answer {
	t.Helper()
	header := http.Header{"Authorization": {c.auth}}
	if c.auth == "" {
		header.Set("Authorization", basicAuth(adminUser, adminPass))
	}
	target := s.httpBase + rt.path
	var reader *strings.Reader
	switch {
	case c.rawQuery != "":
		target += "?" + c.rawQuery
	case rt.verb == http.MethodGet && c.rawBody == "":
		target += "?" + query.Encode()
	default:
		reader = strings.NewReader(body)
	}
	var st int
	var resp []byte
	if reader == nil {
		st, resp = do(t, rt.verb, target, "", "", nil, header)
	} else {
		st, resp = do(t, rt.verb, target, "", "", reader, header)
	}
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(resp, &e); err != nil {
		t.Errorf("REST %d with a body that is not MLflow's error JSON: %.200s", st, resp)
	}
	return answer{st, e.ErrorCode, e.Message}
}

// grpcRequest encodes c's fields as protobuf without the checks proto.Marshal
// makes, so that NUL and invalid UTF-8 reach the server; false when a field's
// value has no protobuf form (a number for a string).
func grpcRequest(t *testing.T, c badCase) ([]byte, bool) {
	if c.rawBody != "" || c.rawQuery != "" {
		return nil, false
	}
	if c.rawProto != nil {
		return c.rawProto, true
	}
	i := strings.LastIndex(c.method, "/")
	svc, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(c.method[1:i]))
	if err != nil {
		t.Fatal(err)
	}
	desc := svc.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(c.method[i+1:])).Input()
	var b []byte
	for name, v := range fieldsOf(c) {
		fd := desc.Fields().ByTextName(name)
		switch v := v.(type) {
		case string:
			if fd.Kind() != protoreflect.StringKind {
				return nil, false
			}
			b = protowire.AppendTag(b, fd.Number(), protowire.BytesType)
			b = protowire.AppendString(b, v)
		case int:
			if fd.Kind() != protoreflect.Int32Kind || int(int32(v)) != v {
				return nil, false
			}
			b = protowire.AppendTag(b, fd.Number(), protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(int64(v)))
		case bool:
			b = protowire.AppendTag(b, fd.Number(), protowire.VarintType)
			b = protowire.AppendVarint(b, protowire.EncodeBool(v))
		default:
			return nil, false
		}
	}
	return b, true
}

func grpcAnswer(t *testing.T, s *testServer, c badCase, msg []byte) answer {
	t.Helper()
	auth := c.auth
	if auth == "" {
		auth = basicAuth(adminUser, adminPass)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", auth)
	var reply []byte
	err := s.conn.Invoke(ctx, c.method, msg, &reply, grpc.ForceCodec(rawCodec{}))
	st := status.Convert(err)
	a := answer{Status: int(st.Code()), Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			a.Code = info.Reason
		}
	}
	return a
}

// Error messages that repeat an input repeat only its first 100 characters.
func TestErrorMessagesQuoteAShortPrefix(t *testing.T) {
	s := startServer(t, "READ")
	long := strings.Repeat("x", 255)
	cases := []struct{ verb, path, body string }{
		{http.MethodDelete, "/api/2.0/mlflow/users/delete", `{"username": ["` + strings.Repeat("x", 100000) + `"]}`},
		{http.MethodPatch, "/api/2.0/mlflow/users/update-admin", `{"username": "` + long + `", "is_admin": false}`},
		{http.MethodGet, "/api/2.0/mlflow/users/get?username=" + long, ""},
		{http.MethodGet, "/api/2.0/mlflow/experiments/permissions/get?username=admin&experiment_id=" + long, ""},
		{http.MethodGet, "/api/2.0/mlflow/users/" + strings.Repeat("x", 5000), ""},
		{http.MethodPut, "/api/2.0/mlflow/users/get/" + strings.Repeat("x", 5000), ""},
	}
	for _, c := range cases {
		var body *strings.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		var st int
		var resp []byte
		if body == nil {
			st, resp = do(t, c.verb, s.httpBase+c.path, adminUser, adminPass, nil, nil)
		} else {
			st, resp = do(t, c.verb, s.httpBase+c.path, adminUser, adminPass, body, nil)
		}
		var e struct{ Message string }
		if err := json.Unmarshal(resp, &e); err != nil || st < 400 {
			t.Fatalf("%s %.80s: %d %.200s", c.verb, c.path, st, resp)
		}
		if len(e.Message) > 300 || !strings.Contains(e.Message, "x…") {
			t.Errorf("%s %.80s: %d message of %d bytes: %.400s", c.verb, c.path, st, len(e.Message), e.Message)
		}
	}
}

// 16 callers demote and delete the same admins at once on Postgres, round after
// round: each answer is a success or a refusal the caller can act on (404 for a
// user already gone), never a 5xx. The caller is an admin created after the
// targets, so that the targets' rows are the first that each removal locks.
func TestConcurrentAdminRemovalsOnPostgres(t *testing.T) {
	// A pool as large as the callers, so that all their transactions overlap.
	pg := openPostgres(t, "&pool_max_conns=20")
	s := startServerOn(t, pg, "READ")
	const rounds, callers, targets, pass = 8, 16, 4, "admin-password-x"
	caller := adminUser
	callerPass := adminPass
	send := func(user, pw, verb, path, body string) int {
		st, _ := do(t, verb, s.httpBase+path, user, pw, strings.NewReader(body), nil)
		return st
	}
	setAdmin := func(name string, admin bool) string {
		return fmt.Sprintf(`{"username": %q, "is_admin": %v}`, name, admin)
	}
	answers := map[string]int{}
	var mu sync.Mutex
	for round := range rounds {
		names := make([]string, targets+1) // the targets, then the next caller
		for i := range names {
			names[i] = fmt.Sprintf("admin-%d-%d", round, i)
			if send(caller, callerPass, http.MethodPost, "/api/2.0/mlflow/users/create", fmt.Sprintf(`{"username": %q, "password": %q}`, names[i], pass)) != http.StatusOK ||
				send(caller, callerPass, http.MethodPatch, "/api/2.0/mlflow/users/update-admin", setAdmin(names[i], true)) != http.StatusOK {
				t.Fatalf("round %d: could not create admin %s", round, names[i])
			}
		}
		previous := caller
		caller, callerPass = names[targets], pass
		if st := send(caller, callerPass, http.MethodPatch, "/api/2.0/mlflow/users/update-admin", setAdmin(previous, false)); st != http.StatusOK {
			t.Fatalf("round %d: demote %s: %d", round, previous, st)
		}
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				target := names[i%targets]
				verb, path, body := http.MethodPatch, "/api/2.0/mlflow/users/update-admin", setAdmin(target, false)
				if (i/targets)%2 == 1 { // each target is demoted and deleted at once
					verb, path, body = http.MethodDelete, "/api/2.0/mlflow/users/delete", fmt.Sprintf(`{"username": %q}`, target)
				}
				st := send(caller, callerPass, verb, path, body)
				mu.Lock()
				answers[fmt.Sprint(verb, " ", st)]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	for answer, n := range answers {
		if !strings.HasSuffix(answer, " 200") && !strings.HasSuffix(answer, " 404") {
			t.Errorf("%d × %s", n, answer)
		}
	}
	if admins, err := pg.CountAdmins(context.Background()); err != nil || admins < 1 {
		t.Errorf("%d admins left, %v", admins, err)
	}
}

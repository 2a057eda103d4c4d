package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

const (
	adminUser = servicetest.AdminUsername
	adminPass = servicetest.AdminPassword
)

// testServer is a running mlflow-auth (see servicetest) and a gRPC connection to it.
type testServer struct {
	httpBase string
	conn     *grpc.ClientConn
	store    storage.Store // the server's database, for setting up what a test needs
}

func startServer(t testing.TB, defaultLevel permission.Level) *testServer {
	return startServerOn(t, nil, defaultLevel)
}

// startServerOn serves db (nil: a fresh SQLite file).
// openPostgres opens a store on a fresh schema of the test database (options
// appended to its URL), closed when the test ends; without a database the test
// is skipped.
func openPostgres(t testing.TB, options string) *postgres.Store {
	t.Helper()
	pg, err := postgres.Open(context.Background(), storagetest.NewPostgresSchema(t).URL+options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	return pg
}

func startServerOn(t testing.TB, db servicetest.Database, defaultLevel permission.Level) *testServer {
	t.Helper()
	return startServerWith(t, servicetest.Options{Store: db, DefaultPermission: defaultLevel})
}

// startServerWith starts a server as opts say.
func startServerWith(t testing.TB, opts servicetest.Options) *testServer {
	t.Helper()
	s := servicetest.Start(t, opts)
	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &testServer{httpBase: s.URL, conn: conn, store: s.Store}
}

// transport calls one RPC as a user ("" for no credentials) and returns the
// MLflow error code of the answer ("" for success). gRPC and REST implement it,
// so each behaviour test runs once per transport.
type transport interface {
	name() string
	call(t *testing.T, user, pass, method string, req, resp proto.Message) string
}

func (s *testServer) transports(t *testing.T) []transport {
	return []transport{grpcTransport{s.conn}, restTransport{base: s.httpBase, routes: loadRoutes(t)}}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// bearerUser as a caller's user sends its password as "Bearer <token>".
const bearerUser = "<bearer>"

// authorization is the header a caller sends: Basic, or Bearer for bearerUser.
func authorization(user, pass string) string {
	if user == bearerUser {
		return "Bearer " + pass
	}
	return basicAuth(user, pass)
}

type grpcTransport struct{ conn *grpc.ClientConn }

func (grpcTransport) name() string { return "grpc" }

func (g grpcTransport) call(t *testing.T, user, pass, method string, req, resp proto.Message) string {
	t.Helper()
	ctx := context.Background()
	if user != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authorization(user, pass))
	}
	err := g.conn.Invoke(ctx, method, req, resp)
	if err == nil {
		return ""
	}
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	t.Fatalf("%s: error without an MLflow code: %v", method, err)
	return ""
}

// route is one REST binding of an RPC.
type route struct{ verb, path string }

// loadRoutes reads the first binding of every RPC from the routes file the
// gateway is generated from, so the tests exercise exactly what ships.
func loadRoutes(t *testing.T) map[string]route {
	t.Helper()
	all := loadAllRoutes(t)
	first := map[string]route{}
	for method, rs := range all {
		first[method] = rs[0]
	}
	return first
}

func loadAllRoutes(t *testing.T) map[string][]route {
	t.Helper()
	data, err := os.ReadFile("../proto/mlflowauth/v1/http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type binding struct {
		Get, Post, Patch, Delete string
	}
	var doc struct {
		HTTP struct {
			Rules []struct {
				Selector           string
				binding            `yaml:",inline"`
				AdditionalBindings []binding `yaml:"additional_bindings"`
			}
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	toRoute := func(b binding) route {
		switch {
		case b.Get != "":
			return route{http.MethodGet, b.Get}
		case b.Post != "":
			return route{http.MethodPost, b.Post}
		case b.Patch != "":
			return route{http.MethodPatch, b.Patch}
		}
		return route{http.MethodDelete, b.Delete}
	}
	routes := map[string][]route{}
	for _, r := range doc.HTTP.Rules {
		i := strings.LastIndex(r.Selector, ".")
		method := "/" + r.Selector[:i] + "/" + r.Selector[i+1:]
		routes[method] = append(routes[method], toRoute(r.binding))
		for _, b := range r.AdditionalBindings {
			routes[method] = append(routes[method], toRoute(b))
		}
	}
	return routes
}

type restTransport struct {
	base   string
	routes map[string]route
}

func (restTransport) name() string { return "rest" }

func (r restTransport) call(t *testing.T, user, pass, method string, req, resp proto.Message) string {
	t.Helper()
	rt, ok := r.routes[method]
	if !ok {
		t.Fatalf("no REST route for %s", method)
	}
	status, body := r.send(t, user, pass, rt, req)
	if status == http.StatusOK {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, resp); err != nil {
			t.Fatalf("%s %s: decode %s: %v", rt.verb, rt.path, body, err)
		}
		return ""
	}
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode == "" || e.Message == "" {
		t.Fatalf("%s %s: status %d with a body that is not MLflow's error JSON: %s", rt.verb, rt.path, status, body)
	}
	return e.ErrorCode
}

// send encodes req as MLflow clients do: query parameters for GET, a JSON body otherwise.
func (r restTransport) send(t *testing.T, user, pass string, rt route, req proto.Message) (int, []byte) {
	t.Helper()
	fields, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	target := r.base + rt.path
	var body io.Reader
	if rt.verb == http.MethodGet {
		var m map[string]any
		json.Unmarshal(fields, &m)
		q := url.Values{}
		for k, v := range m {
			q.Set(k, fmt.Sprint(v))
		}
		target += "?" + q.Encode()
	} else {
		body = bytes.NewReader(fields)
	}
	return do(t, rt.verb, target, user, pass, body, nil)
}

// do sends one HTTP request and returns the status and body.
func do(t *testing.T, verb, target, user, pass string, body io.Reader, header http.Header) (int, []byte) {
	t.Helper()
	status, b, _ := doWithHeaders(t, verb, target, user, pass, body, header)
	return status, b
}

// doWithHeaders is do, also returning the answer's headers.
func doWithHeaders(t *testing.T, verb, target, user, pass string, body io.Reader, header http.Header) (int, []byte, http.Header) {
	t.Helper()
	hr, err := http.NewRequest(verb, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		hr.Header[k] = v
	}
	if body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		hr.Header.Set("Authorization", authorization(user, pass))
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return res.StatusCode, b, res.Header
}

package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

func connect(t *testing.T, srv *servicetest.Server, username, password string) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL, client.WithBasicAuth(username, password))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func asAdmin(t *testing.T, srv *servicetest.Server) *client.Client {
	return connect(t, srv, servicetest.AdminUsername, servicetest.AdminPassword)
}

// must unwraps a call's result, as in must(c.GetUser(ctx, req))(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantError checks that err is the server's answer with this status and code.
func wantError(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v: want a *client.Error %d %s", err, status, code)
	}
	if apiErr.StatusCode != status || apiErr.Code != code || apiErr.Message == "" {
		t.Fatalf("error %+v: want status %d, code %s and a message", apiErr, status, code)
	}
	return apiErr
}

func wantEqual(t *testing.T, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func createUser(t *testing.T, c *client.Client, username, password string) *v1.User {
	t.Helper()
	return must(c.CreateUser(t.Context(), &v1.CreateUserRequest{Username: username, Password: password}))(t).GetUser()
}

// Every RPC of every service has a client method with the generated client's types.
func TestEveryRPCHasAMethod(t *testing.T) {
	clientType := reflect.TypeFor[*client.Client]()
	for _, service := range []reflect.Type{reflect.TypeFor[v1.UserServiceClient](), reflect.TypeFor[v1.PermissionServiceClient](), reflect.TypeFor[v1.AuthorizationServiceClient](), reflect.TypeFor[v1.RoleServiceClient]()} {
		for i := range service.NumMethod() {
			rpc := service.Method(i)
			m, ok := clientType.MethodByName(rpc.Name)
			switch {
			case !ok:
				t.Errorf("no method %s", rpc.Name)
			case m.Type.NumIn() != 3 || m.Type.In(1) != rpc.Type.In(0) || m.Type.In(2) != rpc.Type.In(1) ||
				m.Type.NumOut() != 2 || m.Type.Out(0) != rpc.Type.Out(0) || m.Type.Out(1) != rpc.Type.Out(1):
				t.Errorf("%s has type %v; want (context.Context, %v) (%v, error)", rpc.Name, m.Type, rpc.Type.In(1), rpc.Type.Out(0))
			}
		}
	}
}

func TestUserCalls(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx := t.Context()
	admin := asAdmin(t, srv)

	alice := createUser(t, admin, "alice", "alice-password-1")
	if alice.GetUsername() != "alice" || alice.GetIsAdmin() || alice.GetId() <= 0 {
		t.Fatalf("created %v", alice)
	}
	_, err := admin.CreateUser(ctx, &v1.CreateUserRequest{Username: "alice", Password: "alice-password-1"})
	wantError(t, err, 400, "RESOURCE_ALREADY_EXISTS")
	_, err = admin.CreateUser(ctx, &v1.CreateUserRequest{Username: "bob", Password: "short"})
	wantError(t, err, 400, "INVALID_PARAMETER_VALUE")

	wantEqual(t, must(admin.GetUser(ctx, &v1.GetUserRequest{Username: "alice"}))(t).GetUser(), alice)
	_, err = admin.GetUser(ctx, &v1.GetUserRequest{Username: "nobody"})
	if e := wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST"); e.Message != "User with username=nobody not found" {
		t.Errorf("message %q", e.Message)
	}

	asAlice := connect(t, srv, "alice", "alice-password-1")
	current := must(asAlice.GetCurrentUser(ctx, &v1.GetCurrentUserRequest{}))(t)
	if current.GetUser().GetUsername() != "alice" || !current.GetIsBasicAuth() {
		t.Errorf("current user %v", current)
	}
	// alice holds no role and no grant: she lists herself alone.
	if names := usernames(must(asAlice.ListUsers(ctx, &v1.ListUsersRequest{}))(t).GetUsers()); !slices.Equal(names, []string{"alice"}) {
		t.Errorf("alice lists %v", names)
	}

	page := must(admin.ListUsers(ctx, &v1.ListUsersRequest{}))(t)
	if names := usernames(page.GetUsers()); !slices.Equal(names, []string{"admin", "alice"}) || page.GetNextPageToken() != "" {
		t.Errorf("ListUsers: %v, token %q", names, page.GetNextPageToken())
	}

	must(admin.UpdateUserPassword(ctx, &v1.UpdateUserPasswordRequest{Username: "alice", Password: "alice-password-2"}))(t)
	_, err = asAlice.GetCurrentUser(ctx, &v1.GetCurrentUserRequest{})
	wantError(t, err, 401, "UNAUTHENTICATED")
	must(connect(t, srv, "alice", "alice-password-2").GetCurrentUser(ctx, &v1.GetCurrentUserRequest{}))(t)

	for _, isAdmin := range []bool{true, false} {
		must(admin.UpdateUserAdmin(ctx, &v1.UpdateUserAdminRequest{Username: "alice", IsAdmin: &isAdmin}))(t)
		if u := must(srv.Store.UserByName(ctx, "alice"))(t); u.IsAdmin != isAdmin {
			t.Fatalf("after UpdateUserAdmin(%v) the store has is_admin %v", isAdmin, u.IsAdmin)
		}
	}
	yes := true
	_, err = admin.UpdateUserAdmin(ctx, &v1.UpdateUserAdminRequest{Username: "nobody", IsAdmin: &yes})
	wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")

	must(admin.DeleteUser(ctx, &v1.DeleteUserRequest{Username: "alice"}))(t)
	if _, err := srv.Store.UserByName(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("alice is still stored: %v", err)
	}
	_, err = admin.DeleteUser(ctx, &v1.DeleteUserRequest{Username: "alice"})
	wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	_, err = admin.DeleteUser(ctx, &v1.DeleteUserRequest{Username: "admin"})
	wantError(t, err, 400, "BAD_REQUEST")
}

func usernames(users []*v1.User) []string {
	var names []string
	for _, u := range users {
		names = append(names, u.GetUsername())
	}
	return names
}

// storedLevel is the level of a grant in the store, or "" when there is none.
func storedLevel(t *testing.T, srv *servicetest.Server, userID int32, typ permission.ResourceType, id string) permission.Level {
	t.Helper()
	g, err := srv.Store.Grant(t.Context(), userID, permission.Resource{Type: typ, ID: id})
	if errors.Is(err, storage.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return g.Level
}

func TestClassicPermissionCalls(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx := t.Context()
	admin := asAdmin(t, srv)
	alice := createUser(t, admin, "alice", "alice-password-1").GetId()

	t.Run("experiment", func(t *testing.T) {
		created := must(admin.CreateExperimentPermission(ctx, &v1.CreateExperimentPermissionRequest{ExperimentId: "7", Username: "alice", Permission: "READ"}))(t)
		wantEqual(t, created.GetExperimentPermission(), &v1.ExperimentPermission{ExperimentId: "7", UserId: alice, Permission: "READ"})
		_, err := admin.CreateExperimentPermission(ctx, &v1.CreateExperimentPermissionRequest{ExperimentId: "7", Username: "alice", Permission: "READ"})
		wantError(t, err, 400, "RESOURCE_ALREADY_EXISTS")
		must(admin.UpdateExperimentPermission(ctx, &v1.UpdateExperimentPermissionRequest{ExperimentId: "7", Username: "alice", Permission: "EDIT"}))(t)
		if l := storedLevel(t, srv, alice, permission.Experiment, "7"); l != permission.Edit {
			t.Errorf("stored level %q after update", l)
		}
		_, err = admin.UpdateExperimentPermission(ctx, &v1.UpdateExperimentPermissionRequest{ExperimentId: "7", Username: "alice", Permission: "WRITE"})
		wantError(t, err, 400, "INVALID_PARAMETER_VALUE")
		got := must(admin.GetExperimentPermission(ctx, &v1.GetExperimentPermissionRequest{ExperimentId: "7", Username: "alice"}))(t)
		wantEqual(t, got.GetExperimentPermission(), &v1.ExperimentPermission{ExperimentId: "7", UserId: alice, Permission: "EDIT"})
		must(admin.DeleteExperimentPermission(ctx, &v1.DeleteExperimentPermissionRequest{ExperimentId: "7", Username: "alice"}))(t)
		if l := storedLevel(t, srv, alice, permission.Experiment, "7"); l != "" {
			t.Errorf("grant still stored: %q", l)
		}
		_, err = admin.GetExperimentPermission(ctx, &v1.GetExperimentPermissionRequest{ExperimentId: "7", Username: "alice"})
		wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	})

	t.Run("registered model", func(t *testing.T) {
		const name = "fraud model/v2 & co" // needs escaping in the query string
		created := must(admin.CreateRegisteredModelPermission(ctx, &v1.CreateRegisteredModelPermissionRequest{Name: name, Username: "alice", Permission: "MANAGE"}))(t)
		wantEqual(t, created.GetRegisteredModelPermission(), &v1.RegisteredModelPermission{Workspace: "default", Name: name, UserId: alice, Permission: "MANAGE"})
		must(admin.UpdateRegisteredModelPermission(ctx, &v1.UpdateRegisteredModelPermissionRequest{Name: name, Username: "alice", Permission: "NO_PERMISSIONS"}))(t)
		got := must(admin.GetRegisteredModelPermission(ctx, &v1.GetRegisteredModelPermissionRequest{Name: name, Username: "alice"}))(t)
		wantEqual(t, got.GetRegisteredModelPermission(), &v1.RegisteredModelPermission{Workspace: "default", Name: name, UserId: alice, Permission: "NO_PERMISSIONS"})
		if l := storedLevel(t, srv, alice, permission.RegisteredModel, name); l != permission.NoPermissions {
			t.Errorf("stored level %q", l)
		}
		must(admin.DeleteRegisteredModelPermission(ctx, &v1.DeleteRegisteredModelPermissionRequest{Name: name, Username: "alice"}))(t)
		_, err := admin.DeleteRegisteredModelPermission(ctx, &v1.DeleteRegisteredModelPermissionRequest{Name: name, Username: "alice"})
		wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	})

	t.Run("scorer", func(t *testing.T) {
		created := must(admin.CreateScorerPermission(ctx, &v1.CreateScorerPermissionRequest{ExperimentId: "7", ScorerName: "my scorer", Username: "alice", Permission: "USE"}))(t)
		wantEqual(t, created.GetScorerPermission(), &v1.ScorerPermission{ExperimentId: "7", ScorerName: "my scorer", UserId: alice, Permission: "USE"})
		must(admin.UpdateScorerPermission(ctx, &v1.UpdateScorerPermissionRequest{ExperimentId: "7", ScorerName: "my scorer", Username: "alice", Permission: "EDIT"}))(t)
		got := must(admin.GetScorerPermission(ctx, &v1.GetScorerPermissionRequest{ExperimentId: "7", ScorerName: "my scorer", Username: "alice"}))(t)
		if got.GetScorerPermission().GetPermission() != "EDIT" {
			t.Errorf("after update: %v", got)
		}
		must(admin.DeleteScorerPermission(ctx, &v1.DeleteScorerPermissionRequest{ExperimentId: "7", ScorerName: "my scorer", Username: "alice"}))(t)
		_, err := admin.GetScorerPermission(ctx, &v1.GetScorerPermissionRequest{ExperimentId: "7", ScorerName: "my scorer", Username: "alice"})
		wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	})

	// The gateway calls write the direct grants the unified calls read.
	t.Run("gateway secret", func(t *testing.T) {
		created := must(admin.CreateGatewaySecretPermission(ctx, &v1.CreateGatewaySecretPermissionRequest{SecretId: "s1", Username: "alice", Permission: "USE"}))(t)
		wantEqual(t, created.GetGatewaySecretPermission(), &v1.GatewaySecretPermission{SecretId: "s1", UserId: alice, Permission: "USE"})
		must(admin.UpdateGatewaySecretPermission(ctx, &v1.UpdateGatewaySecretPermissionRequest{SecretId: "s1", Username: "alice", Permission: "EDIT"}))(t)
		got := must(admin.GetGatewaySecretPermission(ctx, &v1.GetGatewaySecretPermissionRequest{SecretId: "s1", Username: "alice"}))(t)
		wantEqual(t, got.GetGatewaySecretPermission(), &v1.GatewaySecretPermission{SecretId: "s1", UserId: alice, Permission: "EDIT"})
		if l := storedLevel(t, srv, alice, permission.GatewaySecret, "s1"); l != permission.Edit {
			t.Errorf("stored level %q", l)
		}
		must(admin.DeleteGatewaySecretPermission(ctx, &v1.DeleteGatewaySecretPermissionRequest{SecretId: "s1", Username: "alice"}))(t)
		_, err := admin.GetGatewaySecretPermission(ctx, &v1.GetGatewaySecretPermissionRequest{SecretId: "s1", Username: "alice"})
		wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	})
	t.Run("gateway endpoint", func(t *testing.T) {
		must(admin.CreateGatewayEndpointPermission(ctx, &v1.CreateGatewayEndpointPermissionRequest{EndpointId: "e1", Username: "alice", Permission: "READ"}))(t)
		must(admin.UpdateGatewayEndpointPermission(ctx, &v1.UpdateGatewayEndpointPermissionRequest{EndpointId: "e1", Username: "alice", Permission: "MANAGE"}))(t)
		got := must(admin.GetGatewayEndpointPermission(ctx, &v1.GetGatewayEndpointPermissionRequest{EndpointId: "e1", Username: "alice"}))(t)
		wantEqual(t, got.GetGatewayEndpointPermission(), &v1.GatewayEndpointPermission{EndpointId: "e1", UserId: alice, Permission: "MANAGE"})
		must(admin.DeleteGatewayEndpointPermission(ctx, &v1.DeleteGatewayEndpointPermissionRequest{EndpointId: "e1", Username: "alice"}))(t)
		_, err := admin.DeleteGatewayEndpointPermission(ctx, &v1.DeleteGatewayEndpointPermissionRequest{EndpointId: "e1", Username: "alice"})
		wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
	})
	t.Run("gateway model definition", func(t *testing.T) {
		must(admin.CreateGatewayModelDefinitionPermission(ctx, &v1.CreateGatewayModelDefinitionPermissionRequest{ModelDefinitionId: "d1", Username: "alice", Permission: "READ"}))(t)
		must(admin.UpdateGatewayModelDefinitionPermission(ctx, &v1.UpdateGatewayModelDefinitionPermissionRequest{ModelDefinitionId: "d1", Username: "alice", Permission: "USE"}))(t)
		got := must(admin.GetGatewayModelDefinitionPermission(ctx, &v1.GetGatewayModelDefinitionPermissionRequest{ModelDefinitionId: "d1", Username: "alice"}))(t)
		wantEqual(t, got.GetGatewayModelDefinitionPermission(), &v1.GatewayModelDefinitionPermission{ModelDefinitionId: "d1", UserId: alice, Permission: "USE"})
		must(admin.DeleteGatewayModelDefinitionPermission(ctx, &v1.DeleteGatewayModelDefinitionPermissionRequest{ModelDefinitionId: "d1", Username: "alice"}))(t)
	})
}

func TestUnifiedPermissionCalls(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx := t.Context()
	admin := asAdmin(t, srv)
	alice := createUser(t, admin, "alice", "alice-password-1").GetId()
	bob := createUser(t, admin, "bob", "bob-password-12").GetId()

	must(admin.GrantPermission(ctx, &v1.GrantPermissionRequest{Username: "alice", ResourceType: "experiment", ResourceId: "7", Permission: "MANAGE"}))(t)
	must(admin.GrantPermission(ctx, &v1.GrantPermissionRequest{Username: "bob", ResourceType: "experiment", ResourceId: "7", Permission: "READ"}))(t)
	if l := storedLevel(t, srv, bob, permission.Experiment, "7"); l != permission.Read {
		t.Errorf("bob's stored level %q", l)
	}
	_, err := admin.GrantPermission(ctx, &v1.GrantPermissionRequest{Username: "bob", ResourceType: "experiment", ResourceId: "8", Permission: "NO_PERMISSIONS"})
	wantError(t, err, 400, "INVALID_PARAMETER_VALUE")

	wantEqual(t, must(admin.GetUserPermission(ctx, &v1.GetUserPermissionRequest{Username: "alice", ResourceType: "experiment", ResourceId: "7"}))(t),
		&v1.GetUserPermissionResponse{Allowed: true, Permission: "MANAGE"})
	wantEqual(t, must(admin.GetUserPermission(ctx, &v1.GetUserPermissionRequest{Username: "bob", ResourceType: "experiment", ResourceId: "8"}))(t),
		&v1.GetUserPermissionResponse{Allowed: false, Permission: "READ"}) // the server's default

	aliceRows := &v1.ListUserPermissionsResponse{Permissions: []*v1.UserPermission{{Workspace: "default", ResourceType: "experiment", ResourcePattern: "7", Permission: "MANAGE", RoleId: -2, RoleName: "__user_2__"}}}
	wantEqual(t, must(admin.ListUserPermissions(ctx, &v1.ListUserPermissionsRequest{Username: "alice"}))(t), aliceRows)
	asAlice := connect(t, srv, "alice", "alice-password-1")
	wantEqual(t, must(asAlice.ListCurrentUserPermissions(ctx, &v1.ListCurrentUserPermissionsRequest{}))(t),
		&v1.ListCurrentUserPermissionsResponse{Permissions: aliceRows.Permissions})

	// Who has access: alice, with MANAGE, may ask too.
	everyone := []*v1.ResourcePermission{{UserId: alice, Username: "alice", Permission: "MANAGE", ResourcePattern: "7"}, {UserId: bob, Username: "bob", Permission: "READ", ResourcePattern: "7"}}
	wantEqual(t, must(asAlice.ListResourcePermissions(ctx, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: "7"}))(t),
		&v1.ListResourcePermissionsResponse{Permissions: everyone})
	first := must(admin.ListResourcePermissions(ctx, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: "7", MaxResults: 1}))(t)
	if len(first.GetPermissions()) != 1 || first.GetNextPageToken() == "" {
		t.Fatalf("first page of 1: %v", first)
	}
	var all []*v1.ResourcePermission
	for p, err := range admin.AllResourcePermissions(ctx, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: "7", MaxResults: 1}) {
		all = append(all, must(p, err)(t))
	}
	wantEqual(t, &v1.ListResourcePermissionsResponse{Permissions: all}, &v1.ListResourcePermissionsResponse{Permissions: everyone})

	wantEqual(t, must(admin.Check(ctx, &v1.CheckRequest{Username: "bob", Capability: "read", ResourceType: "experiment", ResourceId: "7"}))(t),
		&v1.CheckResponse{Allowed: true, Permission: "READ", DecidedBy: "grant"})

	must(admin.RevokePermission(ctx, &v1.RevokePermissionRequest{Username: "bob", ResourceType: "experiment", ResourceId: "7"}))(t)
	if l := storedLevel(t, srv, bob, permission.Experiment, "7"); l != "" {
		t.Errorf("bob's grant is still stored: %q", l)
	}
	_, err = admin.RevokePermission(ctx, &v1.RevokePermissionRequest{Username: "bob", ResourceType: "experiment", ResourceId: "7"})
	wantError(t, err, 404, "RESOURCE_DOES_NOT_EXIST")
}

func TestAllUsersFollowsPages(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx := t.Context()
	admin := asAdmin(t, srv)
	want := []string{"admin"}
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"} {
		createUser(t, admin, name, "a-long-password")
		want = append(want, name)
	}

	var got []string
	for u, err := range admin.AllUsers(ctx, &v1.ListUsersRequest{MaxResults: 3}) {
		got = append(got, must(u, err)(t).GetUsername())
	}
	if !slices.Equal(got, want) {
		t.Errorf("AllUsers in pages of 3: %v, want %v", got, want)
	}

	// Page by page: 3, 3, 2.
	var sizes []int
	req := &v1.ListUsersRequest{MaxResults: 3}
	for {
		page := must(admin.ListUsers(ctx, req))(t)
		sizes = append(sizes, len(page.GetUsers()))
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	if !slices.Equal(sizes, []int{3, 3, 2}) {
		t.Errorf("page sizes %v", sizes)
	}

	// From a page token on, and stopping early.
	first := must(admin.ListUsers(ctx, &v1.ListUsersRequest{MaxResults: 3}))(t)
	got = nil
	for u, err := range admin.AllUsers(ctx, &v1.ListUsersRequest{MaxResults: 3, PageToken: first.GetNextPageToken()}) {
		got = append(got, must(u, err)(t).GetUsername())
		if len(got) == 4 {
			break
		}
	}
	if !slices.Equal(got, want[3:7]) {
		t.Errorf("from the second page, stopping after 4: %v", got)
	}

	// An error ends the sequence after being yielded once.
	var errs []error
	for _, err := range admin.AllUsers(ctx, &v1.ListUsersRequest{PageToken: "not a token"}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("%d items for a bad token", len(errs))
	}
	wantError(t, errs[0], 400, "INVALID_PARAMETER_VALUE")
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := must(client.New("http://" + addr))(t)
	_, err = c.GetUser(t.Context(), &v1.GetUserRequest{Username: "alice"})
	if !errors.Is(err, client.ErrUnreachable) || !strings.HasPrefix(err.Error(), "cannot reach the server at http://"+addr+": ") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %q: want one that says the server cannot be reached, and why", err)
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		t.Errorf("an unreachable server gave an API error: %v", apiErr)
	}
}

func TestCancelledCall(t *testing.T) {
	srv := servicetest.NewServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := asAdmin(t, srv).GetUser(ctx, &v1.GetUserRequest{Username: "admin"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("error %v: want context.Canceled", err)
	}
}

func TestTLS(t *testing.T) {
	srv := servicetest.NewTLSServer(t)
	ctx := t.Context()
	basic := client.WithBasicAuth(servicetest.AdminUsername, servicetest.AdminPassword)
	call := func(opts ...client.Option) error {
		c, err := client.New(srv.URL, append(opts, basic)...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCurrentUser(ctx, &v1.GetCurrentUserRequest{})
		return err
	}
	if err := call(); !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a self-signed certificate without trust: %v", err)
	}
	if err := call(client.WithServerCert(srv.CertFile)); err != nil {
		t.Errorf("trusting the server's certificate: %v", err)
	}
	if err := call(client.WithInsecureTLS()); err != nil {
		t.Errorf("insecure TLS: %v", err)
	}

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for name, opts := range map[string][]client.Option{
		"insecure and a certificate":   {client.WithInsecureTLS(), client.WithServerCert(srv.CertFile)},
		"TLS option on a given client": {client.WithHTTPClient(&http.Client{}), client.WithInsecureTLS()},
		"missing certificate file":     {client.WithServerCert(filepath.Join(t.TempDir(), "absent.pem"))},
		"file without a certificate":   {client.WithServerCert(notPEM)},
	} {
		if _, err := client.New(srv.URL, opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewChecksTheTrackingURI(t *testing.T) {
	for _, uri := range []string{"", "localhost:8080", "file:///tmp/mlruns", "databricks", "http://"} {
		if _, err := client.New(uri); err == nil {
			t.Errorf("%q: accepted", uri)
		}
	}
	for _, uri := range []string{"http://127.0.0.1:8080", "https://mlflow.example.com/prefix/"} {
		if _, err := client.New(uri); err != nil {
			t.Errorf("%q: %v", uri, err)
		}
	}
}

// The README's gRPC example: the generated client with credentials in the
// "authorization" metadata.
func TestGRPCWithTheGeneratedClient(t *testing.T) {
	srv := servicetest.NewServer(t)
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	creds := base64.StdEncoding.EncodeToString([]byte(servicetest.AdminUsername + ":" + servicetest.AdminPassword))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Basic "+creds)
	resp, err := v1.NewUserServiceClient(conn).GetUser(ctx, &v1.GetUserRequest{Username: servicetest.AdminUsername})
	if err != nil || !resp.GetUser().GetIsAdmin() {
		t.Fatalf("GetUser over gRPC: %v, %v", resp, err)
	}
}

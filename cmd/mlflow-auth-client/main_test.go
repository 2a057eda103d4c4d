package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// useServer points MLflow's client variables at uri with these credentials and
// HOME at an empty directory.
func useServer(t *testing.T, uri, username, password string) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("MLFLOW_TRACKING_URI", uri)
	t.Setenv("MLFLOW_TRACKING_USERNAME", username)
	t.Setenv("MLFLOW_TRACKING_PASSWORD", password)
	for _, name := range []string{"MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH"} {
		t.Setenv(name, "")
	}
}

func startServer(t *testing.T) *servicetest.Server {
	t.Helper()
	srv := servicetest.NewServer(t)
	useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)
	return srv
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command line with stdin and returns what it wrote and its exit status.
func cli(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, stdin, &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := cli(t, strings.NewReader(""), args...)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail with this status and returns its stderr,
// which must contain each of wants.
func fails(t *testing.T, code int, args []string, wants ...string) string {
	t.Helper()
	r := cli(t, strings.NewReader(""), args...)
	if r.code != code || r.stdout != "" {
		t.Fatalf("%v: exit %d (want %d), stdout %q, stderr %q", args, r.code, code, r.stdout, r.stderr)
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("%v: stderr %q does not say %q", args, r.stderr, want)
		}
	}
	return r.stderr
}

// decode parses the output into m, strictly: every key must be a field of m.
func decode[M proto.Message](t *testing.T, out string, m M) M {
	t.Helper()
	if err := protojson.Unmarshal([]byte(out), m); err != nil {
		t.Fatalf("output is not a %T: %v\n%s", m, err, out)
	}
	return m
}

func wantEqual(t *testing.T, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func storedUser(t *testing.T, srv *servicetest.Server, username string) (storage.User, bool) {
	t.Helper()
	u, err := srv.Store.UserByName(t.Context(), username)
	if errors.Is(err, storage.ErrNotFound) {
		return u, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return u, true
}

func storedLevel(t *testing.T, srv *servicetest.Server, username string, typ permission.ResourceType, id string) permission.Level {
	t.Helper()
	u, _ := storedUser(t, srv, username)
	g, err := srv.Store.Grant(t.Context(), u.ID, permission.Resource{Type: typ, ID: id})
	if errors.Is(err, storage.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return g.Level
}

func TestHelp(t *testing.T) {
	useServer(t, "", "", "") // help needs no server
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out := ok(t, args...)
		for _, c := range commands {
			if !strings.Contains(out, "  "+c.synopsis()+"\n") {
				t.Errorf("%v does not list %q", args, c.synopsis())
			}
		}
		if !strings.Contains(out, "MLFLOW_TRACKING_URI") {
			t.Errorf("%v does not explain the environment", args)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}, {c.name, "x", "-h"}} {
			if out := ok(t, args...); !strings.HasPrefix(out, "Usage: "+prog+" "+c.name) || !strings.Contains(out, "-output") {
				t.Errorf("%v:\n%s", args, out)
			}
		}
	}
	if out := ok(t, "list-users", "--help"); !strings.Contains(out, "-max-results") || !strings.Contains(out, "-page-token") {
		t.Errorf("list-users --help does not show the paging flags:\n%s", out)
	}
	if out := ok(t, "create-user", "--help"); !strings.Contains(out, "-password-stdin") {
		t.Errorf("create-user --help does not show --password-stdin:\n%s", out)
	}
}

func TestCommandLineMistakes(t *testing.T) {
	useServer(t, "", "", "")
	if r := cli(t, nil); r.code != exitUsage || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("no command: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"get-user"}, "usage: mlflow-auth-client get-user <username>"},
		{[]string{"get-user", "a", "b"}, "usage: mlflow-auth-client get-user <username>"},
		{[]string{"create-experiment-permission", "1", "alice"}, "usage: mlflow-auth-client create-experiment-permission <experiment-id> <username> <permission>"},
		{[]string{"--output", "yaml", "list-users"}, "want json or table"},
		{[]string{"list-users", "--max-results", "-1"}, "--max-results -1"},
		{[]string{"list-users", "--max-results", "many"}, "invalid value"},
		{[]string{"get-user", "--bogus", "alice"}, "flag provided but not defined: -bogus"},
		{[]string{"create-user", "alice", "a-long-password", "--password-stdin"}, "not both"},
	} {
		fails(t, exitUsage, tc.args, tc.want)
	}
}

func TestMissingTrackingURI(t *testing.T) {
	useServer(t, "", "admin", "password")
	fails(t, exitFailed, []string{"list-users"}, "MLFLOW_TRACKING_URI is not set")
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	useServer(t, "http://"+addr, "admin", "password")
	fails(t, exitFailed, []string{"get-user", "admin"}, "cannot reach the server at http://"+addr, "connection refused")
}

func TestUserCommands(t *testing.T) {
	srv := startServer(t)

	out := ok(t, "create-user", "alice", "alice-password-1")
	created := decode(t, out, &v1.CreateUserResponse{}).GetUser()
	if created.GetUsername() != "alice" || created.GetIsAdmin() {
		t.Fatalf("create-user printed %s", out)
	}
	// MLflow's shape: every field present, even false and empty.
	var shape map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &shape); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"id", "username", "is_admin", "experiment_permissions", "registered_model_permissions", "scorer_permissions"} {
		if _, ok := shape["user"][key]; !ok {
			t.Errorf("create-user output has no user.%s:\n%s", key, out)
		}
	}
	if _, ok := storedUser(t, srv, "alice"); !ok {
		t.Fatal("alice was not stored")
	}
	fails(t, exitFailed, []string{"create-user", "alice", "alice-password-1"}, "RESOURCE_ALREADY_EXISTS", "User (username=alice) already exists.")
	fails(t, exitFailed, []string{"create-user", "bob", "short"}, "INVALID_PARAMETER_VALUE", "Password must be")
	// The Python CLI's trailing to-json, and --to-json, change nothing.
	ok(t, "create-user", "carol", "carol-password-1", "to-json")
	ok(t, "create-user", "--to-json", "dave", "dave-password-1")

	got := decode(t, ok(t, "get-user", "alice", "to-json"), &v1.GetUserResponse{})
	wantEqual(t, got.GetUser(), created)
	fails(t, exitFailed, []string{"get-user", "nobody"}, "RESOURCE_DOES_NOT_EXIST", "User with username=nobody not found")
	if me := decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{}); me.GetUser().GetUsername() != "admin" || !me.GetIsBasicAuth() {
		t.Errorf("get-current-user: %v", me)
	}

	for _, tc := range []struct {
		arg  string
		want bool
	}{{"True", true}, {"False", false}, {"true", true}, {"false", false}} {
		if out := ok(t, "update-user-admin", "alice", tc.arg); strings.TrimSpace(out) != "{}" {
			t.Errorf("update-user-admin printed %q", out)
		}
		if u, _ := storedUser(t, srv, "alice"); u.IsAdmin != tc.want {
			t.Errorf("after update-user-admin alice %s the store has is_admin %v", tc.arg, u.IsAdmin)
		}
	}
	fails(t, exitUsage, []string{"update-user-admin", "alice", "maybe"}, `"maybe" is not true or false`)
	fails(t, exitFailed, []string{"update-user-admin", "nobody", "true"}, "RESOURCE_DOES_NOT_EXIST")

	ok(t, "update-user-password", "alice", "alice-password-2")
	listed := decode(t, ok(t, "list-users"), &v1.ListUsersResponse{})
	if names := usernames(listed); !slices.Equal(names, []string{"admin", "alice", "carol", "dave"}) {
		t.Errorf("list-users: %v", names)
	}

	ok(t, "delete-user", "carol")
	if _, ok := storedUser(t, srv, "carol"); ok {
		t.Error("carol is still stored")
	}
	fails(t, exitFailed, []string{"delete-user", "carol"}, "RESOURCE_DOES_NOT_EXIST")
	fails(t, exitFailed, []string{"delete-user", "admin"}, "BAD_REQUEST", "cannot delete their own account")

	// As alice, with her new password: herself yes, and in the user list, having no role, herself alone.
	useServer(t, srv.URL, "alice", "alice-password-2")
	decode(t, ok(t, "get-user", "alice"), &v1.GetUserResponse{})
	if users := decode(t, ok(t, "list-users"), &v1.ListUsersResponse{}).GetUsers(); len(users) != 1 || users[0].GetUsername() != "alice" {
		t.Errorf("alice lists %v", users)
	}
	useServer(t, srv.URL, "alice", "alice-password-1")
	fails(t, exitFailed, []string{"get-user", "alice"}, "UNAUTHENTICATED", "(HTTP 401)", "MLFLOW_TRACKING_USERNAME")
}

func usernames(resp *v1.ListUsersResponse) []string {
	var names []string
	for _, u := range resp.GetUsers() {
		names = append(names, u.GetUsername())
	}
	return names
}

func TestPasswordFromStdin(t *testing.T) {
	srv := startServer(t)
	for i, tc := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"create-user", "erin", "-"}, "erin-password-1\n"},
		{[]string{"update-user-password", "--password-stdin", "erin"}, "erin-password-2\r\n"},
		{[]string{"update-user-password", "erin", "--password-stdin"}, "erin-password-3"},
	} {
		r := cli(t, strings.NewReader(tc.stdin), tc.args...)
		if r.code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		pw := strings.TrimRight(tc.stdin, "\r\n")
		useServer(t, srv.URL, "erin", pw)
		if me := decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{}); me.GetUser().GetUsername() != "erin" {
			t.Fatalf("step %d: erin cannot log in with %q", i, pw)
		}
		useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)
	}

	r := cli(t, strings.NewReader(""), "create-user", "frank", "-")
	if r.code != exitFailed || !strings.Contains(r.stderr, "no password on stdin") {
		t.Errorf("empty stdin: exit %d, %q", r.code, r.stderr)
	}
	// Without a terminal there is no prompt.
	r = cli(t, strings.NewReader("frank-password-1\n"), "create-user", "frank")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no password given") {
		t.Errorf("no password and no terminal: exit %d, %q", r.code, r.stderr)
	}
	if _, ok := storedUser(t, srv, "frank"); ok {
		t.Error("frank was created without a password")
	}
}

func TestPermissionCommands(t *testing.T) {
	srv := startServer(t)
	ok(t, "create-user", "alice", "alice-password-1")
	ok(t, "create-user", "bob", "bob-password-12")
	alice, _ := storedUser(t, srv, "alice")
	bob, _ := storedUser(t, srv, "bob")

	t.Run("experiment", func(t *testing.T) {
		out := ok(t, "create-experiment-permission", "7", "alice", "READ", "to-json")
		wantEqual(t, decode(t, out, &v1.CreateExperimentPermissionResponse{}).GetExperimentPermission(),
			&v1.ExperimentPermission{ExperimentId: "7", UserId: alice.ID, Permission: "READ"})
		fails(t, exitFailed, []string{"create-experiment-permission", "7", "alice", "READ"}, "RESOURCE_ALREADY_EXISTS")
		ok(t, "update-experiment-permission", "7", "alice", "EDIT")
		if l := storedLevel(t, srv, "alice", permission.Experiment, "7"); l != permission.Edit {
			t.Errorf("stored %q", l)
		}
		fails(t, exitFailed, []string{"update-experiment-permission", "7", "alice", "WRITE"}, "INVALID_PARAMETER_VALUE", "Invalid permission 'WRITE'")
		wantEqual(t, decode(t, ok(t, "get-experiment-permission", "7", "alice"), &v1.GetExperimentPermissionResponse{}).GetExperimentPermission(),
			&v1.ExperimentPermission{ExperimentId: "7", UserId: alice.ID, Permission: "EDIT"})
		ok(t, "delete-experiment-permission", "7", "alice")
		if l := storedLevel(t, srv, "alice", permission.Experiment, "7"); l != "" {
			t.Errorf("still stored: %q", l)
		}
		fails(t, exitFailed, []string{"get-experiment-permission", "7", "alice"}, "RESOURCE_DOES_NOT_EXIST",
			"Experiment permission with experiment_id=7 and username=alice not found")
	})

	t.Run("registered model", func(t *testing.T) {
		out := ok(t, "create-registered-model-permission", "fraud model", "alice", "MANAGE")
		wantEqual(t, decode(t, out, &v1.CreateRegisteredModelPermissionResponse{}).GetRegisteredModelPermission(),
			&v1.RegisteredModelPermission{Workspace: "default", Name: "fraud model", UserId: alice.ID, Permission: "MANAGE"})
		ok(t, "update-registered-model-permission", "fraud model", "alice", "READ")
		wantEqual(t, decode(t, ok(t, "get-registered-model-permission", "fraud model", "alice"), &v1.GetRegisteredModelPermissionResponse{}).GetRegisteredModelPermission(),
			&v1.RegisteredModelPermission{Workspace: "default", Name: "fraud model", UserId: alice.ID, Permission: "READ"})
		ok(t, "delete-registered-model-permission", "fraud model", "alice")
		if l := storedLevel(t, srv, "alice", permission.RegisteredModel, "fraud model"); l != "" {
			t.Errorf("still stored: %q", l)
		}
		fails(t, exitFailed, []string{"delete-registered-model-permission", "fraud model", "alice"}, "RESOURCE_DOES_NOT_EXIST")
	})

	t.Run("scorer", func(t *testing.T) {
		out := ok(t, "create-scorer-permission", "7", "my scorer", "alice", "USE")
		wantEqual(t, decode(t, out, &v1.CreateScorerPermissionResponse{}).GetScorerPermission(),
			&v1.ScorerPermission{ExperimentId: "7", ScorerName: "my scorer", UserId: alice.ID, Permission: "USE"})
		ok(t, "update-scorer-permission", "7", "my scorer", "alice", "EDIT")
		if p := decode(t, ok(t, "get-scorer-permission", "7", "my scorer", "alice"), &v1.GetScorerPermissionResponse{}); p.GetScorerPermission().GetPermission() != "EDIT" {
			t.Errorf("get-scorer-permission: %v", p)
		}
		ok(t, "delete-scorer-permission", "7", "my scorer", "alice")
		fails(t, exitFailed, []string{"get-scorer-permission", "7", "my scorer", "alice"}, "RESOURCE_DOES_NOT_EXIST")
	})

	t.Run("unified", func(t *testing.T) {
		if out := ok(t, "grant-permission", "alice", "experiment", "9", "MANAGE"); strings.TrimSpace(out) != "{}" {
			t.Errorf("grant-permission printed %q", out)
		}
		ok(t, "grant-permission", "bob", "experiment", "9", "READ")
		if l := storedLevel(t, srv, "bob", permission.Experiment, "9"); l != permission.Read {
			t.Errorf("bob's grant: %q", l)
		}
		fails(t, exitFailed, []string{"grant-permission", "bob", "experiment", "9", "READ"}, "RESOURCE_ALREADY_EXISTS")
		fails(t, exitFailed, []string{"grant-permission", "bob", "planet", "9", "READ"}, "INVALID_PARAMETER_VALUE")

		wantEqual(t, decode(t, ok(t, "get-permission", "alice", "experiment", "9"), &v1.GetUserPermissionResponse{}),
			&v1.GetUserPermissionResponse{Allowed: true, Permission: "MANAGE"})
		wantEqual(t, decode(t, ok(t, "check", "bob", "update", "experiment", "9"), &v1.CheckResponse{}),
			&v1.CheckResponse{Allowed: false, Permission: "READ", DecidedBy: "grant"})
		fails(t, exitFailed, []string{"check", "bob", "write", "experiment", "9"}, "INVALID_PARAMETER_VALUE")
		aliceRows := []*v1.UserPermission{{Workspace: "default", ResourceType: "experiment", ResourcePattern: "9", Permission: "MANAGE", RoleId: -2, RoleName: "__user_2__"}}
		wantEqual(t, decode(t, ok(t, "list-permissions", "alice"), &v1.ListUserPermissionsResponse{}),
			&v1.ListUserPermissionsResponse{Permissions: aliceRows})
		wantEqual(t, decode(t, ok(t, "list-permissions"), &v1.ListCurrentUserPermissionsResponse{}),
			&v1.ListCurrentUserPermissionsResponse{IsAdmin: true, Permissions: []*v1.UserPermission{}})

		who := &v1.ListResourcePermissionsResponse{Permissions: []*v1.ResourcePermission{
			{UserId: alice.ID, Username: "alice", Permission: "MANAGE", ResourcePattern: "9"}, {UserId: bob.ID, Username: "bob", Permission: "READ", ResourcePattern: "9"}}}
		wantEqual(t, decode(t, ok(t, "list-resource-permissions", "experiment", "9"), &v1.ListResourcePermissionsResponse{}), who)
		// One page at a time.
		first := decode(t, ok(t, "list-resource-permissions", "experiment", "9", "--max-results", "1"), &v1.ListResourcePermissionsResponse{})
		second := decode(t, ok(t, "list-resource-permissions", "experiment", "9", "--max-results", "1", "--page-token", first.GetNextPageToken()), &v1.ListResourcePermissionsResponse{})
		wantEqual(t, &v1.ListResourcePermissionsResponse{Permissions: append(first.Permissions, second.Permissions...)}, who)
		if first.GetNextPageToken() == "" || second.GetNextPageToken() != "" {
			t.Errorf("page tokens %q, %q", first.GetNextPageToken(), second.GetNextPageToken())
		}

		// alice may see who has access where she has MANAGE; bob may not.
		useServer(t, srv.URL, "alice", "alice-password-1")
		wantEqual(t, decode(t, ok(t, "list-resource-permissions", "experiment", "9"), &v1.ListResourcePermissionsResponse{}), who)
		wantEqual(t, decode(t, ok(t, "list-permissions"), &v1.ListCurrentUserPermissionsResponse{}),
			&v1.ListCurrentUserPermissionsResponse{Permissions: aliceRows})
		useServer(t, srv.URL, "bob", "bob-password-12")
		fails(t, exitFailed, []string{"list-resource-permissions", "experiment", "9"}, "PERMISSION_DENIED")
		useServer(t, srv.URL, servicetest.AdminUsername, servicetest.AdminPassword)

		ok(t, "revoke-permission", "bob", "experiment", "9")
		if l := storedLevel(t, srv, "bob", permission.Experiment, "9"); l != "" {
			t.Errorf("bob's grant is still stored: %q", l)
		}
		fails(t, exitFailed, []string{"revoke-permission", "bob", "experiment", "9"}, "RESOURCE_DOES_NOT_EXIST")
	})
}

func TestListUsersPages(t *testing.T) {
	startServer(t)
	want := []string{"admin"}
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		ok(t, "create-user", name, "a-long-password")
		want = append(want, name)
	}
	var got []string
	var sizes []int
	args := []string{"list-users", "--max-results", "2"}
	for {
		page := decode(t, ok(t, args...), &v1.ListUsersResponse{})
		got = append(got, usernames(page)...)
		sizes = append(sizes, len(page.GetUsers()))
		if page.GetNextPageToken() == "" {
			break
		}
		args = []string{"list-users", "--max-results", "2", "--page-token", page.GetNextPageToken()}
	}
	if !slices.Equal(got, want) || !slices.Equal(sizes, []int{2, 2, 2}) {
		t.Errorf("pages of 2: %v in pages of %v, want %v", got, sizes, want)
	}
	if all := usernames(decode(t, ok(t, "list-users"), &v1.ListUsersResponse{})); !slices.Equal(all, want) {
		t.Errorf("list-users: %v", all)
	}
	fails(t, exitFailed, []string{"list-users", "--page-token", "bogus"}, "INVALID_PARAMETER_VALUE")
}

func TestTableOutput(t *testing.T) {
	startServer(t)
	ok(t, "create-user", "alice", "alice-password-1")
	ok(t, "create-experiment-permission", "7", "alice", "EDIT")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", "table", "list-users"}, "" +
			"ID  USERNAME  IS_ADMIN  IS_SERVICE_ACCOUNT\n" +
			"1   admin     true      false\n" +
			"2   alice     false     false\n"},
		{[]string{"get-user", "alice", "--output", "table"}, "" +
			"ID  USERNAME  IS_ADMIN  IS_SERVICE_ACCOUNT\n" +
			"2   alice     false     false\n" +
			"\n" +
			"experiment_permissions:\n" +
			"EXPERIMENT_ID  USER_ID  PERMISSION\n" +
			"7              2        EDIT\n" +
			"\n" +
			"roles:\n" +
			"ID  NAME        WORKSPACE\n" +
			"-2  __user_2__  default\n"},
		{[]string{"get-permission", "alice", "experiment", "7", "--output=table"}, "" +
			"allowed: true\n" +
			"permission: EDIT\n"},
		{[]string{"list-permissions", "alice", "--output", "table"}, "" +
			"is_admin: false\n" +
			"WORKSPACE  RESOURCE_TYPE  RESOURCE_PATTERN  PERMISSION  ROLE_ID  ROLE_NAME\n" +
			"default    experiment     7                 EDIT        -2       __user_2__\n"},
		{[]string{"list-users", "--max-results", "1", "--output", "table"}, "" +
			"ID  USERNAME  IS_ADMIN  IS_SERVICE_ACCOUNT\n" +
			"1   admin     true      false\n" +
			"next_page_token: MQ\n"},
		{[]string{"update-experiment-permission", "7", "alice", "READ", "--output", "table"}, ""},
	} {
		if got := ok(t, tc.args...); got != tc.want {
			t.Errorf("%v:\n%s\nwant:\n%s", tc.args, got, tc.want)
		}
	}
}

// Token commands: the token is printed once by create-token and rotate-token,
// works as MLFLOW_TRACKING_TOKEN and as MLFLOW_TRACKING_PASSWORD, is listed
// without its secret, and stops working when rotated or revoked.
func TestTokenCommands(t *testing.T) {
	srv := startServer(t)
	ok(t, "create-user", "alice", "alice-password-1")
	useServer(t, srv.URL, "alice", "alice-password-1")
	made := decode(t, ok(t, "create-token", "alice", "ci", "7", "READ"), &v1.CreateTokenResponse{})
	info := made.GetTokenInfo()
	if !strings.HasPrefix(made.GetToken(), "mla_") || info.GetName() != "ci" || info.GetCeiling() != "READ" ||
		info.GetExpiresAt().AsTime().Sub(info.GetCreatedAt().AsTime()) != 7*24*time.Hour {
		t.Fatalf("create-token printed %v", made)
	}
	fails(t, exitUsage, []string{"create-token", "alice", "x", "seven"}, `"seven" is not a number of days`)
	fails(t, exitFailed, []string{"create-token", "alice", "ci"}, "RESOURCE_ALREADY_EXISTS")
	fails(t, exitFailed, []string{"create-token", "admin", "mine"}, "PERMISSION_DENIED")
	if out := ok(t, "list-tokens", "alice"); !strings.Contains(out, `"ci"`) || strings.Contains(out, made.GetToken()) {
		t.Fatalf("list-tokens printed %s", out)
	}

	whoAmI := func(want string) {
		t.Helper()
		me := decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{})
		if me.GetUser().GetUsername() != want || me.GetIsBasicAuth() {
			t.Fatalf("get-current-user: %v, want %s by token", me, want)
		}
	}
	useServer(t, srv.URL, "", "")
	t.Setenv("MLFLOW_TRACKING_TOKEN", made.GetToken())
	whoAmI("alice")
	useServer(t, srv.URL, "alice", made.GetToken())
	whoAmI("alice")

	useServer(t, srv.URL, "alice", "alice-password-1")
	rotated := decode(t, ok(t, "rotate-token", "alice", "ci"), &v1.RotateTokenResponse{})
	useServer(t, srv.URL, "", "")
	t.Setenv("MLFLOW_TRACKING_TOKEN", made.GetToken())
	fails(t, exitFailed, []string{"get-current-user"}, "UNAUTHENTICATED")
	t.Setenv("MLFLOW_TRACKING_TOKEN", rotated.GetToken())
	whoAmI("alice")
	if out := strings.TrimSpace(ok(t, "revoke-token", "alice", "ci")); out != "{}" {
		t.Fatalf("revoke-token printed %q", out)
	}
	fails(t, exitFailed, []string{"get-current-user"}, "UNAUTHENTICATED")
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/cmd/internal/mlflowtest"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// importCmd runs `mlflow-auth import` in process and returns its output.
func importCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"import"}, args...), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func mustImport(t *testing.T, args ...string) string {
	t.Helper()
	out, err := importCmd(t, args...)
	if err != nil {
		t.Fatalf("import %v: %v\n%s", args, err, out)
	}
	return out
}

func wantOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// getJSON calls the REST API as user and decodes the answer, which must be 200.
func getJSON(t *testing.T, base, path, user, pass string, into any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s as %s: %d", path, user, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// grantsOf lists a user's grants through the REST API, logged in as that user,
// as "type id LEVEL" lines.
func grantsOf(t *testing.T, base, user, pass string) []string {
	t.Helper()
	var body struct {
		Permissions []struct {
			ResourceType    string `json:"resource_type"`
			ResourcePattern string `json:"resource_pattern"`
			Permission      string `json:"permission"`
			RoleName        string `json:"role_name"`
		} `json:"permissions"`
	}
	getJSON(t, base, "/api/3.0/mlflow/users/current/permissions", user, pass, &body)
	var out []string
	for _, p := range body.Permissions {
		if strings.HasPrefix(p.RoleName, "__user_") { // direct grants: the user's own role, as MLflow lists them
			out = append(out, p.ResourceType+" "+p.ResourcePattern+" "+p.Permission)
		}
	}
	slices.Sort(out)
	return out
}

// TestImportCommand imports a hand-made MLflow database (no Python needed):
// dry run, import, repeat, then the imported user logs in with their password.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	hash, err := password.Default.Hash("alice-password-1")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "basic_auth.db")
	db, err := sql.Open("sqlite", src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`
		CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255) UNIQUE, password_hash VARCHAR(255), is_admin BOOLEAN);
		CREATE TABLE experiment_permissions (id INTEGER PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL,
			user_id INTEGER NOT NULL, permission VARCHAR(255));
		INSERT INTO users VALUES (1, 'admin', 'scrypt:32768:8:1$x$00', 1), (2, 'alice', ?, 0);
		INSERT INTO experiment_permissions VALUES (1, '7', 2, 'EDIT');`, hash)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	from := "sqlite:///" + src
	target := filepath.Join(dir, "auth.db")
	to := "sqlite:///" + target

	out := mustImport(t, "--from", from, "--database-url", to, "--dry-run")
	wantOutput(t, out, `would create user "alice"`, "users:  2 to create", "grants: 1 to create", "dry run: nothing was written")
	if _, err := os.Stat(target); err == nil {
		t.Fatal("--dry-run created the target database")
	}
	out = mustImport(t, "--from", from, "--database-url", to)
	wantOutput(t, out, "users:  2 created, 0 unchanged", "grants: 1 created", "imported 2 users and 1 grants")
	out = mustImport(t, "--from", from, "--database-url", to)
	wantOutput(t, out, "users:  0 created, 2 unchanged, 0 conflicting", "grants: 0 created, 1 unchanged", "nothing to import")
	out = mustImport(t, "--from", from, "--database-url", to, "--dry-run")
	wantOutput(t, out, "users:  0 to create, 2 unchanged", "dry run")

	base, _ := startServe(t, "--database-url", to)
	if got := grantsOf(t, base, "alice", "alice-password-1"); !slices.Equal(got, []string{"experiment 7 EDIT"}) {
		t.Errorf("alice's grants after the import: %q", got)
	}

	for _, args := range [][]string{
		{},
		{"--database-url", to},
		{"--from", from, "stray"},
		{"--from", "mysql://u:p@h/db", "--database-url", to},
		{"--from", "sqlite:///" + filepath.Join(dir, "missing.db"), "--database-url", to},
	} {
		if out, err := importCmd(t, args...); err == nil {
			t.Errorf("import %v: no error\n%s", args, out)
		}
	}
}

// makeMLflowDB has the real MLflow create its basic-auth database at a
// SQLAlchemy URL, with users and grants through its own store: the classic
// calls before 3.13, the role-based ones from 3.13.
const makeMLflowDB = `
import json
import os
import sys
import tempfile
from urllib.parse import quote

from sqlalchemy import text
from werkzeug.security import generate_password_hash
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

s = SqlAlchemyStore()
s.init_db(sys.argv[1])
alice = s.create_user("alice", "alice-password-1")
s.create_user("root", "root-password-12", is_admin=True)
bob = s.create_user("bob", "bob-password-123")
s.create_user("carol", "carol-password-1")
with s.engine.begin() as c:  # the pbkdf2 format older werkzeug versions wrote
    c.execute(text("UPDATE users SET password_hash = :h WHERE username = 'carol'"),
              {"h": generate_password_hash("carol-password-1", method="pbkdf2:sha256")})

roles = hasattr(s, "grant_user_resource_permission")  # MLflow 3.13+
def grant(user, typ, key, level):
    if roles:
        if typ == "scorer":
            key = key[0] + "/" + quote(key[1], safe="")
        s.grant_user_resource_permission(user, typ, key, level)
    elif typ == "scorer":
        s.create_scorer_permission(key[0], key[1], user, level)
    else:
        getattr(s, "create_%s_permission" % typ)(key, user, level)

grant("alice", "experiment", "1", "EDIT")
grant("alice", "registered_model", "model a", "READ")
grant("alice", "scorer", ("1", "my scorer/x"), "MANAGE")
grant("bob", "experiment", "1", "READ")
grant("bob", "gateway_secret", "s1", "USE")
grant("carol", "experiment", "4", "MANAGE")
if roles:
    grant("alice", "experiment", "2", "DENY")
    grant("alice", "prompt", "p1", "USE")
    grant("alice", "mcp_server", "m1", "USE")
    with s.engine.begin() as c:  # a stale row in a table 3.13+ no longer reads
        c.execute(text("INSERT INTO experiment_permissions (experiment_id, user_id, permission) "
                       "VALUES ('99', :u, 'MANAGE')"), {"u": alice.id})
else:
    grant("alice", "experiment", "2", "NO_PERMISSIONS")
team = s.create_role(name="team", workspace="default")
s.add_role_permission(team.id, "experiment", "3", "READ")
s.add_role_permission(team.id, "registered_model", "*", "EDIT")
s.assign_role_to_user(alice.id, team.id)
s.assign_role_to_user(bob.id, team.id)
if roles:
    # What only roles hold: DENY beside wildcards, a workspace admin, several
    # roles of one user, wildcard and DENY own grants, a role nobody holds.
    dave = s.create_user("dave", "dave-password-12")
    erin = s.create_user("erin", "erin-password-12")
    readers = s.create_role(name="readers", workspace="default", description="everyone reads")
    s.add_role_permission(readers.id, "experiment", "*", "READ")
    s.add_role_permission(readers.id, "prompt", "*", "USE")
    blocked = s.create_role(name="blocked", workspace="default")
    s.add_role_permission(blocked.id, "experiment", "*", "EDIT")
    s.add_role_permission(blocked.id, "experiment", "5", "DENY")
    s.add_role_permission(blocked.id, "registered_model", "model a", "DENY")
    admins = s.create_role(name="ws-admins", workspace="default")
    s.add_role_permission(admins.id, "workspace", "*", "MANAGE")
    s.create_role(name="unused", workspace="default")
    for user, role in [(dave, readers), (dave, blocked), (bob, blocked), (erin, admins), (erin, readers)]:
        s.assign_role_to_user(user.id, role.id)
    grant("dave", "experiment", "1", "MANAGE")
    grant("dave", "registered_model", "*", "USE")
    grant("erin", "experiment", "1", "DENY")
    grant("carol", "experiment", "3", "DENY")

# MLflow's auth module reads a tracking store when imported; it is never used.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_TRACKING_URI", "file://" + tempfile.mkdtemp() + "/mlruns")
import mlflow.server.auth as auth
if hasattr(auth, "_resolve_user_permission_for_resource"):  # MLflow 3.17+: its resolver
    auth.store = s
    auth.auth_config = auth.auth_config._replace(default_permission="READ")
    # Prompts are not among the types its per-user resolver answers for.
    resources = [("experiment", str(i)) for i in range(1, 7)] + [("experiment", "99"),
        ("registered_model", "model a"), ("registered_model", "model b"),
        ("scorer", "1/" + quote("my scorer/x", safe="")), ("gateway_secret", "s1"), ("gateway_secret", "s2")]
    answers = []
    for u in s.list_users():
        for typ, rid in resources:
            p = "MANAGE" if u.is_admin else auth._resolve_user_permission_for_resource(u.username, typ, rid).name
            answers.append([u.username, typ, rid, p])
    print("EFFECTIVE " + json.dumps(answers))
print("roles" if roles else "classic")
`

// mlflowExpectation is what importing makeMLflowDB's database must give.
type mlflowExpectation struct {
	users   int      // how many users it holds
	summary []string // the source line and the counts
	alice   []string // alice's direct grants, sorted "type id LEVEL"
	bob     []string
	// effective are (user, type, id, level) answers that Check must give; for
	// MLflow 3.17+ they are computed by MLflow's own resolver instead.
	effective [][4]string
}

var mlflowExpectations = map[string]mlflowExpectation{
	"classic": {
		users: 4,
		summary: []string{"grants read from the classic permission tables", "users:  4 created", "grants: 7 created, 0 unchanged, 0 conflicting, 0 skipped",
			`create role "team" in workspace "default": permissions [experiment "3" READ, registered_model "*" EDIT], members ["alice", "bob"]`,
			"roles:  1 created"},
		alice: []string{"experiment 1 EDIT", "experiment 2 NO_PERMISSIONS", "registered_model model a READ", "scorer 1/my%20scorer%2Fx MANAGE"},
		bob:   []string{"experiment 1 READ", "gateway_secret s1 USE"},
		// What MLflow 3.12 resolves from the classic rows and its preview roles.
		effective: [][4]string{
			{"alice", "experiment", "2", "NO_PERMISSIONS"}, {"alice", "experiment", "3", "READ"},
			{"alice", "registered_model", "model a", "EDIT"}, {"bob", "experiment", "3", "READ"}, {"bob", "registered_model", "x", "EDIT"},
		},
	},
	"roles": {
		users: 6,
		summary: []string{"grants read from the role tables", "the classic permission tables hold 1 row(s)", "users:  6 created",
			"grants: 9 created, 0 unchanged, 0 conflicting, 0 skipped",
			`create role "own grants of alice" in workspace "default" (own grants that a direct grant cannot hold): permissions [experiment "2" DENY], members ["alice"]`,
			`create role "blocked" in workspace "default": permissions [experiment "*" EDIT, experiment "5" DENY, registered_model "model a" DENY], members ["dave", "bob"]`,
			"roles:  9 created"},
		alice: []string{"experiment 1 EDIT", "mcp_server m1 USE", "prompt p1 USE", "registered_model model a READ", "scorer 1/my%20scorer%2Fx MANAGE"},
		bob:   []string{"experiment 1 READ", "gateway_secret s1 USE"},
	},
}

func venvName(py string) string { return filepath.Base(filepath.Dir(filepath.Dir(py))) }

// makeWithMLflow runs makeMLflowDB and returns what to expect of its
// database, with MLflow's own effective permissions when it has the resolver.
func makeWithMLflow(t *testing.T, py, dbURL string) mlflowExpectation {
	t.Helper()
	cmd := exec.Command(py, "-c", makeMLflowDB, dbURL)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONWARNINGS=ignore")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s making the MLflow database: %v\n%s%s", py, err, stdout.String(), stderr.String())
	}
	model := strings.TrimSpace(lastLines(stdout.String(), 1))
	want, ok := mlflowExpectations[model]
	if !ok {
		t.Fatalf("the script printed %q", stdout.String())
	}
	for line := range strings.Lines(stdout.String()) {
		if answers, ok := strings.CutPrefix(line, "EFFECTIVE "); ok {
			want.effective = nil
			if err := json.Unmarshal([]byte(answers), &want.effective); err != nil {
				t.Fatal(err)
			}
		}
	}
	return want
}

// TestMLflowImport has each MLflow of MLFLOW_AUTH_TEST_PYTHONS write its own
// basic_auth.db, imports it, and logs in to mlflow-auth with the old passwords.
func TestMLflowImport(t *testing.T) {
	for _, python := range mlflowtest.Pythons(t) {
		py := python.Path
		t.Run(venvName(py), func(t *testing.T) {
			dir := t.TempDir()
			from := "sqlite:///" + filepath.Join(dir, "basic_auth.db")
			want := makeWithMLflow(t, py, from)
			checkImport(t, from, "sqlite:///"+filepath.Join(dir, "auth.db"), want)

			// A user who already exists with another password is reported and kept.
			conflictTarget := filepath.Join(dir, "conflict.db")
			s, err := sqlite.Open(conflictTarget)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			other, err := password.Default.Hash("another-password")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateUser(context.Background(), "alice", other, false); err != nil {
				t.Fatal(err)
			}
			s.Close()
			out := mustImport(t, "--from", from, "--database-url", "sqlite:///"+conflictTarget)
			wantOutput(t, out, `conflict: user "alice": mlflow-auth has another password hash; left as it is`,
				fmt.Sprintf("users:  %d created, 0 unchanged, 1 conflicting", want.users-1), `skipped: grant experiment "1" EDIT for user "alice": its user conflicts`)
			base, _ := startServe(t, "--database-url", "sqlite:///"+conflictTarget)
			if got := getStatus(t, base+"/api/2.0/mlflow/users/get?username=alice", "alice", "alice-password-1"); got != 401 {
				t.Errorf("alice with her MLflow password after a conflict: %d, want 401", got)
			}
			if got := grantsOf(t, base, "alice", "another-password"); len(got) != 0 {
				t.Errorf("the conflicting alice got grants: %q", got)
			}
		})
	}
}

// checkImport imports from an MLflow database written by makeMLflowDB into a
// fresh target: dry run, import, repeat, log in, and import once more after the
// logins rehashed carol's pbkdf2 hash.
func checkImport(t *testing.T, from, to string, want mlflowExpectation) {
	out := mustImport(t, "--from", from, "--database-url", to, "--dry-run")
	wantOutput(t, out, fmt.Sprintf("users:  %d to create", want.users), "dry run: nothing was written")
	if strings.HasPrefix(to, "sqlite:") {
		if _, err := os.Stat(strings.TrimPrefix(to, "sqlite:///")); err == nil {
			t.Fatal("--dry-run created the target database")
		}
	}
	out = mustImport(t, "--from", from, "--database-url", to)
	wantOutput(t, out, want.summary...)
	wantOutput(t, mustImport(t, "--from", from, "--database-url", to),
		fmt.Sprintf("users:  0 created, %d unchanged, 0 conflicting", want.users), "nothing to import")

	base, _ := startServe(t, "--database-url", to, "--default-permission", "READ")
	checkEffective(t, base, want.effective)
	if got := grantsOf(t, base, "alice", "alice-password-1"); !slices.Equal(got, want.alice) {
		t.Errorf("alice's grants:\n got  %q\n want %q", got, want.alice)
	}
	var user struct {
		User struct {
			IsAdmin          bool `json:"is_admin"`
			ScorerPermission []struct {
				ExperimentID string `json:"experiment_id"`
				ScorerName   string `json:"scorer_name"`
				Permission   string `json:"permission"`
			} `json:"scorer_permissions"`
		} `json:"user"`
	}
	getJSON(t, base, "/api/2.0/mlflow/users/get?username=alice", "alice", "alice-password-1", &user)
	if s := user.User.ScorerPermission; len(s) != 1 || s[0].ExperimentID != "1" || s[0].ScorerName != "my scorer/x" || s[0].Permission != "MANAGE" {
		t.Errorf("alice's scorer permissions: %+v", s)
	}
	getJSON(t, base, "/api/2.0/mlflow/users/get?username=root", "root", "root-password-12", &user)
	if !user.User.IsAdmin {
		t.Error("root is not an admin after the import")
	}
	if got := grantsOf(t, base, "bob", "bob-password-123"); !slices.Equal(got, want.bob) {
		t.Errorf("bob's grants: %q", got)
	}
	if got := grantsOf(t, base, "carol", "carol-password-1"); !slices.Equal(got, []string{"experiment 4 MANAGE"}) {
		t.Errorf("carol's grants (pbkdf2 password): %q", got)
	}
	// carol's login replaced her pbkdf2 hash, which the next import reports.
	wantOutput(t, mustImport(t, "--from", from, "--database-url", to),
		`conflict: user "carol": mlflow-auth has another password hash (perhaps the same password, rehashed at a login)`,
		fmt.Sprintf("users:  0 created, %d unchanged, 1 conflicting", want.users-1))
}

// checkEffective asks Check, as the admin root, for each user's effective
// permission on each resource and fails on every answer that differs.
func checkEffective(t *testing.T, base string, effective [][4]string) {
	t.Helper()
	var diffs []string
	for _, e := range effective {
		q := url.Values{"username": {e[0]}, "capability": {"read"}, "resource_type": {e[1]}, "resource_id": {e[2]}}
		var body struct {
			Permission string `json:"permission"`
		}
		getJSON(t, base, "/api/3.0/mlflow/permissions/check?"+q.Encode(), "root", "root-password-12", &body)
		if body.Permission != e[3] {
			diffs = append(diffs, fmt.Sprintf("%s on %s %q: MLflow %s, mlflow-auth %s", e[0], e[1], e[2], e[3], body.Permission))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%d of %d effective permissions differ:\n%s", len(diffs), len(effective), strings.Join(diffs, "\n"))
	}
	t.Logf("%d effective permissions compared", len(effective))
}

// TestMLflowImportPostgres has MLflow write its auth tables to Postgres
// (through psycopg2, given as postgresql+psycopg2://) and imports them into a
// Postgres target.
func TestMLflowImportPostgres(t *testing.T) {
	storagetest.PostgresURL(t)
	for _, python := range mlflowtest.Pythons(t) {
		py := python.Path
		t.Run(venvName(py), func(t *testing.T) {
			if err := exec.Command(py, "-c", "import psycopg2").Run(); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s lacks psycopg2: pip install -r python/tests/requirements.txt", py)
				}
				t.Skipf("%s lacks psycopg2 (pip install -r python/tests/requirements.txt)", py)
			}
			source, target := storagetest.NewPostgresSchema(t), storagetest.NewPostgresSchema(t)
			// libpq's options parameter puts MLflow's tables into the test schema;
			// pgx passes it on the same way when mlflow-auth reads them.
			u, err := url.Parse(source.URL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Del("search_path")
			q.Set("options", "-csearch_path="+source.Name)
			u.RawQuery = q.Encode()
			u.Scheme = "postgresql+psycopg2"
			from := u.String()
			checkImport(t, from, target.URL, makeWithMLflow(t, py, from))
		})
	}
}

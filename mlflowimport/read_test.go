package mlflowimport

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// The tables as MLflow's alembic migrations leave them (columns and keys that
// matter here), built by hand so these tests need no Python.
const (
	usersTable = `CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, username VARCHAR(255) UNIQUE,
		password_hash VARCHAR(255), is_admin BOOLEAN);`
	// MLflow 2.5: no workspace column, the version in the shared alembic_version table.
	schema25 = usersTable + `
	CREATE TABLE experiment_permissions (id INTEGER NOT NULL PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (experiment_id, user_id));
	CREATE TABLE registered_model_permissions (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (name, user_id));
	CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
	INSERT INTO alembic_version VALUES ('8606fa83a998');`
	// MLflow 3.12 and later: every table; 3.13+ only adds data.
	schema312 = usersTable + `
	CREATE TABLE alembic_version_auth (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
	CREATE TABLE experiment_permissions (id INTEGER NOT NULL PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (experiment_id, user_id));
	CREATE TABLE scorer_permissions (id INTEGER NOT NULL PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL,
		scorer_name VARCHAR(256) NOT NULL, user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255),
		UNIQUE (experiment_id, scorer_name, user_id));
	CREATE TABLE gateway_secret_permissions (id INTEGER NOT NULL PRIMARY KEY, secret_id VARCHAR(255) NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (secret_id, user_id));
	CREATE TABLE gateway_endpoint_permissions (id INTEGER NOT NULL PRIMARY KEY, endpoint_id VARCHAR(255) NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255), UNIQUE (endpoint_id, user_id));
	CREATE TABLE gateway_model_definition_permissions (id INTEGER NOT NULL PRIMARY KEY,
		model_definition_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL REFERENCES users (id),
		permission VARCHAR(255), UNIQUE (model_definition_id, user_id));
	CREATE TABLE workspace_permissions (workspace VARCHAR(63) NOT NULL, user_id INTEGER NOT NULL REFERENCES users (id),
		permission VARCHAR(32) NOT NULL, PRIMARY KEY (workspace, user_id));
	CREATE TABLE registered_model_permissions (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users (id), permission VARCHAR(255),
		workspace VARCHAR(63) DEFAULT 'default' NOT NULL, UNIQUE (workspace, name, user_id));
	CREATE TABLE roles (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, workspace VARCHAR(63) NOT NULL,
		description VARCHAR(1024), UNIQUE (workspace, name));
	CREATE TABLE role_permissions (id INTEGER NOT NULL PRIMARY KEY, role_id INTEGER NOT NULL REFERENCES roles (id),
		resource_type VARCHAR(64) NOT NULL, resource_pattern VARCHAR(255) NOT NULL, permission VARCHAR(255) NOT NULL,
		UNIQUE (role_id, resource_type, resource_pattern));
	CREATE TABLE user_role_assignments (id INTEGER NOT NULL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
		role_id INTEGER NOT NULL REFERENCES roles (id), UNIQUE (user_id, role_id));`
)

// mlflowDB writes a SQLite file from SQL and returns its sqlite:/// URL.
func mlflowDB(t *testing.T, script ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "basic_auth.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range script {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("building the MLflow database: %v\n%s", err, s)
		}
	}
	return "sqlite:///" + path
}

func read(t *testing.T, url string) *Source {
	t.Helper()
	src, err := Read(context.Background(), url)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return src
}

func grantLines(gs []Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.String()+" <- "+g.From)
	}
	return out
}

func roleLines(rs []Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, describeRole(r))
	}
	return out
}

func skipLines(ss []Skip, user bool) []string {
	var out []string
	for _, s := range ss {
		if s.User == user {
			out = append(out, s.What)
		}
	}
	return out
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func wantUsers(t *testing.T, src *Source, want ...storage.User) {
	t.Helper()
	if !slices.Equal(src.Users, want) {
		t.Errorf("users:\n got  %+v\n want %+v", src.Users, want)
	}
}

func TestReadMLflow25(t *testing.T) {
	src := read(t, mlflowDB(t, schema25, `
	INSERT INTO users VALUES (1, 'root', 'scrypt:32768:8:1$s$aa', 1), (2, 'alice', 'pbkdf2:sha256:260000$s$bb', NULL);
	INSERT INTO experiment_permissions VALUES (1, '1', 2, 'READ'), (2, '2', 2, 'NO_PERMISSIONS');
	INSERT INTO registered_model_permissions VALUES (1, 'm', 2, 'EDIT');`))
	if src.Model != Classic || src.Revision != "" || len(src.Skipped) != 0 || len(src.Notes) != 0 {
		t.Errorf("source = %+v; want the classic model without revision, skips or notes", src)
	}
	wantUsers(t, src,
		storage.User{Username: "root", PasswordHash: "scrypt:32768:8:1$s$aa", IsAdmin: true},
		storage.User{Username: "alice", PasswordHash: "pbkdf2:sha256:260000$s$bb"}) // NULL is_admin: not an admin
	wantLines(t, "grants", grantLines(src.Grants), []string{
		`experiment "1" READ for user "alice" <- experiment_permissions`,
		`experiment "2" NO_PERMISSIONS for user "alice" <- experiment_permissions`, // a real grant in the classic model
		`registered_model "m" EDIT for user "alice" <- registered_model_permissions`,
	})
}

func TestReadMLflow312(t *testing.T) {
	src := read(t, mlflowDB(t, schema312, `
	INSERT INTO alembic_version_auth VALUES ('c3d4e5f6a7b8');
	INSERT INTO users VALUES (1, 'root', 'h-root', 1), (2, 'alice', 'h-alice', 0), (3, 'bob', 'h-bob', 0),
		(4, 'bad:name', 'h', 0), (5, 'nohash', NULL, 0), (6, NULL, 'h', 0), (7, 'carol', 'h-carol', 0);
	INSERT INTO experiment_permissions VALUES (1, '1', 2, 'EDIT'), (2, '2', 2, 'NO_PERMISSIONS'),
		(3, '1', 3, 'BOGUS'), (4, '1', 4, 'READ'), (5, '5', 7, 'READ');
	INSERT INTO registered_model_permissions VALUES (1, 'm', 2, 'READ', 'default'), (2, 'm', 2, 'MANAGE', 'other');
	INSERT INTO scorer_permissions VALUES (1, '1', 'my scorer/x', 2, 'USE');
	INSERT INTO gateway_secret_permissions VALUES (1, 's1', 3, 'USE');
	INSERT INTO gateway_endpoint_permissions VALUES (1, 'e1', 3, 'EDIT');
	INSERT INTO gateway_model_definition_permissions VALUES (1, 'd1', 3, 'MANAGE');
	INSERT INTO workspace_permissions VALUES ('default', 2, 'READ');
	INSERT INTO roles VALUES (1, 'team', 'default', NULL), (2, 'ws-users', 'default', NULL), (3, 'other-team', 'ws2', NULL);
	INSERT INTO role_permissions VALUES
		(1, 1, 'experiment', '3', 'READ'),
		(2, 1, 'registered_model', '*', 'EDIT'),
		(3, 1, 'mcp_server', 'x', 'READ'),
		(4, 1, 'experiment', '4', 'NO_PERMISSIONS'),
		(5, 2, 'workspace', '*', 'EDIT'),
		(6, 3, 'experiment', '9', 'MANAGE');
	INSERT INTO user_role_assignments VALUES (1, 2, 1), (2, 3, 1), (3, 7, 2), (4, 2, 3);`))
	if src.Model != Classic || src.Revision != "c3d4e5f6a7b8" {
		t.Errorf("model %s at %q; want classic at c3d4e5f6a7b8", src.Model, src.Revision)
	}
	wantUsers(t, src,
		storage.User{Username: "root", PasswordHash: "h-root", IsAdmin: true},
		storage.User{Username: "alice", PasswordHash: "h-alice"},
		storage.User{Username: "bob", PasswordHash: "h-bob"},
		storage.User{Username: "carol", PasswordHash: "h-carol"})
	wantLines(t, "grants", grantLines(src.Grants), []string{
		`experiment "1" EDIT for user "alice" <- experiment_permissions`,
		`experiment "2" NO_PERMISSIONS for user "alice" <- experiment_permissions`,
		`registered_model "m" READ for user "alice" <- registered_model_permissions`,
		`registered_model "m" MANAGE for user "alice" in workspace "other" <- registered_model_permissions`,
		`scorer "1/my%20scorer%2Fx" USE for user "alice" <- scorer_permissions`,
		`workspace "*" READ for user "alice" <- workspace_permissions`,
		`gateway_endpoint "e1" EDIT for user "bob" <- gateway_endpoint_permissions`,
		`gateway_model_definition "d1" MANAGE for user "bob" <- gateway_model_definition_permissions`,
		`gateway_secret "s1" USE for user "bob" <- gateway_secret_permissions`,
		`experiment "5" READ for user "carol" <- experiment_permissions`,
	})
	if g := src.Grants[4]; g.Resource != permission.ScorerResource("1", "my scorer/x") {
		t.Errorf("scorer resource %v", g.Resource)
	}
	// The preview roles are kept as roles: the resolver folds them as MLflow 3.17.2 does.
	wantLines(t, "roles", roleLines(src.Roles), []string{
		`role "team" in workspace "default": permissions [experiment "3" READ, registered_model "*" EDIT, mcp_server "x" READ], members ["alice", "bob"]`,
		`role "ws-users" in workspace "default": permissions [], members ["carol"]`,
		`role "other-team" in workspace "ws2": permissions [experiment "9" MANAGE], members ["alice"]`,
	})
	wantLines(t, "skipped users", skipLines(src.Skipped, true), []string{`user "bad:name"`, `user "nohash"`, `user id 6`})
	wantLines(t, "skipped rows", skipLines(src.Skipped, false), []string{
		`experiment "1" BOGUS for user "bob"`,
		`experiment "4" NO_PERMISSIONS for role "team"`,
		`workspace "*" EDIT for role "ws-users"`, // 3.13+ takes only USE and MANAGE there
	})
}

func TestReadMLflow313(t *testing.T) {
	src := read(t, mlflowDB(t, schema312, `
	INSERT INTO alembic_version_auth VALUES ('f1a2b3c4d5e6');
	INSERT INTO users VALUES (1, 'alice', 'h-alice', 0), (2, 'bob', 'h-bob', 0), (3, 'carol', 'h-carol', 0), (4, 'root', 'h-root', 1);
	INSERT INTO experiment_permissions VALUES (1, '99', 1, 'MANAGE'); -- stale: 3.13+ reads only the roles
	INSERT INTO roles VALUES (1, '__user_1__', 'default', NULL), (2, '__user_2__', 'default', NULL),
		(3, 'team', 'default', NULL), (4, 'admins', 'default', NULL), (5, '__user_3__', 'default', NULL),
		(6, 'x', 'ws2', NULL), (7, '__user_2__', 'ws2', NULL);
	INSERT INTO role_permissions VALUES
		(1, 1, 'experiment', '1', 'EDIT'),
		(2, 1, 'experiment', '2', 'DENY'),
		(3, 1, 'registered_model', 'm', 'READ'),
		(4, 1, 'scorer', '1/my%20scorer%2Fx', 'MANAGE'),
		(5, 1, 'prompt', 'p', 'USE'),
		(6, 1, 'mcp_server', 'm1', 'USE'),
		(7, 1, 'scorer', 'bad', 'READ'),
		(8, 2, 'experiment', '1', 'READ'),
		(9, 2, 'gateway_secret', 's1', 'USE'),
		(10, 2, 'workspace', '*', 'USE'),
		(11, 3, 'experiment', '3', 'READ'),
		(12, 3, 'registered_model', '*', 'EDIT'),
		(13, 3, 'experiment', '2', 'MANAGE'),
		(14, 3, 'experiment', '4', 'NO_PERMISSIONS'),
		(15, 4, 'workspace', '*', 'MANAGE'),
		(16, 5, 'experiment', '5', 'READ'),
		(17, 5, 'experiment', '6', 'DENY'),
		(18, 6, 'experiment', '9', 'MANAGE'),
		(19, 7, 'experiment', '8', 'READ');
	INSERT INTO user_role_assignments VALUES (1, 1, 1), (2, 2, 2), (3, 1, 3), (4, 2, 3), (5, 3, 5), (6, 3, 4), (7, 1, 6), (8, 2, 7);`))
	if src.Model != Roles || src.Revision != "f1a2b3c4d5e6" {
		t.Errorf("model %s at %q; want roles at f1a2b3c4d5e6", src.Model, src.Revision)
	}
	wantLines(t, "grants", grantLines(src.Grants), []string{
		`experiment "1" EDIT for user "alice" <- own grant`,
		`mcp_server "m1" USE for user "alice" <- own grant`, // a type since 3.15
		`prompt "p" USE for user "alice" <- own grant`,
		`registered_model "m" READ for user "alice" <- own grant`,
		`scorer "1/my%20scorer%2Fx" MANAGE for user "alice" <- own grant`,
		`experiment "1" READ for user "bob" <- own grant`,
		`experiment "8" READ for user "bob" in workspace "ws2" <- own grant`,
		`gateway_secret "s1" USE for user "bob" <- own grant`,
		`experiment "5" READ for user "carol" <- own grant`,
	})
	// Roles stay roles, in their workspaces; what a user's own role holds that a
	// direct grant cannot (DENY, wildcards, workspace rows, types without direct
	// grants, other workspaces) stays a role of that user alone.
	own := " (own grants that a direct grant cannot hold)"
	wantLines(t, "roles", roleLines(src.Roles), []string{
		`role "own grants of alice" in workspace "default"` + own + `: permissions [experiment "2" DENY], members ["alice"]`,
		`role "own grants of bob" in workspace "default"` + own + `: permissions [workspace "*" USE], members ["bob"]`,
		`role "team" in workspace "default": permissions [experiment "3" READ, registered_model "*" EDIT, experiment "2" MANAGE], members ["alice", "bob"]`,
		`role "admins" in workspace "default": permissions [workspace "*" MANAGE], members ["carol"]`,
		`role "own grants of carol" in workspace "default"` + own + `: permissions [experiment "6" DENY], members ["carol"]`,
		`role "x" in workspace "ws2": permissions [experiment "9" MANAGE], members ["alice"]`,
	})
	if d := src.Roles[0].Description; d == nil || !strings.Contains(*d, "alice's own grants (__user_1__)") {
		t.Errorf("the own role's description %v does not say where it came from", d)
	}
	wantLines(t, "skipped rows", skipLines(src.Skipped, false), []string{
		`scorer "bad" READ for user "alice"`,
		`experiment "4" NO_PERMISSIONS for role "team"`, // MLflow refuses it on a role
	})
	if len(src.Notes) != 2 || !strings.Contains(src.Notes[0], "1 row") || !strings.Contains(src.Notes[1], `"ws2"`) {
		t.Errorf("notes %q: want the ignored classic row and the role of workspace ws2", src.Notes)
	}
}

// TestDetect pins down which tables count, by schema revision and, without
// one, by the per-user roles only MLflow 3.13's conversion creates.
func TestDetect(t *testing.T) {
	roleTables := map[string]bool{"users": true, "roles": true, "role_permissions": true, "user_role_assignments": true}
	synthetic := map[int64]rawRole{1: {name: "__user_7__", workspace: "default"}}
	for _, c := range []struct {
		name string
		raw  raw
		want Model
	}{
		{"no role tables", raw{tables: map[string]bool{"users": true}, revision: "e5f6a7b8c9d0"}, Classic},
		{"3.12", raw{tables: roleTables, revision: "c3d4e5f6a7b8", roles: synthetic, members: map[int64][]int64{1: {7}}}, Classic},
		{"3.10", raw{tables: roleTables, revision: "2ed73881770d"}, Classic},
		{"3.13 backfill", raw{tables: roleTables, revision: "e5f6a7b8c9d0"}, Roles},
		{"3.13 prompts", raw{tables: roleTables, revision: "f1a2b3c4d5e6"}, Roles},
		{"a later revision", raw{tables: roleTables, revision: "f6a7b8c9d0e1"}, Roles},
		{"no revision, per-user roles", raw{tables: roleTables, roles: synthetic, members: map[int64][]int64{1: {7}}}, Roles},
		{"no revision, unassigned per-user role", raw{tables: roleTables, roles: synthetic}, Classic},
		{"no revision, shared roles only", raw{tables: roleTables, roles: map[int64]rawRole{1: {name: "team"}}, members: map[int64][]int64{1: {7}}}, Classic},
	} {
		if got, why := detect(&c.raw); got != c.want || why == "" {
			t.Errorf("%s: %s (%q), want %s", c.name, got, why, c.want)
		}
	}
}

func TestReadRefuses(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "missing.db")
	for _, url := range []string{
		"sqlite:///" + missing,
		mlflowDB(t, "CREATE TABLE other (x INTEGER)"), // not an MLflow auth database
		"mysql://u:p@h/db",
		"basic_auth.db",
		"sqlite://",
	} {
		if _, err := Read(ctx, url); err == nil {
			t.Errorf("Read(%s): no error", url)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("Read created the missing database file")
	}
}

// TestReadWritesNothing reads a database and checks that its file is byte for byte the same.
func TestReadWritesNothing(t *testing.T) {
	url := mlflowDB(t, schema312, `INSERT INTO alembic_version_auth VALUES ('f1a2b3c4d5e6');
		INSERT INTO users VALUES (1, 'alice', 'h', 0);`)
	path := strings.TrimPrefix(url, "sqlite:///")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	read(t, url)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("reading changed the MLflow database file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("reading left files next to the database: %v", entries)
	}
}

// What the API would refuse is skipped with the API's reason, so an import
// lands alike on SQLite and Postgres; names MLflow's tables hold are kept.
func TestReadSkipsWhatTheAPIRefuses(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes, 200 characters
	src := read(t, mlflowDB(t, schema25, `
	INSERT INTO users VALUES (1, 'root', 'h-root', 1), (2, '`+long+`', 'h-long', 0),
		(3, 'nul' || char(0), 'h-nul', 0), (4, '`+strings.Repeat("x", 256)+`', 'h-x', 0);
	INSERT INTO experiment_permissions VALUES (1, '1' || char(0), 2, 'READ'), (2, '7', 2, 'EDIT');
	INSERT INTO registered_model_permissions VALUES (1, '`+strings.Repeat("m", 257)+`', 2, 'READ'), (2, '`+strings.Repeat("模", 256)+`', 2, 'READ');`))
	wantUsers(t, src,
		storage.User{Username: "root", PasswordHash: "h-root", IsAdmin: true},
		storage.User{Username: long, PasswordHash: "h-long"})
	wantLines(t, "skipped users", skipLines(src.Skipped, true), []string{`user "nul\x00"`, `user "` + strings.Repeat("x", 256) + `"`})
	var kept []string
	for _, g := range src.Grants {
		kept = append(kept, string(g.Resource.Type)+" "+g.Resource.ID)
	}
	wantLines(t, "grants", kept, []string{"experiment 7", "registered_model " + strings.Repeat("模", 256)})
	if skipped := skipLines(src.Skipped, false); len(skipped) != 2 {
		t.Errorf("skipped rows %q, want the NUL id and the 257-character name", skipped)
	}
	for _, s := range src.Skipped {
		if !strings.Contains(s.Why, "mlflow-auth refuses it: Invalid value for parameter") {
			t.Errorf("%s: reason %q", s.What, s.Why)
		}
	}
}

// A role, a role's pattern or a grant's workspace whose text the API would
// refuse (NUL, which Postgres cannot store, in a role's description or a pattern;
// a workspace name MLflow could not have made) is skipped with its reason,
// rather than failing the whole import on Postgres.
func TestReadSkipsRolesAndWorkspacesTheAPIRefuses(t *testing.T) {
	src := read(t, mlflowDB(t, schema312, `
	INSERT INTO alembic_version_auth VALUES ('c3d4e5f6a7b8');
	INSERT INTO users VALUES (1, 'root', 'h-root', 1), (2, 'alice', 'h-alice', 0);
	INSERT INTO registered_model_permissions VALUES (1, 'm', 2, 'READ', 'default'), (2, 'n', 2, 'READ', 'Bad' || char(0)),
		(3, 'o', 2, 'READ', 'ws2');
	INSERT INTO roles VALUES (1, 'team', 'default', 'nul' || char(0) || 'here'), (2, 'ok', 'default', 'fine'),
		(3, 'bad' || char(0), 'default', NULL), (4, ' ', 'default', NULL);
	INSERT INTO role_permissions VALUES (1, 1, 'experiment', '3', 'READ'), (2, 2, 'registered_model', 'x' || char(0), 'READ'),
		(3, 2, 'experiment', '5', 'EDIT'), (4, 3, 'experiment', '6', 'READ');
	INSERT INTO user_role_assignments VALUES (1, 2, 1), (2, 2, 2);`))
	wantLines(t, "grants", grantLines(src.Grants), []string{
		`registered_model "m" READ for user "alice" <- registered_model_permissions`,
		`registered_model "o" READ for user "alice" in workspace "ws2" <- registered_model_permissions`,
	})
	wantLines(t, "roles", roleLines(src.Roles), []string{
		`role "ok" in workspace "default": permissions [experiment "5" EDIT], members ["alice"]`,
	})
	wantLines(t, "skipped rows", skipLines(src.Skipped, false), []string{
		`registered_model "n" READ for user "alice"`,
		`role "team"`,
		`registered_model "x\x00" READ for role "ok"`,
		`role "bad\x00"`,
		`role " "`,
	})
	for _, s := range src.Skipped {
		if !strings.Contains(s.Why, "mlflow-auth refuses it") {
			t.Errorf("%s: reason %q", s.What, s.Why)
		}
	}
}

// A source that cannot be read as MLflow wrote it (a NULL or a value of
// another type where MLflow writes none, a column missing, a file that is not
// SQLite or is cut short, a directory) refuses the import with words that say
// why and what to do.
func TestReadRefusesUnreadableSources(t *testing.T) {
	notDB := filepath.Join(t.TempDir(), "notes.db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("not a database\n"), 500), 0o600); err != nil {
		t.Fatal(err)
	}
	cut := mlflowDB(t, schema312, `INSERT INTO users VALUES (1, 'alice', 'h', 0);`)
	b, err := os.ReadFile(strings.TrimPrefix(cut, "sqlite:///"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimPrefix(cut, "sqlite:///"), b[:len(b)/2+100], 0o600); err != nil {
		t.Fatal(err)
	}
	const unreadable = "holds a value MLflow never writes there (NULL, or one of another type), so it cannot be imported: correct or delete that row and import again"
	for _, c := range []struct{ url, want string }{
		{mlflowDB(t, usersTable, `INSERT INTO users VALUES (1, 'alice', 'h', 2);`), "users " + unreadable},
		{mlflowDB(t, schema25, `INSERT INTO users VALUES (1, 'alice', 'h', 0);
			INSERT INTO experiment_permissions VALUES (1, '1', 'alice', 'READ');`), "experiment_permissions " + unreadable},
		{mlflowDB(t, `CREATE TABLE users (id INTEGER, username TEXT, password_hash TEXT, is_admin BOOLEAN);
			CREATE TABLE roles (id INTEGER, name TEXT, workspace TEXT, description TEXT);
			CREATE TABLE role_permissions (id INTEGER, role_id INTEGER, resource_type TEXT, resource_pattern TEXT, permission TEXT);
			CREATE TABLE user_role_assignments (id INTEGER, user_id INTEGER, role_id INTEGER);
			INSERT INTO roles VALUES (1, 'team', 'default', NULL);
			INSERT INTO role_permissions VALUES (1, 1, NULL, '1', 'READ');`), "role_permissions " + unreadable},
		{mlflowDB(t, `CREATE TABLE users (id INTEGER, username TEXT, is_admin BOOLEAN)`),
			"its tables lack columns that MLflow's schema has (users: "},
		{"sqlite:///" + notDB, "the file is not a SQLite database, or it is damaged"},
		{cut, "the file is not a SQLite database, or it is damaged"},
		{"sqlite:///" + t.TempDir(), "is a directory: give the basic_auth.db file in it"},
	} {
		if _, err := Read(context.Background(), c.url); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.url, err, c.want)
		}
	}
}

// A Postgres source whose tables lack MLflow's columns is refused in the same
// words as a SQLite file.
func TestReadRefusesPostgresTablesWithoutMLflowColumns(t *testing.T) {
	src := storagetest.NewPostgresSchema(t)
	if _, err := src.Admin.Exec(context.Background(), "CREATE TABLE "+pgx.Identifier{src.Name, "users"}.Sanitize()+
		" (id integer, username text, is_admin boolean)"); err != nil {
		t.Fatal(err)
	}
	const want = "its tables lack columns that MLflow's schema has (users: "
	if _, err := Read(context.Background(), src.URL); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

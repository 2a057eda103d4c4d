package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileSource writes an MLflow database whose tables lack MLflow's keys and
// NOT NULLs (as a hand-made or damaged file may) and returns its URL.
func hostileSource(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "basic_auth.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`
		CREATE TABLE users (id INTEGER, username VARCHAR(255), password_hash VARCHAR(255), is_admin BOOLEAN);
		CREATE TABLE experiment_permissions (id INTEGER, experiment_id VARCHAR(255), user_id INTEGER, permission VARCHAR(255));
		CREATE TABLE roles (id INTEGER, name VARCHAR(255), workspace VARCHAR(63), description VARCHAR(1024));
		CREATE TABLE role_permissions (id INTEGER, role_id INTEGER, resource_type VARCHAR(64), resource_pattern VARCHAR(255),
			permission VARCHAR(255));
		CREATE TABLE user_role_assignments (id INTEGER, user_id INTEGER, role_id INTEGER);` + script); err != nil {
		t.Fatal(err)
	}
	return "sqlite:///" + path
}

// targetRows is what the mlflow-auth database at url holds, one line per
// user, grant, role and audit row.
func targetRows(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	db, err := openDatabase(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	users, err := db.ListUsers(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, u := range users {
		rows = append(rows, fmt.Sprintf("user %s %q admin=%t", u.Username, u.PasswordHash, u.IsAdmin))
		grants, err := db.AllGrantsOfUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range grants {
			rows = append(rows, fmt.Sprintf("grant %s %s/%s %s@%s", g.Username, g.Resource.Type, g.Resource.ID, g.Level, g.Workspace))
		}
	}
	roles, err := db.ListRoles(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		as, err := db.RoleAssignments(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var perms []string
		for _, p := range r.Permissions {
			perms = append(perms, p.ResourceType+" "+p.Pattern+" "+string(p.Level))
		}
		rows = append(rows, fmt.Sprintf("role %s@%s %q members=%d", r.Name, r.Workspace, perms, len(as)))
	}
	_, audit := auditOf(t, url)
	return append(rows, fmt.Sprintf("%d audit rows", len(audit)))
}

// importHostile imports from into a new database of each backend and checks
// that both succeed with the same rows, want, and a report naming each skip.
func importHostile(t *testing.T, from string, want []string, report ...string) {
	t.Helper()
	for name, newTarget := range importTargets {
		t.Run(name, func(t *testing.T) {
			to := newTarget(t)
			out := mustImport(t, "--from", from, "--database-url", to.url)
			wantOutput(t, out, report...)
			if got := targetRows(t, to.url); !slices.Equal(got, want) {
				t.Errorf("rows after the import:\n got  %q\n want %q\n%s", got, want, out)
			}
		})
	}
}

// A password hash that one backend cannot store as the other does (NUL, which
// Postgres text refuses; invalid UTF-8; longer than MLflow's VARCHAR(255)) skips
// its user, with a reason, on both backends alike.
func TestImportSkipsPasswordHashesTheStoreRefuses(t *testing.T) {
	from := hostileSource(t, `
		INSERT INTO users VALUES (1, 'nul', 'h' || char(0) || 'x', 0), (2, 'blob', x'68ff', 0),
			(3, 'long', hex(zeroblob(128)), 0), (4, 'ok', 'h-ok', 0);
		INSERT INTO experiment_permissions VALUES (1, '1', 1, 'READ'), (2, '1', 4, 'EDIT');`)
	importHostile(t, from, []string{
		`user ok "h-ok" admin=false`,
		`grant ok experiment/1 EDIT@`,
		"3 audit rows",
	},
		`skipped: user "nul": mlflow-auth refuses its password hash: Invalid value for parameter 'password_hash': it must not contain NUL characters.`,
		`skipped: user "blob": mlflow-auth refuses its password hash: Invalid value for parameter 'password_hash': it must be valid UTF-8.`,
		`skipped: user "long": mlflow-auth refuses its password hash: Invalid value for parameter 'password_hash': it must be at most 255 characters long.`,
		"users:  1 created, 0 unchanged, 0 conflicting, 3 skipped")
}

// Rows a source repeats where MLflow's keys allow one (users of one name or
// id, a user's grants on one resource, roles of one name, a role's permissions
// on one pattern, its assignments) are skipped with a reason, the first kept,
// rather than failing the whole import on the store's keys. Users or roles of
// one id are all skipped, since whose rows name that id is ambiguous, and so
// are users of one name, since which one logs in is.
func TestImportSkipsRowsTheSourceRepeats(t *testing.T) {
	t.Run("classic", func(t *testing.T) {
		importHostile(t, hostileSource(t, `
			INSERT INTO users VALUES (1, 'root', 'h-root', 1), (2, 'alice', 'h-alice', 0), (3, 'dup', 'h1', 0),
				(4, 'dup', 'h2', 0), (5, 'x', 'h-x', 0), (5, 'y', 'h-y', 0);
			INSERT INTO experiment_permissions VALUES (1, '1', 2, 'READ'), (2, '1', 2, 'EDIT'), (3, '2', 3, 'READ'), (4, '3', 5, 'READ');
			INSERT INTO roles VALUES (1, 'team', 'default', NULL), (2, 'team', 'default', 'again'),
				(3, 'x', 'default', NULL), (3, 'y', 'default', NULL);
			INSERT INTO role_permissions VALUES (1, 1, 'experiment', '*', 'READ'), (2, 1, 'experiment', '*', 'EDIT'),
				(3, 2, 'experiment', '9', 'MANAGE'), (4, 3, 'experiment', '*', 'MANAGE');
			INSERT INTO user_role_assignments VALUES (1, 2, 1), (2, 2, 1);`),
			[]string{
				`user root "h-root" admin=true`,
				`user alice "h-alice" admin=false`,
				`grant alice experiment/1 READ@`,
				`role team@default ["experiment * READ"] members=1`,
				"5 audit rows",
			},
			`skipped: user "dup": the source holds 2 users of that name; none of them nor their grants are imported`,
			`skipped: user "x": the source holds 2 users with its id 5;`,
			`skipped: user "y": the source holds 2 users with its id 5;`,
			`skipped: experiment "1" EDIT for user "alice": the source grants it already: experiment "1" READ for user "alice" (from experiment_permissions) is imported`,
			`skipped: experiment "*" EDIT for role "team": the source gives the role READ on it already, which is imported`,
			`skipped: role "team": another role "team" of its workspace comes first in the source and is imported; this one, its permissions and members are not`,
			`skipped: role id 3: the source holds 2 roles with this id ("x" among them); none of them nor their permissions and members are imported`,
			"users:  2 created, 0 unchanged, 0 conflicting, 4 skipped",
			"grants: 1 created, 0 unchanged, 0 conflicting, 4 skipped")
	})
	// MLflow 3.13+: a user's own role listed twice, or holding one resource twice.
	t.Run("roles", func(t *testing.T) {
		importHostile(t, hostileSource(t, `
			INSERT INTO users VALUES (1, 'alice', 'h-alice', 0);
			INSERT INTO roles VALUES (1, '__user_1__', 'default', NULL), (2, '__user_1__', 'default', NULL);
			INSERT INTO role_permissions VALUES (1, 1, 'experiment', '7', 'READ'), (2, 1, 'experiment', '7', 'EDIT'),
				(3, 1, 'experiment', '*', 'READ'), (4, 2, 'experiment', '*', 'EDIT');
			INSERT INTO user_role_assignments VALUES (1, 1, 1), (2, 1, 2);`),
			[]string{
				`user alice "h-alice" admin=false`,
				`grant alice experiment/7 READ@`,
				`role own grants of alice@default ["experiment * READ"] members=1`,
				"4 audit rows",
			},
			`skipped: experiment "7" EDIT for user "alice": the source grants it already: experiment "7" READ for user "alice" (from own grant) is imported`,
			`skipped: user "alice": another role "own grants of alice" of its workspace comes first in the source and is imported`,
			"grants: 1 created, 0 unchanged, 0 conflicting, 2 skipped")
	})
}

// Rows naming a user or a role the source does not have (SQLite does not
// enforce MLflow's foreign keys) are listed as skipped, not dropped unsaid.
func TestImportReportsRowsOfMissingUsersAndRoles(t *testing.T) {
	importHostile(t, hostileSource(t, `
		INSERT INTO users VALUES (1, 'alice', 'h-alice', 0);
		INSERT INTO experiment_permissions VALUES (1, '1', 1, 'READ'), (2, '2', 7, 'EDIT');
		INSERT INTO roles VALUES (1, 'team', 'default', NULL);
		INSERT INTO role_permissions VALUES (1, 1, 'experiment', '*', 'READ'), (2, 9, 'experiment', '3', 'MANAGE');
		INSERT INTO user_role_assignments VALUES (1, 1, 1), (2, 8, 1), (3, 1, 9);`),
		[]string{
			`user alice "h-alice" admin=false`,
			`grant alice experiment/1 READ@`,
			`role team@default ["experiment * READ"] members=1`,
			"4 audit rows",
		},
		`skipped: experiment "2" EDIT for user id 7: no user of the source has the id 7`,
		`skipped: assignment of role "team" to user id 8: no user of the source has the id 8`,
		`skipped: role id 9: 1 permission(s) and 1 assignment(s) name it, but no role of the source has this id`,
		"grants: 1 created, 0 unchanged, 0 conflicting, 3 skipped")
}

// A user whose name is too long for the role "own grants of <name>" keeps
// the own grants (3.13+) that direct grants hold; only the rest is skipped.
func TestImportKeepsOwnGrantsOfALongUsername(t *testing.T) {
	long := strings.Repeat("n", 250) // a valid username; "own grants of " makes 264 characters
	importHostile(t, hostileSource(t, `
		INSERT INTO users VALUES (1, '`+long+`', 'h', 0);
		INSERT INTO roles VALUES (1, '__user_1__', 'default', NULL);
		INSERT INTO role_permissions VALUES (1, 1, 'experiment', '1', 'READ'), (2, 1, 'experiment', '*', 'EDIT');
		INSERT INTO user_role_assignments VALUES (1, 1, 1);`),
		[]string{
			`user ` + long + ` "h" admin=false`,
			`grant ` + long + ` experiment/1 READ@`,
			"3 audit rows",
		},
		`skipped: experiment "*" EDIT for user "`+long+`": a direct grant cannot hold it, and mlflow-auth refuses the role "own grants of `+long+
			`" that would keep it: Invalid value for parameter 'name': it must be at most 256 characters long.`,
		"grants: 1 created, 0 unchanged, 0 conflicting, 1 skipped")
}

// A grant's resource id is stored in the one spelling the API stores and the
// resolver looks up (MLflow reads experiment "01" as experiment 1), so two
// spellings of one experiment are one grant.
func TestImportStoresCanonicalResourceIDs(t *testing.T) {
	importHostile(t, hostileSource(t, `
		INSERT INTO users VALUES (1, 'alice', 'h-alice', 0);
		INSERT INTO experiment_permissions VALUES (1, '01', 1, 'READ'), (2, ' 1', 1, 'EDIT'), (3, '+2', 1, 'MANAGE');`),
		[]string{
			`user alice "h-alice" admin=false`,
			`grant alice experiment/1 READ@`,
			`grant alice experiment/2 MANAGE@`,
			"4 audit rows",
		},
		`skipped: experiment " 1" EDIT for user "alice": the source grants it already: experiment "1" READ for user "alice" (from experiment_permissions) is imported`,
		"grants: 2 created, 0 unchanged, 0 conflicting, 1 skipped")
}

// The report quotes a skip whose text repeats the source's unprintable
// characters, so a terminal escape or a newline in a type or a level cannot
// reach the admin's terminal or forge a line.
func TestImportReportQuotesUnprintableText(t *testing.T) {
	from := hostileSource(t, `
		INSERT INTO users VALUES (1, 'alice', 'h-alice', 0);
		INSERT INTO roles VALUES (1, 'team', 'default', NULL);
		INSERT INTO role_permissions VALUES (1, 1, char(27) || '[2J', '1', 'READ'),
			(2, 1, 'experiment', '2', 'READ' || char(10) || 'create user "mallory"');`)
	importHostile(t, from, []string{
		`user alice "h-alice" admin=false`,
		`role team@default [] members=0`,
		"3 audit rows",
	},
		`skipped: "\x1b[2J \"1\" READ for role \"team\"": "mlflow-auth refuses it: Invalid resource type '\x1b[2J'.`,
		`skipped: "experiment \"2\" READ\ncreate user \"mallory\" for role \"team\""`)
	out := mustImport(t, "--from", from, "--dry-run", "--database-url", "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"))
	if strings.ContainsAny(out, "\x1b") || strings.Contains(out, "\ncreate user \"mallory\"") {
		t.Errorf("the report prints the source's unprintable text as it is:\n%s", out)
	}
}

// An import whose target is its own SQLite source is refused before either is
// opened for writing: migrating would change MLflow's database (its journal
// mode, at least) and then fail on MLflow's users table.
func TestImportRefusesItsSourceAsTarget(t *testing.T) {
	from := hostileSource(t, `INSERT INTO users VALUES (1, 'alice', 'h-alice', 0);`)
	path := strings.TrimPrefix(from, "sqlite:///")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--from", from, "--database-url", from},
		{"--from", "sqlite+pysqlite:///" + path, "--database-url", "sqlite:///" + path, "--dry-run"},
	} {
		out, err := importCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "--from and --database-url name the same file") {
			t.Errorf("import %q: %v\n%s", args, err, out)
		}
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the import changed its source (%v)", err)
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// importTarget is an empty mlflow-auth database and a way to make its grants
// table refuse every insert (a trigger), to fail an import mid-transaction.
type importTarget struct {
	url          string
	refuseGrants func(t *testing.T)
}

var importTargets = map[string]func(t *testing.T) importTarget{
	"sqlite": func(t *testing.T) importTarget {
		path := filepath.Join(t.TempDir(), "auth.db")
		return importTarget{url: "sqlite:///" + path, refuseGrants: func(t *testing.T) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TRIGGER refuse_grants BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
				t.Fatal(err)
			}
		}}
	},
	"postgres": func(t *testing.T) importTarget {
		s := storagetest.NewPostgresSchema(t)
		return importTarget{url: s.URL, refuseGrants: func(t *testing.T) {
			fn := pgx.Identifier{s.Name, "refuse"}.Sanitize()
			if _, err := s.Admin.Exec(context.Background(), `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'refused'; END $$;
				CREATE TRIGGER refuse_grants BEFORE INSERT ON `+pgx.Identifier{s.Name, "grants"}.Sanitize()+
				` FOR EACH ROW EXECUTE FUNCTION `+fn+`()`); err != nil {
				t.Fatal(err)
			}
		}}
	},
}

// importSource is an MLflow database (no Python needed) with an admin, a user
// with a grant and a role that user holds; it returns its URL and alice's hash.
func importSource(t *testing.T) (string, string) {
	t.Helper()
	hash, err := password.Default.Hash("alice-password-1")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "basic_auth.db")
	db, err := sql.Open("sqlite", src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err = db.Exec(`
		CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255) UNIQUE, password_hash VARCHAR(255), is_admin BOOLEAN);
		CREATE TABLE experiment_permissions (id INTEGER PRIMARY KEY, experiment_id VARCHAR(255) NOT NULL,
			user_id INTEGER NOT NULL, permission VARCHAR(255));
		CREATE TABLE roles (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, workspace VARCHAR(63) NOT NULL, description VARCHAR(1024));
		CREATE TABLE role_permissions (id INTEGER PRIMARY KEY, role_id INTEGER NOT NULL, resource_type VARCHAR(64) NOT NULL,
			resource_pattern VARCHAR(255) NOT NULL, permission VARCHAR(255) NOT NULL);
		CREATE TABLE user_role_assignments (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, role_id INTEGER NOT NULL);
		INSERT INTO users VALUES (1, 'admin', 'scrypt:32768:8:1$x$00', 1), (2, 'alice', ?, 0);
		INSERT INTO experiment_permissions VALUES (1, '7', 2, 'EDIT');
		INSERT INTO roles VALUES (1, 'team', 'default', NULL);
		INSERT INTO role_permissions VALUES (1, 1, 'experiment', '*', 'READ');
		INSERT INTO user_role_assignments VALUES (1, 2, 1);`, hash); err != nil {
		t.Fatal(err)
	}
	return "sqlite:///" + src, hash
}

// auditOf is every audit row of the database at url, newest first, as
// "event resource after" lines.
func auditOf(t *testing.T, url string) ([]storage.AuditEvent, []string) {
	t.Helper()
	db, err := openDatabase(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.(storage.Audit).ListAuditEvents(context.Background(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, ev := range evs {
		var v any // one spelling for SQLite's text and Postgres's jsonb
		if err := json.Unmarshal(ev.After, &v); err != nil {
			t.Fatalf("%s: %q: %v", ev.Event, ev.After, err)
		}
		after, _ := json.Marshal(v)
		lines = append(lines, ev.Event+" "+ev.ResourceType+"/"+ev.ResourceID+"@"+ev.Workspace+" "+string(after))
	}
	return evs, lines
}

// `mlflow-auth import` writes, in its own transaction, a row of what it did
// and one per user, grant and role it made, on SQLite and Postgres; an import
// whose transaction fails leaves neither its changes nor any row.
func TestImportAuditRows(t *testing.T) {
	for name, newTarget := range importTargets {
		t.Run(name, func(t *testing.T) {
			from, hash := importSource(t)
			to := newTarget(t)
			mustImport(t, "--from", from, "--database-url", to.url)
			evs, got := auditOf(t, to.url)
			want := []string{
				`import.role role/1@default {"members":["alice"],"name":"team","permissions":[{"permission":"READ","resource_pattern":"*","resource_type":"experiment"}],"workspace":"default"}`,
				`import.grant experiment/7@default {"permission":"EDIT","username":"alice"}`,
				`import.user user/alice@ {"is_admin":false,"username":"alice"}`,
				`import.user user/admin@ {"is_admin":true,"username":"admin"}`,
				`import import/@ {"grants":{"conflicts":0,"created":1,"skipped":0,"unchanged":0},"model":"classic",` +
					`"roles":{"conflicts":0,"created":1,"skipped":0,"unchanged":0},"source":"` + from + `",` +
					`"users":{"conflicts":0,"created":2,"skipped":0,"unchanged":0}}`,
			}
			if !slices.Equal(got, want) {
				t.Fatalf("audit rows after the import, newest first:\n got  %q\n want %q", got, want)
			}
			for _, ev := range evs {
				if ev.Operation != "mlflow-auth import" || ev.RequestID == "" || ev.RequestID != evs[0].RequestID ||
					ev.Category != storage.AuditAdmin || ev.Outcome != storage.OutcomeSuccess || !ev.Time.Equal(evs[0].Time) {
					t.Errorf("%s: %+v", ev.Event, ev)
				}
				if strings.Contains(string(ev.After), hash[len(hash)-16:]) {
					t.Errorf("%s keeps a password hash: %s", ev.Event, ev.After)
				}
			}
			if out := mustImport(t, "--from", from, "--database-url", to.url); !strings.Contains(out, "nothing to import") {
				t.Fatalf("second import: %s", out)
			}
			if _, again := auditOf(t, to.url); len(again) != len(want) {
				t.Fatalf("an import that changes nothing wrote rows: %q", again)
			}

			failing := newTarget(t)
			var out bytes.Buffer
			if err := run(context.Background(), []string{"migrate", "up", "--database-url", failing.url}, &out, &out); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out.String())
			}
			failing.refuseGrants(t)
			if out, err := importCmd(t, "--from", from, "--database-url", failing.url); err == nil {
				t.Fatalf("an import whose grants are refused succeeded:\n%s", out)
			}
			if _, rows := auditOf(t, failing.url); len(rows) != 0 {
				t.Fatalf("a failed import left audit rows: %q", rows)
			}
			db, err := openDatabase(context.Background(), failing.url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if users, err := db.ListUsers(context.Background(), 0, 0); err != nil || len(users) != 0 {
				t.Fatalf("a failed import left users: %v, %v", users, err)
			}
		})
	}
}

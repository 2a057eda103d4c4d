package service_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// A model renamed or deleted through the front door takes its grants with it,
// and a new experiment under a reused id drops those left on that id; each of
// those changes has its row: who, the resource, the proxied route, and the
// grants moved or removed. So do a registered scorer's grants. A delete that
// finds no grant has none, nor has a create MLflow or the front door refuses,
// nor a grant already MANAGE. On SQLite and Postgres.
func TestProxyGrantMovesInTheAuditTrail(t *testing.T) {
	for name, db := range map[string]func(t *testing.T) servicetest.Database{
		"sqlite": func(t *testing.T) servicetest.Database { return nil },
		"postgres": func(t *testing.T) servicetest.Database {
			pg := openPostgres(t, "")
			return pg
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := servicetest.Start(t, servicetest.Options{Store: db(t), Upstream: fakeTracking(t), DefaultPermission: permission.NoPermissions})
			call := func(what, method, path, user, pass, body string) {
				t.Helper()
				status, answer := do(t, method, s.URL+path, user, pass, strings.NewReader(body), nil)
				expectJSON(t, what, status, answer, 200, nil)
			}
			for _, u := range []string{"alice", "bob"} {
				call("create "+u, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass,
					`{"username": "`+u+`", "password": "`+u+`-password-1"}`)
			}
			for _, g := range [][2]string{{"alice", "MANAGE"}, {"bob", "READ"}} {
				call("grant "+g[1]+" on m", "POST", "/api/2.0/mlflow/registered-models/permissions/create", adminUser, adminPass,
					`{"name": "m", "username": "`+g[0]+`", "permission": "`+g[1]+`"}`)
			}
			call("a grant left on experiment 12", "POST", "/api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass,
				`{"experiment_id": "12", "username": "bob", "permission": "READ"}`)
			call("a grant left on scorer s of experiment 12", "POST", "/api/3.0/mlflow/scorers/permissions/create", adminUser, adminPass,
				`{"experiment_id": "12", "scorer_name": "s", "username": "bob", "permission": "READ"}`)
			since := time.Now()
			call("create experiment 12", "POST", "/api/2.0/mlflow/experiments/create", "alice", "alice-password-1", `{"name": "mine"}`)
			call("rename m", "POST", "/api/2.0/mlflow/registered-models/rename", "alice", "alice-password-1", `{"name": "m", "new_name": "m2"}`)
			call("delete m2", "DELETE", "/api/2.0/mlflow/registered-models/delete", "alice", "alice-password-1", `{"name": "m2"}`)
			call("delete a model without grants", "DELETE", "/api/2.0/mlflow/registered-models/delete", adminUser, adminPass, `{"name": "other"}`)
			// A scorer's first version starts with its creator's grant alone; a
			// later one makes its registrant a manager; a deleted scorer's grants go.
			call("register scorer s", "POST", "/api/3.0/mlflow/scorers/register", "alice", "alice-password-1",
				`{"experiment_id": "12", "name": "s", "serialized_scorer": "{}"}`)
			call("edit on experiment 12", "POST", "/api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass,
				`{"experiment_id": "12", "username": "bob", "permission": "EDIT"}`)
			call("register scorer s again", "POST", "/api/3.0/mlflow/scorers/register", "bob", "bob-password-1",
				`{"experiment_id": "12", "name": "s", "serialized_scorer": "{}"}`)
			call("register scorer s once more", "POST", "/api/3.0/mlflow/scorers/register", "alice", "alice-password-1",
				`{"experiment_id": "12", "name": "s", "serialized_scorer": "{}"}`) // she manages it: nothing changes
			call("delete scorer s", "DELETE", "/api/3.0/mlflow/scorers/delete", "alice", "alice-password-1",
				`{"experiment_id": "12", "name": "s"}`)
			// What MLflow refuses, or the front door does, changes no grant and has no row.
			status, answer := do(t, "POST", s.URL+"/api/2.0/mlflow/registered-models/create", "bob", "bob-password-1", strings.NewReader(`{"name": "taken"}`), nil)
			expectJSON(t, "create a model that exists", status, answer, 400, nil)
			status, answer = do(t, "POST", s.URL+"/api/3.0/mlflow/scorers/register", "bob", "bob-password-1",
				strings.NewReader(`{"experiment_id": "13", "name": "s", "serialized_scorer": "{}"}`), nil)
			expectJSON(t, "register a scorer in another's experiment", status, answer, 403, deniedBody)

			evs, err := s.Store.(storage.Audit).ListAuditEvents(context.Background(), storage.AuditFilter{Since: since})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				if ev.Category != storage.AuditAdmin || strings.HasPrefix(ev.Operation, "/mlflowauth.v1.") {
					continue // the refusal's row, and the admin's change through the API
				}
				got = append(got, fmt.Sprintf("%s %s %s %s %s/%s@%s %s %s %s", ev.Event, ev.Category, ev.Outcome, ev.ActorUsername,
					ev.ResourceType, ev.ResourceID, ev.Workspace, ev.Operation, canonicalJSON(t, ev.Before), canonicalJSON(t, ev.After)))
			}
			grants := `[{"permission":"MANAGE","username":"alice"},{"permission":"READ","username":"bob"}]`
			want := []string{
				`grant.delete_all admin success alice scorer/12/s@default mlflow DELETE /3.0/mlflow/scorers/delete ` +
					`[{"permission":"MANAGE","username":"alice"},{"permission":"MANAGE","username":"bob"}] `,
				`grant.create admin success bob scorer/12/s@default mlflow POST /3.0/mlflow/scorers/register  {"permission":"MANAGE","username":"bob"}`,
				`grant.create admin success alice scorer/12/s@default mlflow POST /3.0/mlflow/scorers/register  {"permission":"MANAGE","username":"alice"}`,
				`grant.delete_all admin success alice scorer/12/s@default mlflow POST /3.0/mlflow/scorers/register [{"permission":"READ","username":"bob"}] `,
				`grant.delete_all admin success alice registered_model/m2@default mlflow DELETE /2.0/mlflow/registered-models/delete ` + grants + ` `,
				`grant.move admin success alice registered_model/m@default mlflow POST /2.0/mlflow/registered-models/rename ` + grants +
					` {"grants":` + grants + `,"resource_id":"m2","resource_type":"registered_model"}`,
				`grant.create admin success alice experiment/12@default mlflow POST /2.0/mlflow/experiments/create  {"permission":"MANAGE","username":"alice"}`,
				`grant.delete_all admin success alice experiment/12@default mlflow POST /2.0/mlflow/experiments/create [{"permission":"READ","username":"bob"}] `,
			}
			if !slices.Equal(got, want) {
				t.Fatalf("audit rows:\n got  %q\n want %q", got, want)
			}
		})
	}
}

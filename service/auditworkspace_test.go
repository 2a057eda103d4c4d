package service_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
)

// Every refusal is a row of a workspace, so that ListAuditEvents' workspace
// filter finds it: the workspace of the resource refused (a role's own), else
// the request's (X-MLFLOW-WORKSPACE, default without), at the API's and the
// front door's. On SQLite and Postgres.
func TestRefusalsFoundByTheirWorkspace(t *testing.T) {
	for name, db := range serviceDatabases {
		t.Run(name, func(t *testing.T) {
			s := servicetest.Start(t, servicetest.Options{Store: db(t), Upstream: fakeTracking(t),
				DefaultPermission: permission.NoPermissions, AuditFold: time.Millisecond})
			call := func(ws, method, path, user, pass, body string, want int) {
				t.Helper()
				header := http.Header{}
				if ws != "" {
					header.Set("X-MLFLOW-WORKSPACE", ws)
				}
				if status, answer := do(t, method, s.URL+path, user, pass, strings.NewReader(body), header); status != want {
					t.Fatalf("%s %s in %q: %d %s, want %d", method, path, ws, status, answer, want)
				}
			}
			call("", "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "alice", "password": "alice-password-1"}`, 200)
			since := time.Now().Add(-time.Second)
			call("team-a", "POST", "/api/2.0/mlflow/users/create", "alice", "alice-password-1", `{"username": "bob", "password": "bob-password-1"}`, 403)
			call("", "POST", "/api/2.0/mlflow/users/create", "alice", "alice-password-1", `{"username": "carol", "password": "carol-password-1"}`, 403)
			call("team-a", "GET", "/api/2.0/mlflow/no-such-route", "alice", "alice-password-1", "", 403)
			call("team-a", "GET", "/api/3.0/mlflow/roles/list?workspace=team-b", "alice", "alice-password-1", "", 403)

			want := map[string][]string{
				"team-a":  {"/mlflowauth.v1.UserService/CreateUser", "mlflow unlisted"},
				"default": {"/mlflowauth.v1.UserService/CreateUser"},
				"team-b":  {"/mlflowauth.v1.RoleService/ListRoles"},
			}
			for ws, want := range want {
				slices.Sort(want)
				var got []string
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					list := "/api/2.0/mlflow/audit-events/list?username=alice&event=permission.denied&workspace=" + ws +
						"&start_time=" + url.QueryEscape(since.Format(time.RFC3339Nano))
					status, body := do(t, "GET", s.URL+list, adminUser, adminPass, nil, nil)
					var resp struct {
						Events []struct{ Operation, Workspace string }
					}
					if err := json.Unmarshal(body, &resp); status != 200 || err != nil {
						t.Fatalf("list the audit trail: %d %s", status, body)
					}
					got = got[:0]
					for _, ev := range resp.Events {
						got = append(got, ev.Operation)
					}
					slices.Sort(got)
					if slices.Equal(got, want) {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("alice's refusals in %s: %q, want %q", ws, got, want)
				}
			}
		})
	}
}

package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/token"
)

// Every user and direct-grant change an admin makes, over gRPC and REST, on
// SQLite and Postgres, has its audit row in the database, naming who made it
// and how; a change the store refuses has none, and no row holds a secret.
func TestAuditRowsOfChanges(t *testing.T) {
	servers := map[string]func(t *testing.T) *testServer{
		"sqlite": func(t *testing.T) *testServer { return startServer(t, permission.Read) },
		"postgres": func(t *testing.T) *testServer {
			pg := openPostgres(t, "")
			return startServerOn(t, pg, permission.Read)
		},
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			audit := s.store.(storage.Audit)
			for _, tr := range s.transports(t) {
				t.Run(tr.name(), func(t *testing.T) {
					admin := caller{t, tr, adminUser, adminPass}
					alice := "audited-" + tr.name()
					const pass = "audited-password-1"
					admin.createUser(alice, pass)
					admin.expect(exists, v1.UserService_CreateUser_FullMethodName,
						&v1.CreateUserRequest{Username: alice, Password: pass}, &v1.CreateUserResponse{})
					admin.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
						&v1.UpdateUserPasswordRequest{Username: alice, Password: "audited-password-2"}, &v1.UpdateUserPasswordResponse{})
					yes := true
					admin.expect("", v1.UserService_UpdateUserAdmin_FullMethodName,
						&v1.UpdateUserAdminRequest{Username: alice, IsAdmin: &yes}, &v1.UpdateUserAdminResponse{})
					exp := &v1.CreateExperimentPermissionRequest{ExperimentId: "7", Username: alice, Permission: "READ"}
					admin.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName, exp, &v1.CreateExperimentPermissionResponse{})
					admin.expect(exists, v1.PermissionService_CreateExperimentPermission_FullMethodName, exp, &v1.CreateExperimentPermissionResponse{})
					admin.expect("", v1.PermissionService_UpdateExperimentPermission_FullMethodName,
						&v1.UpdateExperimentPermissionRequest{ExperimentId: "7", Username: alice, Permission: "EDIT"}, &v1.UpdateExperimentPermissionResponse{})
					admin.expect("", v1.PermissionService_DeleteExperimentPermission_FullMethodName,
						&v1.DeleteExperimentPermissionRequest{ExperimentId: "7", Username: alice}, &v1.DeleteExperimentPermissionResponse{})
					admin.expect("", v1.UserService_DeleteUser_FullMethodName, &v1.DeleteUserRequest{Username: alice}, &v1.DeleteUserResponse{})

					ctx := context.Background()
					users, err := audit.ListAuditEvents(ctx, storage.AuditFilter{ResourceType: "user", ResourceID: alice})
					if err != nil || len(users) == 0 {
						t.Fatalf("audit rows of %s: %v, %v", alice, users, err)
					}
					grants, err := audit.ListAuditEvents(ctx, storage.AuditFilter{ResourceType: "experiment", ResourceID: "7", Since: users[len(users)-1].Time})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, ev := range append(users, grants...) {
						got = append(got, ev.Event+" "+canonicalJSON(t, ev.After))
						if ev.ActorUsername != adminUser || ev.ActorUserID == 0 || ev.AuthMethod != "basic" ||
							ev.Category != storage.AuditAdmin || ev.Outcome != storage.OutcomeSuccess ||
							ev.RequestID == "" || ev.ClientAddr != "127.0.0.1" || !strings.HasPrefix(ev.Operation, "/mlflowauth.v1.") ||
							!strings.HasPrefix(ev.UserAgent, map[string]string{"grpc": "grpc-go/", "rest": "Go-http-client/"}[tr.name()]) {
							t.Errorf("%s: %+v", ev.Event, ev)
						}
						if strings.Contains(string(ev.Before)+string(ev.After), "audited-password") {
							t.Errorf("%s keeps a password: %s %s", ev.Event, ev.Before, ev.After)
						}
					}
					want := []string{
						"user.delete ",
						`user.admin {"is_admin":true,"username":"` + alice + `"}`,
						`user.password {"password":"changed","username":"` + alice + `"}`,
						`user.create {"is_admin":false,"username":"` + alice + `"}`,
						"grant.delete ",
						`grant.update {"permission":"EDIT","username":"` + alice + `"}`,
						`grant.create {"permission":"READ","username":"` + alice + `"}`,
					}
					if !slices.Equal(got, want) {
						t.Fatalf("audit rows, newest first:\n got  %q\n want %q", got, want)
					}
				})
			}
		})
	}
}

// canonicalJSON spells a JSON value one way (sorted keys, no spaces), as
// Postgres's jsonb and SQLite's text keep it differently; "" for none (nil or null).
func canonicalJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if raw == nil {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("audit value %q: %v", raw, err)
	}
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// serviceDatabases are the stores a test server runs on: SQLite (the
// default, nil) and Postgres.
var serviceDatabases = map[string]func(t *testing.T) servicetest.Database{
	"sqlite":   func(t *testing.T) servicetest.Database { return nil },
	"postgres": func(t *testing.T) servicetest.Database { return openPostgres(t, "") },
}

// Failed logins and the policy's refusals are auth events: repeated ones of one
// user for one reason fold into one row with their count, over gRPC and REST,
// on SQLite and Postgres. A refusal of a call made with a token names it.
func TestAuditAuthEventsFold(t *testing.T) {
	for name, db := range serviceDatabases {
		t.Run(name, func(t *testing.T) {
			srv := servicetest.Start(t, servicetest.Options{Store: db(t), AuditFold: time.Second})
			conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			s := &testServer{httpBase: srv.URL, conn: conn, store: srv.Store}
			for _, tr := range s.transports(t) {
				t.Run(tr.name(), func(t *testing.T) {
					admin := caller{t, tr, adminUser, adminPass}
					mallory := "mallory-" + tr.name()
					admin.createUser(mallory, "mallory-password")
					since := time.Now().Add(-time.Second)
					guess := admin.as(mallory, "not-her-password")
					asMallory := admin.as(mallory, "mallory-password")
					for range 3 {
						guess.expect(unauthorized, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: mallory}, &v1.GetUserResponse{})
						asMallory.expect(denied, v1.UserService_CreateUser_FullMethodName,
							&v1.CreateUserRequest{Username: "sneaky", Password: "sneaky-password"}, &v1.CreateUserResponse{})
					}
					asMallory.expect(denied, v1.PermissionService_CreateExperimentPermission_FullMethodName,
						&v1.CreateExperimentPermissionRequest{ExperimentId: "9", Username: mallory, Permission: "MANAGE"}, &v1.CreateExperimentPermissionResponse{})
					// A refusal of a token's call names the token.
					readToken := admin.createToken(mallory, "ro", "READ")
					admin.as(bearerUser, readToken.Token).expect(denied, v1.PermissionService_CreateExperimentPermission_FullMethodName,
						&v1.CreateExperimentPermissionRequest{ExperimentId: "10", Username: mallory, Permission: "MANAGE"}, &v1.CreateExperimentPermissionResponse{})

					// Read back over the API, on the transport that was refused;
					// [required/held] are the refusal's levels.
					want := []string{
						"permission.denied denied x1 experiment/10 no MANAGE on the resource [MANAGE/READ] /mlflowauth.v1.PermissionService/CreateExperimentPermission",
						"permission.denied denied x1 experiment/9 no MANAGE on the resource [MANAGE/READ] /mlflowauth.v1.PermissionService/CreateExperimentPermission",
						"permission.denied denied x3 / not an admin [/] /mlflowauth.v1.UserService/CreateUser",
						"login.failed denied x3 / wrong password [/] /mlflowauth.v1.UserService/GetUser",
					}
					var got []string
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
						resp := &v1.ListAuditEventsResponse{}
						admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName,
							&v1.ListAuditEventsRequest{Username: mallory, StartTime: since.Format(time.RFC3339Nano)}, resp)
						got = got[:0]
						for _, ev := range resp.Events {
							got = append(got, fmt.Sprintf("%s %s x%d %s/%s %s [%s/%s] %s", ev.Event, ev.Outcome, ev.Count, ev.ResourceType, ev.ResourceId,
								ev.Reason, ev.RequiredLevel, ev.HeldLevel, ev.Operation))
							byToken := ev.ResourceId == "10"
							if ev.Category != storage.AuditAuth || ev.RequestId == "" || ev.ClientAddress != "127.0.0.1" ||
								(ev.TokenId == readToken.TokenInfo.Id) != byToken || (byToken && ev.AuthMethod != "token") {
								t.Errorf("%s: %+v", ev.Event, ev)
							}
						}
						if slices.Equal(got, want) {
							// The levels select refusals.
							resp := &v1.ListAuditEventsResponse{}
							admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName,
								&v1.ListAuditEventsRequest{Username: mallory, RequiredLevel: "MANAGE", HeldLevel: "READ"}, resp)
							if len(resp.Events) != 2 || resp.Events[0].ResourceId != "10" || resp.Events[1].ResourceId != "9" {
								t.Fatalf("%s's refusals that required MANAGE of one holding READ: %v", mallory, resp.Events)
							}
							return
						}
					}
					t.Fatalf("auth events of %s, newest first:\n got  %q\n want %q", mallory, got, want)
				})
			}
		})
	}
}

// Every kind of failed login is a row naming who tried (the username given,
// none for a Bearer token but an expired one's owner, never a token given as
// the username), how, and why, with the user's and the token's ids where the
// store named them before refusing, through the API over gRPC and REST and
// through the front door, on SQLite and Postgres; the same failure through the
// same route folds into one row. Rows are read back over ListAuditEvents.
func TestAuditRowsOfFailedLogins(t *testing.T) {
	for name, db := range serviceDatabases {
		t.Run(name, func(t *testing.T) {
			srv := servicetest.Start(t, servicetest.Options{Store: db(t), Upstream: fakeTracking(t), AuditFold: time.Second})
			conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			s := &testServer{httpBase: srv.URL, conn: conn, store: srv.Store}
			admin := caller{t, s.transports(t)[0], adminUser, adminPass}
			since := time.Now().Add(-time.Second)
			// Each surface refuses a login on its own route: the API's RPC, the proxied path.
			type surface struct {
				name, operation string
				refuse          func(user, pass string)
			}
			var surfaces []surface
			for _, tr := range s.transports(t) {
				tr := tr
				surfaces = append(surfaces, surface{tr.name(), v1.UserService_GetCurrentUser_FullMethodName, func(user, pass string) {
					caller{t, tr, user, pass}.refused()
				}})
			}
			surfaces = append(surfaces, surface{"proxy", "mlflow GET /2.0/mlflow/experiments/get", func(user, pass string) {
				status, body := do(t, "GET", srv.URL+"/api/2.0/mlflow/experiments/get?experiment_id=1", user, pass, nil, nil)
				expectJSON(t, "proxied login as "+user, status, body, 401, nil)
			}})
			tokens := srv.Store.(storage.Tokens)
			adminToken := admin.createToken(adminUser, "ci", "")
			unknown, _ := token.New()
			want := map[string]int{}
			for _, sf := range surfaces {
				mallory, robot := "mallory-"+sf.name, "robot-"+sf.name
				m := admin.createUser(mallory, "mallory-password")
				r := &v1.CreateServiceAccountResponse{}
				admin.expect("", v1.UserService_CreateServiceAccount_FullMethodName, &v1.CreateServiceAccountRequest{Username: robot}, r)
				expired, hash := token.New()
				past := time.Now().Add(-time.Hour)
				old, err := tokens.CreateToken(context.Background(), storage.Token{UserID: m.Id, Name: "expired", Hash: hash[:],
					CreatedAt: past.Add(-time.Hour), ExpiresAt: past})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range []struct {
					user, pass, actor, method, reason string
					userID, tokenID                   int32
				}{
					{mallory, "not-her-password", mallory, "basic", "wrong password", m.Id, 0},
					{"ghost-" + sf.name, "any-password", "ghost-" + sf.name, "basic", "unknown user", 0, 0},
					{robot, "any-password", robot, "basic", "password for a service account", r.User.Id, 0},
					{mallory, unknown, mallory, "token", "unknown token", 0, 0},
					{mallory, adminToken.Token, mallory, "token", "token of another user", 0, adminToken.TokenInfo.Id},
					{mallory, expired, mallory, "token", "expired token", m.Id, old.ID},
					{bearerUser, expired, mallory, "token", "expired token", m.Id, old.ID}, // its owner's row, folded
					{bearerUser, unknown, "", "token", "unknown token", 0, 0},
					{bearerUser, "mla_short", "", "token", "malformed token", 0, 0},
					// A token given as the username is no name to keep.
					{adminToken.Token, "any-password", "mla_…", "basic", "unknown user", 0, 0},
				} {
					sf.refuse(c.user, c.pass)
					want[fmt.Sprintf("login.failed denied %s(%d) %s %q %s token %d", c.actor, c.userID, c.method, c.reason, sf.operation, c.tokenID)]++
				}
			}
			// A wrong present password, changing one's own, is a failed login of
			// the signed-in user, and changes nothing.
			for _, tr := range s.transports(t) {
				mallory := "mallory-" + tr.name()
				u, err := srv.Store.UserByName(context.Background(), mallory)
				if err != nil {
					t.Fatal(err)
				}
				caller{t, tr, mallory, "mallory-password"}.expect(invalid, v1.UserService_UpdateUserPassword_FullMethodName,
					&v1.UpdateUserPasswordRequest{Username: mallory, Password: "mallory-password-2", CurrentPassword: "a-guess"}, &v1.UpdateUserPasswordResponse{})
				want[fmt.Sprintf("login.failed denied %s(%d) basic %q %s token 0", mallory, u.ID, "wrong current password", v1.UserService_UpdateUserPassword_FullMethodName)]++
				if evs, err := srv.Store.(storage.Audit).ListAuditEvents(context.Background(),
					storage.AuditFilter{Event: "user.password", ResourceID: mallory}); err != nil || len(evs) != 0 {
					t.Fatalf("rows of a refused password change: %+v, %v", evs, err)
				}
			}
			var wantRows []string
			for row, n := range want {
				wantRows = append(wantRows, fmt.Sprintf("%s x%d", row, n))
			}
			slices.Sort(wantRows)
			var got []string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				resp := &v1.ListAuditEventsResponse{}
				admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName,
					&v1.ListAuditEventsRequest{Event: "login.failed", StartTime: since.Format(time.RFC3339Nano)}, resp)
				got = got[:0]
				for _, ev := range resp.Events {
					got = append(got, fmt.Sprintf("%s %s %s(%d) %s %q %s token %d x%d", ev.Event, ev.Outcome, ev.Username, ev.UserId,
						ev.AuthMethod, ev.Reason, ev.Operation, ev.TokenId, ev.Count))
					if ev.Category != storage.AuditAuth || ev.RequestId == "" || ev.ClientAddress != "127.0.0.1" || ev.UserAgent == "" ||
						ev.Before != "" || ev.After != "" {
						t.Errorf("%s: %+v", ev.Event, ev)
					}
				}
				slices.Sort(got)
				if slices.Equal(got, wantRows) {
					return
				}
			}
			t.Fatalf("failed logins:\n got  %q\n want %q", got, wantRows)
		})
	}
}

// Admins page through the trail newest first, filtered, over gRPC and REST;
// anyone else is refused.
func TestListAuditEvents(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			carol := "carol-" + tr.name()
			admin.createUser(carol, "carol-password")
			yes := true
			admin.expect("", v1.UserService_UpdateUserAdmin_FullMethodName,
				&v1.UpdateUserAdminRequest{Username: carol, IsAdmin: &yes}, &v1.UpdateUserAdminResponse{})
			no := false
			admin.expect("", v1.UserService_UpdateUserAdmin_FullMethodName,
				&v1.UpdateUserAdminRequest{Username: carol, IsAdmin: &no}, &v1.UpdateUserAdminResponse{})

			var got []string
			req := &v1.ListAuditEventsRequest{ResourceType: "user", ResourceId: carol, MaxResults: 2,
				StartTime: time.Now().Add(-time.Minute).Format(time.RFC3339Nano)}
			for pages := 0; ; pages++ {
				if pages > 2 {
					t.Fatal("paging does not end")
				}
				resp := &v1.ListAuditEventsResponse{}
				admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName, req, resp)
				for _, ev := range resp.Events {
					got = append(got, ev.Event+" "+canonicalJSON(t, json.RawMessage(nonEmpty(ev.After))))
					if at, err := time.Parse(time.RFC3339Nano, ev.Time); ev.Username != adminUser || ev.ResourceId != carol || err != nil || time.Since(at) > time.Minute {
						t.Errorf("event %+v", ev)
					}
				}
				if resp.NextPageToken == "" {
					break
				}
				req.PageToken = resp.NextPageToken
			}
			want := []string{
				`user.admin {"is_admin":false,"username":"` + carol + `"}`,
				`user.admin {"is_admin":true,"username":"` + carol + `"}`,
				`user.create {"is_admin":false,"username":"` + carol + `"}`,
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages of events:\n got  %q\n want %q", got, want)
			}
			future := &v1.ListAuditEventsRequest{ResourceId: carol, StartTime: time.Now().Add(time.Hour).Format(time.RFC3339)}
			resp := &v1.ListAuditEventsResponse{}
			admin.expect("", v1.AuditService_ListAuditEvents_FullMethodName, future, resp)
			if len(resp.Events) != 0 {
				t.Fatalf("events after a time to come: %v", resp.Events)
			}
			admin.expect(invalid, v1.AuditService_ListAuditEvents_FullMethodName,
				&v1.ListAuditEventsRequest{EndTime: "yesterday"}, &v1.ListAuditEventsResponse{})
			admin.as(carol, "carol-password").expect(denied, v1.AuditService_ListAuditEvents_FullMethodName,
				&v1.ListAuditEventsRequest{}, &v1.ListAuditEventsResponse{})
		})
	}
}

// nonEmpty is s, or null for none, as JSON.
func nonEmpty(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// Token changes have their rows too, made by the token's owner with a token;
// no row holds the secret. So has a change of one's own password, made by
// oneself. On SQLite and Postgres.
func TestAuditRowsOfTokenChanges(t *testing.T) {
	for name, start := range auditBackends {
		t.Run(name, func(t *testing.T) { auditTokenChanges(t, start(t)) })
	}
}

func auditTokenChanges(t *testing.T, s *testServer) {
	audit := s.store.(storage.Audit)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			dora := "dora-" + tr.name()
			admin.createUser(dora, "dora-password")
			asDora := admin.as(dora, "dora-password")
			created := &v1.CreateTokenResponse{}
			asDora.expect("", v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{Username: dora, Name: "ci"}, created)
			asDora.expect(exists, v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{Username: dora, Name: "ci"}, &v1.CreateTokenResponse{})
			rotated := &v1.RotateTokenResponse{}
			asDora.expect("", v1.TokenService_RotateToken_FullMethodName, &v1.RotateTokenRequest{Username: dora, Name: "ci"}, rotated)
			admin.as(bearerUser, rotated.Token).expect("", v1.TokenService_RevokeToken_FullMethodName,
				&v1.RevokeTokenRequest{Username: dora, Name: "ci"}, &v1.RevokeTokenResponse{})

			evs, err := audit.ListAuditEvents(context.Background(), storage.AuditFilter{ResourceType: "token", ResourceID: dora + "/ci"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, ev.Event+" by "+ev.ActorUsername+" "+ev.AuthMethod)
				if raw := string(ev.Before) + string(ev.After); strings.Contains(raw, created.Token[4:20]) || strings.Contains(raw, rotated.Token[4:20]) {
					t.Errorf("%s keeps the token: %s", ev.Event, raw)
				}
			}
			if want := []string{"token.revoke by " + dora + " token", "token.rotate by " + dora + " basic", "token.create by " + dora + " basic"}; !slices.Equal(got, want) {
				t.Fatalf("token rows:\n got  %q\n want %q", got, want)
			}
			if evs[0].TokenID == 0 {
				t.Errorf("the revoke made with a token names no token id: %+v", evs[0])
			}

			asDora.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
				&v1.UpdateUserPasswordRequest{Username: dora, Password: "dora-password-2", CurrentPassword: "dora-password"}, &v1.UpdateUserPasswordResponse{})
			evs, err = audit.ListAuditEvents(context.Background(), storage.AuditFilter{Event: "user.password", ResourceID: dora})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].ActorUsername != dora || evs[0].ActorUserID == 0 || evs[0].AuthMethod != "basic" ||
				canonicalJSON(t, evs[0].After) != `{"password":"changed","username":"`+dora+`"}` || strings.Contains(string(evs[0].Before)+string(evs[0].After), "dora-password") {
				t.Fatalf("rows of dora's own password change: %+v", evs)
			}
		})
	}
}

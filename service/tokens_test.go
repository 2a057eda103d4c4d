package service_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/token"
)

func (c caller) createToken(username, name, ceiling string) *v1.CreateTokenResponse {
	c.t.Helper()
	resp := &v1.CreateTokenResponse{}
	c.expect("", v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{Username: username, Name: name, Ceiling: ceiling}, resp)
	return resp
}

// whoAmI fails unless the caller authenticates as want.
func (c caller) whoAmI(want string) {
	c.t.Helper()
	resp := &v1.GetCurrentUserResponse{}
	c.expect("", v1.UserService_GetCurrentUser_FullMethodName, &v1.GetCurrentUserRequest{}, resp)
	if resp.User.Username != want || resp.IsBasicAuth {
		c.t.Fatalf("GetCurrentUser = %v, want %s, not by password", resp, want)
	}
}

func (c caller) refused() {
	c.t.Helper()
	c.expect(unauthorized, v1.UserService_GetCurrentUser_FullMethodName, &v1.GetCurrentUserRequest{}, &v1.GetCurrentUserResponse{})
}

// Tokens on both transports: made once, shown once, used as Bearer or as a Basic
// password of their owner, listed without secrets, rotated, revoked, capped.
func TestTokens(t *testing.T) { testTokens(t, startServer(t, permission.NoPermissions)) }

// The same with tokens remembered for an hour: a rotation and a revocation
// still stop the old secret at once, and last_used_at is still written once a minute.
func TestTokensCached(t *testing.T) {
	testTokens(t, startServerWith(t, servicetest.Options{DefaultPermission: permission.NoPermissions, UserCacheTTL: time.Hour}))
}

func testTokens(t *testing.T, s *testServer) {
	tokens := s.store.(storage.Tokens)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			ctx := context.Background()
			admin := caller{t, tr, adminUser, adminPass}
			alice, bob := "alice-"+tr.name(), "bob-"+tr.name()
			const alicePass = "alice-password-1"
			aliceUser := admin.createUser(alice, alicePass)
			admin.createUser(bob, "bob-password-123")
			asAlice := admin.as(alice, alicePass)

			before := time.Now()
			made := asAlice.createToken(alice, "ci", "")
			tok, info := made.Token, made.TokenInfo
			if _, ok := token.Parse(tok); !ok || !strings.HasPrefix(tok, "mla_") {
				t.Fatalf("created token %q is not a well-formed token", tok)
			}
			life := info.ExpiresAt.AsTime().Sub(info.CreatedAt.AsTime())
			if info.Name != "ci" || info.Username != alice || info.Ceiling != "" || info.LastUsedAt != nil ||
				info.CreatedAt.AsTime().Before(before.Add(-time.Second)) || life != 90*24*time.Hour {
				t.Fatalf("created %v: want ci of %s, no ceiling, never used, 90 days", info, alice)
			}

			// Only SHA-256 of the secret is kept: the row holds no form of the token.
			rows, err := tokens.TokensOfUser(ctx, aliceUser.Id)
			if err != nil || len(rows) != 1 {
				t.Fatalf("rows of %s: %v, %v", alice, rows, err)
			}
			secret := tok[4 : 4+43]
			if sum := sha256.Sum256([]byte(secret)); string(rows[0].Hash) != string(sum[:]) ||
				strings.Contains(string(rows[0].Hash), secret) {
				t.Fatalf("stored hash %x, want SHA-256 of the secret", rows[0].Hash)
			}

			// Bearer, and Basic with the owner's name; never with someone else's.
			admin.as(bearerUser, tok).whoAmI(alice)
			admin.as(alice, tok).whoAmI(alice)
			admin.as(bob, tok).refused()
			admin.as(adminUser, tok).refused()
			// last_used_at is written at most once a minute, however often the token is used.
			lastUsed := func() time.Time {
				t.Helper()
				rows, err := tokens.TokensOfUser(ctx, aliceUser.Id)
				if err != nil || rows[0].LastUsedAt == nil {
					t.Fatalf("rows of %s after use: %v, %v", alice, rows, err)
				}
				return *rows[0].LastUsedAt
			}
			first := lastUsed()
			admin.as(bearerUser, tok).whoAmI(alice)
			if again := lastUsed(); !again.Equal(first) {
				t.Fatalf("last_used_at moved from %v to %v within a minute", first, again)
			}
			// A typo is refused; so is a token that was never made.
			admin.as(bearerUser, typo(tok)).refused()
			fresh, _ := token.New()
			admin.as(bearerUser, fresh).refused()

			// Names are unique per user; the ceiling and lifetime are checked.
			create := v1.TokenService_CreateToken_FullMethodName
			asAlice.expect(exists, create, &v1.CreateTokenRequest{Username: alice, Name: "ci"}, &v1.CreateTokenResponse{})
			asAlice.expect(invalid, create, &v1.CreateTokenRequest{Username: alice, Name: "x", Ceiling: "EDIT"}, &v1.CreateTokenResponse{})
			asAlice.expect(invalid, create, &v1.CreateTokenRequest{Username: alice, Name: "x", ExpiresInDays: 91}, &v1.CreateTokenResponse{})
			asAlice.expect(invalid, create, &v1.CreateTokenRequest{Username: alice, Name: "x", ExpiresInDays: -1}, &v1.CreateTokenResponse{})
			asAlice.expect(invalid, create, &v1.CreateTokenRequest{Username: alice}, &v1.CreateTokenResponse{})
			short := &v1.CreateTokenResponse{}
			asAlice.expect("", create, &v1.CreateTokenRequest{Username: alice, Name: "short", ExpiresInDays: 1}, short)
			if d := short.TokenInfo.ExpiresAt.AsTime().Sub(short.TokenInfo.CreatedAt.AsTime()); d != 24*time.Hour {
				t.Fatalf("a 1-day token lives %v", d)
			}
			// Your own tokens; an admin's for anyone.
			asAlice.expect(denied, create, &v1.CreateTokenRequest{Username: bob, Name: "x"}, &v1.CreateTokenResponse{})
			bobs := admin.createToken(bob, "ci", "")
			admin.as(bearerUser, bobs.Token).whoAmI(bob)
			asAlice.expect(denied, v1.TokenService_ListTokens_FullMethodName, &v1.ListTokensRequest{Username: bob}, &v1.ListTokensResponse{})
			asAlice.expect(denied, v1.TokenService_RevokeToken_FullMethodName, &v1.RevokeTokenRequest{Username: bob, Name: "ci"}, &v1.RevokeTokenResponse{})

			// Listed without secrets, with when each was last used.
			listed := &v1.ListTokensResponse{}
			asAlice.expect("", v1.TokenService_ListTokens_FullMethodName, &v1.ListTokensRequest{Username: alice}, listed)
			if len(listed.Tokens) != 2 || listed.Tokens[0].Name != "ci" || listed.Tokens[1].Name != "short" ||
				listed.Tokens[0].LastUsedAt == nil || listed.Tokens[1].LastUsedAt != nil {
				t.Fatalf("ListTokens = %v: want ci (used) and short (never used)", listed.Tokens)
			}
			if strings.Contains(listed.String(), secret) {
				t.Fatal("ListTokens shows a secret")
			}

			// Rotation: the old secret stops at once, the new one works, name and ceiling stay.
			capped := asAlice.createToken(alice, "notebook", "READ")
			rotated := &v1.RotateTokenResponse{}
			asAlice.expect("", v1.TokenService_RotateToken_FullMethodName, &v1.RotateTokenRequest{Username: alice, Name: "notebook"}, rotated)
			if rotated.Token == capped.Token || rotated.TokenInfo.Name != "notebook" || rotated.TokenInfo.Ceiling != "READ" || rotated.TokenInfo.Id != capped.TokenInfo.Id {
				t.Fatalf("rotated %v", rotated.TokenInfo)
			}
			admin.as(bearerUser, capped.Token).refused()
			admin.as(bearerUser, rotated.Token).whoAmI(alice)
			asAlice.expect(notFound, v1.TokenService_RotateToken_FullMethodName, &v1.RotateTokenRequest{Username: alice, Name: "gone"}, &v1.RotateTokenResponse{})

			// The READ ceiling: alice manages experiment 7, but not with the capped token,
			// which also cannot make itself an uncapped one.
			exp := "7-" + tr.name()
			admin.expect("", v1.PermissionService_CreateExperimentPermission_FullMethodName,
				&v1.CreateExperimentPermissionRequest{ExperimentId: exp, Username: alice, Permission: "MANAGE"}, &v1.CreateExperimentPermissionResponse{})
			getPerm := &v1.GetExperimentPermissionRequest{ExperimentId: exp, Username: alice}
			admin.as(bearerUser, tok).expect("", v1.PermissionService_GetExperimentPermission_FullMethodName, getPerm, &v1.GetExperimentPermissionResponse{})
			readOnly := admin.as(bearerUser, rotated.Token)
			readOnly.expect(denied, v1.PermissionService_GetExperimentPermission_FullMethodName, getPerm, &v1.GetExperimentPermissionResponse{})
			readOnly.expect(denied, create, &v1.CreateTokenRequest{Username: alice, Name: "escape"}, &v1.CreateTokenResponse{})
			readOnly.expect(denied, v1.TokenService_RotateToken_FullMethodName, &v1.RotateTokenRequest{Username: alice, Name: "ci"}, &v1.RotateTokenResponse{})
			// An admin's capped token is no admin.
			adminRead := admin.createToken(adminUser, "read-"+tr.name(), "READ")
			users := &v1.ListUsersResponse{}
			admin.as(bearerUser, adminRead.Token).expect("", v1.UserService_ListUsers_FullMethodName, &v1.ListUsersRequest{}, users)
			if len(users.Users) != 1 || users.Users[0].Username != adminUser {
				t.Errorf("users listed with an admin's capped token: %v, want the admin alone", users.Users)
			}
			admin.as(bearerUser, adminRead.Token).expect(denied, v1.UserService_CreateUser_FullMethodName,
				&v1.CreateUserRequest{Username: "mallory-" + tr.name(), Password: "mallory-password"}, &v1.CreateUserResponse{})

			// Revocation stops a token at once.
			asAlice.expect("", v1.TokenService_RevokeToken_FullMethodName, &v1.RevokeTokenRequest{Username: alice, Name: "ci"}, &v1.RevokeTokenResponse{})
			admin.as(bearerUser, tok).refused()
			admin.as(alice, tok).refused()
			asAlice.expect(notFound, v1.TokenService_RevokeToken_FullMethodName, &v1.RevokeTokenRequest{Username: alice, Name: "ci"}, &v1.RevokeTokenResponse{})

			// An expired token is refused.
			old, hash := token.New()
			past := time.Now().Add(-time.Hour)
			if _, err := tokens.CreateToken(ctx, storage.Token{UserID: aliceUser.Id, Name: "expired", Hash: hash[:],
				CreatedAt: past.Add(-time.Hour), ExpiresAt: past}); err != nil {
				t.Fatal(err)
			}
			admin.as(bearerUser, old).refused()
		})
	}
}

// The token routes are where the README says, beside the users API.
func TestTokenRoutes(t *testing.T) {
	s := startServer(t, permission.Read)
	for path, want := range map[string]int{
		"/api/2.0/mlflow/users/tokens/list?username=" + adminUser:      http.StatusOK,
		"/ajax-api/2.0/mlflow/users/tokens/list?username=" + adminUser: http.StatusOK,
	} {
		if status, body := do(t, http.MethodGet, s.httpBase+path, adminUser, adminPass, nil, nil); status != want {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
}

// A token whose checksum is wrong is refused without a database lookup: with
// the database closed it is still a plain 401, while a well-formed token, which
// must be looked up, meets the closed database.
func TestMalformedTokenNeedsNoLookup(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := servicetest.Start(t, servicetest.Options{Store: db})
	tok, _ := token.New()
	db.Close()
	for _, c := range []struct {
		header string
		want   int
	}{
		{"Bearer " + typo(tok), http.StatusUnauthorized},
		{"Bearer mla_short", http.StatusUnauthorized},
		{"Bearer " + tok, http.StatusInternalServerError},
	} {
		status, body := do(t, http.MethodGet, s.URL+"/api/2.0/mlflow/users/current", "", "", nil, http.Header{"Authorization": {c.header}})
		if status != c.want {
			t.Errorf("%s: %d %s, want %d", c.header, status, body, c.want)
		}
	}
}

// Refused tokens count as failed logins: past the free failures of an address
// (4 per free failure of a user), Bearer and Basic alike are answered 429, and
// neither the refusals nor the successes log a token.
func TestRefusedTokensAreThrottledAndNeverLogged(t *testing.T) {
	logs := &lockedBuffer{}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	s := servicetest.Start(t, servicetest.Options{LoginThrottle: service.LoginThrottle{FreeFailures: 1}})
	current := s.URL + "/api/2.0/mlflow/users/current"
	good := &v1.CreateTokenResponse{}
	status, body := do(t, http.MethodPost, s.URL+"/api/2.0/mlflow/users/tokens/create", adminUser, adminPass,
		strings.NewReader(`{"username": "admin", "name": "ci"}`), nil)
	if status != http.StatusOK || protojson.Unmarshal(body, good) != nil {
		t.Fatalf("create: %d %s", status, body)
	}
	if strings.Count(string(body), good.Token) != 1 {
		t.Fatalf("the creation answer shows the token %d times", strings.Count(string(body), good.Token))
	}
	if status, body := do(t, http.MethodGet, current, bearerUser, good.Token, nil, nil); status != http.StatusOK {
		t.Fatalf("good token: %d %s", status, body)
	}
	unknown, _ := token.New()
	bad := []struct{ user, pass string }{
		{bearerUser, unknown}, {bearerUser, good.Token + "x"}, {"nobody", good.Token}, {bearerUser, unknown},
	}
	for i, b := range bad {
		if status, body := do(t, http.MethodGet, current, b.user, b.pass, nil, nil); status != http.StatusUnauthorized {
			t.Fatalf("bad token #%d: %d %s", i+1, status, body)
		}
	}
	status, body = do(t, http.MethodGet, current, bearerUser, unknown, nil, nil)
	if status != http.StatusTooManyRequests || !strings.Contains(string(body), "REQUEST_LIMIT_EXCEEDED") {
		t.Fatalf("after %d refused tokens: %d %s, want 429", len(bad), status, body)
	}
	for _, secret := range []string{good.Token, unknown, good.Token[4:], unknown[4:]} {
		if strings.Contains(logs.String(), secret[:20]) {
			t.Fatalf("a token is in the logs:\n%s", logs)
		}
	}
	if !strings.Contains(logs.String(), `reason="unknown token"`) {
		t.Fatalf("refused tokens are not logged:\n%s", logs)
	}
}

// The front door takes tokens as the API does, and holds a READ token to READ:
// it may read an experiment its owner manages, not change it. A revoked token
// is refused at the door. Behind it stands a plain HTTP server in MLflow's place
// that records what reached it.
func TestTokensAtTheFrontDoor(t *testing.T) {
	var reached []string
	var mu sync.Mutex
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "{}")
	}))
	t.Cleanup(mlflow.Close)
	upstream, _ := url.Parse(mlflow.URL)
	s := servicetest.Start(t, servicetest.Options{Upstream: upstream, DefaultPermission: permission.NoPermissions})
	post := func(path, user, pass, body string) (int, []byte) {
		return do(t, http.MethodPost, s.URL+path, user, pass, strings.NewReader(body), nil)
	}
	if status, body := post("/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "alice", "password": "alice-password-1"}`); status != 200 {
		t.Fatalf("create alice: %d %s", status, body)
	}
	if status, body := post("/api/2.0/mlflow/experiments/permissions/create", adminUser, adminPass,
		`{"experiment_id": "7", "username": "alice", "permission": "MANAGE"}`); status != 200 {
		t.Fatalf("grant: %d %s", status, body)
	}
	newToken := func(name, ceiling string) string {
		t.Helper()
		status, body := post("/api/2.0/mlflow/users/tokens/create", "alice", "alice-password-1",
			`{"username": "alice", "name": "`+name+`", "ceiling": "`+ceiling+`"}`)
		resp := &v1.CreateTokenResponse{}
		if status != 200 || protojson.Unmarshal(body, resp) != nil {
			t.Fatalf("create token: %d %s", status, body)
		}
		return resp.Token
	}
	full, read := newToken("full", ""), newToken("read", "READ")
	get := s.URL + "/api/2.0/mlflow/experiments/get?experiment_id=7"
	update := `{"experiment_id": "7", "new_name": "renamed"}`
	for _, c := range []struct {
		what       string
		status     int
		user, pass string
		update     bool
	}{
		{"full token, Bearer, read", 200, bearerUser, full, false},
		{"full token, Basic, update", 200, "alice", full, true},
		{"READ token, Bearer, read", 200, bearerUser, read, false},
		{"READ token, Basic, read", 200, "alice", read, false},
		{"READ token, Bearer, update", 403, bearerUser, read, true},
		{"READ token, Basic, update", 403, "alice", read, true},
		{"a typo", 401, bearerUser, typo(full), false},
	} {
		var status int
		var body []byte
		if c.update {
			status, body = post("/api/2.0/mlflow/experiments/update", c.user, c.pass, update)
		} else {
			status, body = do(t, http.MethodGet, get, c.user, c.pass, nil, nil)
		}
		if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.what, status, body, c.status)
		}
	}
	if status, body := post("/api/2.0/mlflow/users/tokens/revoke", "alice", "alice-password-1", `{"username": "alice", "name": "full"}`); status != 200 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, body := do(t, http.MethodGet, get, bearerUser, full, nil, nil); status != 401 {
		t.Errorf("revoked token at the front door: %d %s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /api/2.0/mlflow/experiments/get", "POST /api/2.0/mlflow/experiments/update",
		"GET /api/2.0/mlflow/experiments/get", "GET /api/2.0/mlflow/experiments/get"}
	var got []string
	for _, r := range reached {
		if strings.HasPrefix(r, "GET /api/2.0/mlflow/experiments/get") || strings.HasPrefix(r, "POST /api/2.0/mlflow/experiments/update") {
			got = append(got, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("reached MLflow: %q, want %q", got, want)
	}
}

// typo is tok with its last character changed (to another one: a fixed
// replacement would be the token itself whenever it already ends so).
func typo(tok string) string {
	last := byte('x')
	if tok[len(tok)-1] == last {
		last = 'y'
	}
	return tok[:len(tok)-1] + string(last)
}

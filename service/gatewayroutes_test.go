package service_test

import (
	"bytes"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// A method and path the gateway has answered before (routedGateway remembers
// which service's mux holds it) gets the same answer again: every GET route of
// http.yaml, another value of a path parameter, a wrong method and an unknown path.
func TestGatewayAnswersRepeatedRoutes(t *testing.T) {
	data, err := os.ReadFile("../proto/mlflowauth/v1/http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range regexp.MustCompile(`(?m)get: (\S+)$`).FindAllStringSubmatch(string(data), -1) {
		paths = append(paths, strings.ReplaceAll(m[1], "{workspace_name}", "team-a"))
	}
	if len(paths) < 40 {
		t.Fatalf("found only %d GET routes in http.yaml", len(paths))
	}
	s := startServer(t, permission.Read)
	if st, body := do(t, "POST", s.httpBase+"/api/2.0/mlflow/users/create", adminUser, adminPass,
		strings.NewReader(`{"username": "alice", "password": "alice-password-1"}`), nil); st != http.StatusOK {
		t.Fatalf("users/create: %d %s", st, body)
	}
	type call struct{ method, target string }
	var calls []call
	for _, p := range paths {
		calls = append(calls, call{"GET", p + "?username=alice&experiment_id=1&name=x&role_id=1"})
	}
	calls = append(calls,
		call{"GET", "/api/3.0/mlflow/workspaces/team-b/permissions"}, // the pattern learned from team-a
		call{"PUT", "/api/2.0/mlflow/users/get"},
		call{"GET", "/api/2.0/mlflow/users/no-such-route"},
	)
	for _, c := range calls {
		first, firstBody := do(t, c.method, s.httpBase+c.target, adminUser, adminPass, nil, nil)
		for range 2 {
			again, body := do(t, c.method, s.httpBase+c.target, adminUser, adminPass, nil, nil)
			if again != first || !bytes.Equal(body, firstBody) {
				t.Errorf("%s %s: first %d %s, then %d %s", c.method, c.target, first, firstBody, again, body)
			}
		}
	}
}

// A form POST to a GET route is served by the GET route (grpc-gateway's path
// length fallback), and a JSON POST to the same path is refused, in either
// order: routedGateway remembers neither as the path's POST handler.
func TestGatewayFormPostIsNotRemembered(t *testing.T) {
	s := startServer(t, permission.Read)
	target := s.httpBase + "/api/2.0/mlflow/users/get"
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for range 2 {
		if st, body := do(t, "POST", target, adminUser, adminPass, strings.NewReader("username="+adminUser), form); st != http.StatusOK {
			t.Errorf("form POST: %d %s", st, body)
		}
		if st, body := do(t, "POST", target, adminUser, adminPass, strings.NewReader(`{"username": "`+adminUser+`"}`), nil); st != http.StatusMethodNotAllowed {
			t.Errorf("JSON POST after a form POST: %d %s", st, body)
		}
	}
}

package proxy

import (
	"maps"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          pathParams
		ok            bool
	}{
		{"/2.0/mlflow/runs/get", "/2.0/mlflow/runs/get", nil, true},
		{"/2.0/mlflow/runs/get", "/2.0/mlflow/runs/get/", nil, false},
		{"/2.0/mlflow/runs/get", "/2.0/mlflow/runs", nil, false},
		{"/2.0/mlflow/logged-models/{model_id}", "/2.0/mlflow/logged-models/m-1", pathParams{"model_id": "m-1"}, true},
		{"/2.0/mlflow/logged-models/{model_id}", "/2.0/mlflow/logged-models/", nil, false},
		{"/2.0/mlflow/logged-models/{model_id}/tags/{key}", "/2.0/mlflow/logged-models/m/tags/k", pathParams{"model_id": "m", "key": "k"}, true},
		{"/2.0/mlflow-artifacts/artifacts/{path...}", "/2.0/mlflow-artifacts/artifacts/1/abc/model.pkl", pathParams{"path": "1/abc/model.pkl"}, true},
		{"/2.0/mlflow-artifacts/artifacts/{path...}", "/2.0/mlflow-artifacts/artifacts/", nil, false},
		{"/2.0/mlflow-artifacts/artifacts", "/2.0/mlflow-artifacts/artifacts/1", nil, false},
	} {
		got, ok := match(c.pattern, c.path)
		if ok != c.ok || (ok && !maps.Equal(got, c.want)) {
			t.Errorf("match(%q, %q) = %v, %v; want %v, %v", c.pattern, c.path, got, ok, c.want, c.ok)
		}
	}
}

// Every route is reachable under both prefixes, and nothing else is.
func TestFind(t *testing.T) {
	for _, prefix := range []string{"/api", "/ajax-api"} {
		if r, _ := find("GET", prefix+"/2.0/mlflow/runs/get"); r == nil || r.need != needRead {
			t.Errorf("%s runs/get: %v", prefix, r)
		}
	}
	for _, c := range [][2]string{
		{"POST", "/api/2.0/mlflow/runs/get"},           // wrong method
		{"GET", "/api/2.0/mlflow/webhooks"},            // admin only: not in the table
		{"GET", "/graphql"},                            // POST only, as the UI sends
		{"GET", "/api/2.0/mlflow/runs/get/extra"},      // longer path
		{"GET", "/api/3.0/mlflow/gateway/secrets/get"}, // not in the table
	} {
		if r, _ := find(c[0], c[1]); r != nil {
			t.Errorf("%s %s matched %v", c[0], c[1], r.pattern)
		}
	}
	for _, r := range routes {
		if r.need == needAdmin {
			t.Errorf("%s %s: a row for admins only is the same as no row", r.method, r.pattern)
		}
		if r.need != needUser && r.locate == nil {
			t.Errorf("%s %s needs a permission but names no resource", r.method, r.pattern)
		}
	}
}

// Every route's decisions count under a group named by its pattern's first
// segment: a handful of names, never a path parameter.
func TestRouteGroups(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/api/2.0/mlflow/experiments/create", "proxy:experiments"},
		{"GET", "/ajax-api/2.0/mlflow/runs/get", "proxy:runs"},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/1/a/b", "proxy:mlflow-artifacts"},
		{"GET", "/api/2.0/mlflow/logged-models/m-1", "proxy:logged-models"},
		{"POST", "/api/3.0/mlflow/traces/search", "proxy:traces"},
		{"POST", "/v1/traces", "proxy:traces"},
		{"POST", "/graphql", "proxy:graphql"},
		{"GET", "/get-artifact", "proxy:get-artifact"},
		{"GET", "/", "proxy:ui"},
		{"POST", "/api/2.0/mlflow/webhooks/create", "proxy:unlisted"},
	} {
		rt, _ := find(c.method, c.path)
		if got := rt.group(c.method, c.path); got != c.want {
			t.Errorf("%s %s: group %q, want %q", c.method, c.path, got, c.want)
		}
	}
	groups := map[string]bool{}
	for i := range routes {
		g := routes[i].group(routes[i].method, "")
		if strings.ContainsAny(g, "{}") {
			t.Errorf("%s %s: group %q holds a parameter", routes[i].method, routes[i].pattern, g)
		}
		groups[g] = true
	}
	if len(groups) > 30 {
		t.Errorf("%d route groups: %v", len(groups), groups)
	}
}

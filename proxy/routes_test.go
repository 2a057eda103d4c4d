package proxy

import (
	"maps"
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

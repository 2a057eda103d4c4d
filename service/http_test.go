package service

import (
	"os"
	"regexp"
	"testing"
)

// Every route of http.yaml is the auth API's; MLflow's own paths go to the proxy.
func TestIsAuthAPI(t *testing.T) {
	data, err := os.ReadFile("../proto/mlflowauth/v1/http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paths := regexp.MustCompile(`(?m)(?:get|post|patch|delete): (\S+)$`).FindAllStringSubmatch(string(data), -1)
	if len(paths) < 50 {
		t.Fatalf("found only %d routes in http.yaml", len(paths))
	}
	for _, m := range paths {
		if !isAuthAPI(m[1]) {
			t.Errorf("%s is not recognised as the auth API", m[1])
		}
	}
	for _, p := range []string{
		"/", "/health", "/static-files/app.js", "/get-artifact", "/graphql",
		"/api/2.0/mlflow/experiments/get", "/ajax-api/2.0/mlflow/runs/search",
		"/api/2.0/mlflow/registered-models/get", "/api/2.0/mlflow-artifacts/artifacts/1/a/users",
		"/api/3.0/mlflow/scorers/list", "/api/2.0/mlflow/experiments/search-permissions",
		"/api/2.0/mlflowusers", "/apiusers",
		"/api/3.0/mlflow/workspaces", "/api/3.0/mlflow/workspaces/team-a", "/api/3.0/mlflow/workspaces//permissions",
	} {
		if isAuthAPI(p) {
			t.Errorf("%s is taken for the auth API", p)
		}
	}
}

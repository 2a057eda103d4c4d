package client

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// The Authorization header FromEnvironment chooses, as MLflow's clients do:
// Basic when both username and password are known, else the token.
func TestFromEnvironmentAuthorization(t *testing.T) {
	const file = "[mlflow]\nmlflow_tracking_username = fileuser\nmlflow_tracking_password = filepass\n"
	for _, tc := range []struct {
		name                   string
		user, pass, token, ini string
		want                   string
	}{
		{name: "nothing", want: ""},
		{name: "token", token: "tok", want: "Bearer tok"},
		{name: "basic wins over the token", user: "u", pass: "p", token: "tok", want: basic("u", "p")},
		{name: "username alone is not enough", user: "u", token: "tok", want: "Bearer tok"},
		{name: "file", ini: file, want: basic("fileuser", "filepass")},
		{name: "file and token", ini: file, token: "tok", want: basic("fileuser", "filepass")},
		{name: "password from the environment", ini: file, pass: "p", want: basic("fileuser", "p")},
		{name: "password split at the first colon", user: "u", pass: "p:q", want: basic("u", "p:q")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
			t.Setenv("MLFLOW_TRACKING_USERNAME", tc.user)
			t.Setenv("MLFLOW_TRACKING_PASSWORD", tc.pass)
			t.Setenv("MLFLOW_TRACKING_TOKEN", tc.token)
			t.Setenv("MLFLOW_TRACKING_INSECURE_TLS", "")
			t.Setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "")
			if tc.ini != "" {
				os.Mkdir(filepath.Join(home, ".mlflow"), 0o700)
				if err := os.WriteFile(filepath.Join(home, ".mlflow", "credentials"), []byte(tc.ini), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := FromEnvironment()
			if err != nil {
				t.Fatal(err)
			}
			if c.authorization != tc.want {
				t.Errorf("Authorization %q, want %q", c.authorization, tc.want)
			}
		})
	}
}

// Bodies that are not MLflow's error JSON: MLflow's own plain-text 401 and 403,
// HTML pages, nothing at all.
func TestErrorFromBody(t *testing.T) {
	for _, tc := range []struct {
		status        int
		body          string
		code, message string
	}{
		{401, "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.",
			"UNAUTHENTICATED", "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate."},
		{403, "Permission denied", "PERMISSION_DENIED", "Permission denied"},
		{400, "Invalid content type. Must be application/json\n", "BAD_REQUEST", "Invalid content type. Must be application/json"},
		{404, "<!doctype html>\n<title>404 Not Found</title>", "ENDPOINT_NOT_FOUND", "Not Found for GET /api/x"},
		{502, "", "INTERNAL_ERROR", "Bad Gateway for GET /api/x"},
		{503, "  ", "TEMPORARILY_UNAVAILABLE", "Service Unavailable for GET /api/x"},
		{400, `{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "User (username=a) already exists.", "sqlstate": "KAM00", "error_class": "RESOURCE_ALREADY_EXISTS"}`,
			"RESOURCE_ALREADY_EXISTS", "User (username=a) already exists."},
		{500, `{"unrelated": "json"}`, "INTERNAL_ERROR", `{"unrelated": "json"}`},
	} {
		e := newError(tc.status, []byte(tc.body), "GET /api/x")
		if e.StatusCode != tc.status || e.Code != tc.code || e.Message != tc.message {
			t.Errorf("%d %q: got %+v, want %s %q", tc.status, tc.body, e, tc.code, tc.message)
		}
	}
	long := newError(500, []byte(strings.Repeat("é", 1000)), "GET /api/x")
	if len(long.Message) > maxPlainMessage+len("…") || !utf8.ValidString(long.Message) {
		t.Errorf("a long body became a message of %d bytes (valid UTF-8: %v)", len(long.Message), utf8.ValidString(long.Message))
	}
}

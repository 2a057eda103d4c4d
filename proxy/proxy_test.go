package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/decision"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// fakeGuard knows users by the whole Authorization header value.
type fakeGuard struct {
	users  map[string]storage.User
	grants map[string]map[permission.Resource]permission.Level
	def    permission.Level
}

func (g *fakeGuard) Authenticate(ctx context.Context, header string) (context.Context, storage.User, error) {
	if u, ok := g.users[header]; ok {
		return ctx, u, nil
	}
	return ctx, storage.User{}, &apiError{http.StatusUnauthorized, "UNAUTHENTICATED", "who?"}
}

func (g *fakeGuard) Permissions(_ context.Context, u storage.User) func(permission.Resource) (resolve.Decision, error) {
	return func(r permission.Resource) (resolve.Decision, error) {
		if u.IsAdmin {
			return resolve.Decision{Level: permission.Manage, By: resolve.ByAdmin}, nil
		}
		if l, ok := g.grants[u.Username][r]; ok {
			return resolve.Decision{Level: l, By: resolve.ByGrant}, nil
		}
		return resolve.Decision{Level: g.def, By: resolve.ByDefault}, nil
	}
}

func (g *fakeGuard) Decided(context.Context, decision.Decision) {}

func (g *fakeGuard) WithGrantAudit(ctx context.Context, _, _ string, _ permission.Resource, _, _ *storage.Grant) context.Context {
	return ctx
}

func (g *fakeGuard) WriteError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "INTERNAL_ERROR"
	var e interface{ MLflowError() (int, string, string) }
	if errors.As(err, &e) {
		status, code, _ = e.MLflowError()
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error_code": %q}`, code)
}

type noGrants struct{}

func (noGrants) Grant(context.Context, int32, permission.Resource) (storage.Grant, error) {
	return storage.Grant{}, storage.ErrNotFound
}

func (noGrants) CreateGrant(context.Context, int32, permission.Resource, permission.Level) (storage.Grant, error) {
	return storage.Grant{}, nil
}
func (noGrants) UpdateGrant(context.Context, int32, permission.Resource, permission.Level) (storage.Grant, error) {
	return storage.Grant{}, nil
}
func (noGrants) DeleteResourceGrants(context.Context, permission.Resource) error { return nil }
func (noGrants) GrantsOnResource(context.Context, permission.Resource, int32, int) ([]storage.Grant, error) {
	return nil, nil
}
func (noGrants) MoveGrants(context.Context, []storage.Grant, permission.Resource) error { return nil }

// forwarded is a request as the fake upstream received it.
type forwarded struct {
	method, path, query, body string
}

// fakeMLflow is the upstream of the tests. It answers the proxy's own lookups
// (requests without X-Forwarded-For) from its maps, and records every forwarded
// request, answering it from answers ("METHOD /path") or with {}.
type fakeMLflow struct {
	mu       sync.Mutex
	runs     map[string]string   // run id → experiment
	models   map[string]string   // logged model id → experiment
	traces   map[string]string   // trace id → experiment
	datasets map[string][]string // dataset id → experiments
	jobs     map[string]string   // prompt-optimization job id → experiment
	answers  map[string]string
	onAnswer func() // called as a forwarded request is answered
	got      []forwarded
}

func (f *fakeMLflow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("X-Forwarded-For") == "" {
		f.lookup(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.got = append(f.got, forwarded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body)})
	if f.onAnswer != nil {
		f.onAnswer()
	}
	if answer, ok := f.answers[r.Method+" "+r.URL.Path]; ok {
		io.WriteString(w, answer)
		return
	}
	io.WriteString(w, "{}")
}

func (f *fakeMLflow) lookup(w http.ResponseWriter, r *http.Request) {
	notFound := func() {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error_code": "RESOURCE_DOES_NOT_EXIST"}`)
	}
	path := r.URL.Path
	if id, ok := strings.CutPrefix(path, "/api/2.0/mlflow/logged-models/"); ok {
		fmt.Fprintf(w, `{"model": {"info": {"experiment_id": %q}}}`, f.models[id])
	} else if path == "/api/2.0/mlflow/runs/get" {
		exp, ok := f.runs[r.URL.Query().Get("run_id")]
		if !ok {
			notFound()
			return
		}
		fmt.Fprintf(w, `{"run": {"info": {"experiment_id": %q}}}`, exp)
	} else if id, ok := strings.CutPrefix(path, "/api/3.0/mlflow/traces/"); ok {
		exp, ok := f.traces[id]
		if !ok {
			notFound()
			return
		}
		fmt.Fprintf(w, `{"trace": {"trace_info": {"trace_id": %q, "trace_location": {"mlflow_experiment": {"experiment_id": %q}}}}}`, id, exp)
	} else if id, ok := strings.CutPrefix(path, "/api/3.0/mlflow/datasets/"); ok {
		json.NewEncoder(w).Encode(map[string]any{"experiment_ids": f.datasets[strings.TrimSuffix(id, "/experiment-ids")]})
	} else if id, ok := strings.CutPrefix(path, "/api/3.0/mlflow/prompt-optimization/jobs/"); ok {
		exp, ok := f.jobs[id]
		if !ok {
			notFound()
			return
		}
		fmt.Fprintf(w, `{"job": {"job_id": %q, "experiment_id": %q}}`, id, exp)
	} else {
		w.WriteHeader(http.StatusTeapot)
	}
}

// forwarded returns the requests forwarded since the last call.
func (f *fakeMLflow) forwarded() []forwarded {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

func (f *fakeMLflow) set(do func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	do()
}

// newFakeMLflowProxy returns a proxy for bob and the admin root in front of a
// fakeMLflow. Bob manages experiment 1 (run "mine", logged model "m-mine", trace "tr-mine"), the model
// "mine" and the scorer "mine" of experiment 1; he may read experiment 3 (logged
// model "m-read", trace "tr-read") and its scorer "read"; experiment 2 (run "victim",
// logged model "m-victim", trace "tr-victim") is another user's, and nothing else is bob's.
func newFakeMLflowProxy(t *testing.T) (*Proxy, *fakeMLflow) {
	f := &fakeMLflow{
		runs:   map[string]string{"mine": "1", "victim": "2"},
		models: map[string]string{"m-mine": "1", "m-read": "3", "m-victim": "2"},
		traces: map[string]string{"tr-mine": "1", "tr-read": "3", "tr-victim": "2"},
		datasets: map[string][]string{
			"d-mine": {"1"}, "d-read": {"3"}, "d-shared": {"1", "2"}, "d-orphan": {},
		},
		jobs: map[string]string{"j-mine": "1", "j-read": "3", "j-victim": "2"},
	}
	upstream := httptest.NewServer(f)
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	bob := storage.User{ID: 2, Username: "bob"}
	guard := &fakeGuard{
		users: map[string]storage.User{"bob": bob, "root": {ID: 1, Username: "root", IsAdmin: true}},
		grants: map[string]map[permission.Resource]permission.Level{"bob": {
			experiment("1"): permission.Manage,
			experiment("3"): permission.Read,
			{Type: permission.RegisteredModel, ID: "mine"}: permission.Manage,
			permission.ScorerResource("1", "mine"):         permission.Manage,
			permission.ScorerResource("3", "read"):         permission.Read,
		}},
		def: permission.NoPermissions,
	}
	return New(u, guard, noGrants{}), f
}

// newTestProxy is newFakeMLflowProxy with the function that returns the forwarded requests.
func newTestProxy(t *testing.T) (*Proxy, func() []forwarded) {
	p, f := newFakeMLflowProxy(t)
	return p, f.forwarded
}

// Every request is decided on what MLflow will act on: the JSON body of a non-GET
// whatever its Content-Type and field spelling, the query of a GET, the experiment
// id and artifact path as MLflow reads them.
func TestDecisionsFollowWhatMLflowReads(t *testing.T) {
	p, forwardedRequests := newTestProxy(t)
	const mv = "/api/2.0/mlflow/model-versions/create"
	for _, c := range []struct {
		name, method, target, contentType, body string
		status                                  int
	}{
		{"own run", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id": "mine"}`, 200},
		{"runId is run_id", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_uuid": "mine", "runId": "victim"}`, 403},
		{"runId alone", "POST", "/api/2.0/mlflow/runs/set-tag", "application/json", `{"runId": "victim"}`, 403},
		{"both spellings", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id": "mine", "runId": "victim"}`, 400},
		// Metrics, inputs and outputs of a run go to the logged models named too.
		{"metric of own model", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id": "mine", "model_id": "m-mine"}`, 200},
		{"metric of another's model", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id": "mine", "modelId": "m-victim"}`, 403},
		{"batch with another's model", "POST", "/api/2.0/mlflow/runs/log-batch", "application/json", `{"run_id": "mine", "metrics": [{"key": "k", "model_id": "m-mine"}, {"key": "k", "modelId": "m-victim"}]}`, 403},
		{"batch of own models", "POST", "/api/2.0/mlflow/runs/log-batch", "application/json", `{"run_id": "mine", "metrics": [{"key": "k", "model_id": "m-mine"}, {"key": "k", "model_id": ""}, {"key": "k"}]}`, 200},
		{"batch, both spellings", "POST", "/api/2.0/mlflow/runs/log-batch", "application/json", `{"run_id": "mine", "metrics": [{"key": "k", "model_id": "m-mine", "modelId": "m-victim"}]}`, 400},
		{"batch, a number for a model", "POST", "/api/2.0/mlflow/runs/log-batch", "application/json", `{"run_id": "mine", "metrics": [{"key": "k", "model_id": 7}]}`, 400},
		{"input of another's model", "POST", "/api/2.0/mlflow/runs/log-inputs", "application/json", `{"run_id": "mine", "models": [{"model_id": "m-victim"}]}`, 403},
		{"output of a readable model", "POST", "/api/2.0/mlflow/runs/outputs", "application/json", `{"run_id": "mine", "models": [{"model_id": "m-read", "step": 1}]}`, 403},
		{"output of own model", "POST", "/api/2.0/mlflow/runs/outputs", "application/json", `{"run_id": "mine", "models": [{"model_id": "m-mine", "step": 1}]}`, 200},
		{"query of a POST", "POST", "/api/2.0/mlflow/runs/log-metric?run_id=mine", "application/json", `{"run_uuid": "victim"}`, 403},
		{"query of a POST only", "POST", "/api/2.0/mlflow/runs/log-metric?run_id=mine", "application/json", ``, 400},
		{"text/plain PATCH", "PATCH", "/api/2.0/mlflow/registered-models/update?name=mine", "text/plain", `{"name": "theirs"}`, 403},
		{"no Content-Type DELETE", "DELETE", "/api/2.0/mlflow/registered-models/delete?name=mine", "", `{"name": "theirs"}`, 403},
		{"own model", "DELETE", "/api/2.0/mlflow/registered-models/delete", "", `{"name": "mine"}`, 200},
		{"not JSON", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `run_id=mine`, 400},
		{"two objects", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id": "mine"} {"run_id": "victim"}`, 400},
		{"not an object", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `["mine"]`, 400},
		{"canonical id", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", "", ``, 200},
		{"leading zero", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=02", "", ``, 400},
		{"plus sign", "POST", "/api/2.0/mlflow/runs/create", "application/json", `{"experiment_id": "+2"}`, 400},
		{"number", "POST", "/api/2.0/mlflow/runs/create", "application/json", `{"experiment_id": 1}`, 200},
		{"artifact", "GET", "/api/2.0/mlflow-artifacts/artifacts/1/mine/artifacts/f", "", ``, 200},
		{"artifact, encoded three times", "GET", "/api/2.0/mlflow-artifacts/artifacts/%252532/victim/artifacts/f", "", ``, 403},
		{"artifact under ./", "PUT", "/api/2.0/mlflow-artifacts/artifacts/%252E/2/victim/artifacts/f", "", `x`, 403},
		{"experiment root listed", "GET", "/api/2.0/mlflow-artifacts/artifacts?path=2", "", ``, 403},
		{"presigned", "GET", "/api/2.0/mlflow-artifacts/presigned/2/victim/artifacts/f", "", ``, 403},
		// A new version of bob's model may only copy what bob may read.
		{"version of own run", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts:/1/mine/artifacts/m", "run_id": "mine"}`, 200},
		{"version of another's run", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts:/2/victim/artifacts/m", "run_id": "victim"}`, 403},
		{"another's artifacts, own run", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts:/2/victim/artifacts/m", "run_id": "mine"}`, 403},
		{"another's artifacts, with a host", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts://h:5000/2/victim/artifacts/m", "runId": "mine"}`, 403},
		{"another's artifacts, encoded", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts:/%2532/victim/artifacts/m", "run_id": "mine"}`, 403},
		{"runs: URI", "POST", mv, "application/json", `{"name": "mine", "source": "runs:/victim/m", "run_id": "mine"}`, 403},
		{"another's model version", "POST", mv, "application/json", `{"name": "mine", "source": "models:/theirs/1"}`, 403},
		{"another's model alias", "POST", mv, "application/json", `{"name": "mine", "source": " MODELS:/theirs@champion"}`, 403},
		{"a tab in the scheme", "POST", mv, "application/json", `{"name": "mine", "source": "mod\tels:/theirs/1"}`, 403},
		{"own model version", "POST", mv, "application/json", `{"name": "mine", "source": "models:/mine/1", "run_id": "victim"}`, 200},
		{"another's logged model", "POST", mv, "application/json", `{"name": "mine", "source": "models:/m-victim"}`, 403},
		{"own logged model", "POST", mv, "application/json", `{"name": "mine", "source": "models:/m-mine", "model_id": "m-mine"}`, 200},
		{"another's model_id", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts:/1/models/m-mine/artifacts", "model_id": "m-victim"}`, 403},
		{"a local path", "POST", mv, "application/json", `{"name": "mine", "source": "/srv/mlflow/artifacts/2/victim/artifacts/m", "run_id": "mine"}`, 403},
		{"file: URI", "POST", mv, "application/json", `{"name": "mine", "source": "file:///srv/mlflow/artifacts/2/victim/artifacts/m", "run_id": "mine"}`, 403},
		{"s3: URI", "POST", mv, "application/json", `{"name": "mine", "source": "s3://bucket/2/victim/artifacts/m", "run_id": "mine"}`, 403},
		{"no scheme", "POST", mv, "application/json", `{"name": "mine", "source": ":/2/victim/artifacts/m", "run_id": "mine"}`, 403},
		{"no source", "POST", mv, "application/json", `{"name": "mine", "run_id": "mine"}`, 400},
		{"empty run_id", "POST", mv, "application/json", `{"name": "mine", "source": "mlflow-artifacts:/1/mine/artifacts/m", "run_id": ""}`, 403},
	} {
		req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
		req.Header.Set("Authorization", "bob")
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: %s %s %s: %d %s, want %d", c.name, c.method, c.target, c.body, rec.Code, rec.Body, c.status)
		}
		if sent := forwardedRequests(); (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s: forwarded %v", c.name, sent)
		}
	}
}

// A non-admin's new experiment keeps its artifacts where the server puts them: one
// created on another experiment's artifact location would serve that experiment's
// artifacts to its creator. Admins may choose the location.
func TestExperimentArtifactLocation(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	f.set(func() {
		f.answers = map[string]string{"POST /api/2.0/mlflow/experiments/create": `{"experiment_id": "9"}`}
	})
	const create = "/api/2.0/mlflow/experiments/create"
	for _, c := range []struct {
		user, body string
		status     int
	}{
		{"bob", `{"name": "x"}`, 200},
		{"bob", `{"name": "x", "artifact_location": ""}`, 200},
		{"bob", `{"name": "x", "artifact_location": "mlflow-artifacts:/2"}`, 403},
		{"bob", `{"name": "x", "artifactLocation": "/srv/mlflow/artifacts/2"}`, 403},
		{"root", `{"name": "x", "artifact_location": "s3://bucket/x"}`, 200},
	} {
		rec := serve(p, c.user, request{method: "POST", target: create, body: c.body})
		if sent := f.forwarded(); rec.Code != c.status || (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s %s: %d %s, forwarded %v", c.user, c.body, rec.Code, rec.Body, sent)
		}
	}
}

func TestRequestsAsForwarded(t *testing.T) {
	p, forwardedRequests := newTestProxy(t)
	do := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "bob")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec
	}

	// A GET goes without its body: MLflow would read a GET's parameters from it.
	if rec := do("GET", "/api/2.0/mlflow/runs/get?run_id=mine", `{"run_id": "victim"}`); rec.Code != 200 {
		t.Fatalf("GET with a body: %d %s", rec.Code, rec.Body)
	}
	if sent := forwardedRequests(); len(sent) != 1 || sent[0].body != "" || sent[0].query != "run_id=mine" {
		t.Errorf("GET forwarded as %+v", sent)
	}

	// A run search is narrowed to the readable experiments, in snake_case only.
	if rec := do("POST", "/api/2.0/mlflow/runs/search", `{"experimentIds": ["1", "2"], "max_results": 5}`); rec.Code != 200 {
		t.Fatalf("runs/search: %d %s", rec.Code, rec.Body)
	}
	sent := forwardedRequests()
	var body map[string]any
	if len(sent) != 1 || json.Unmarshal([]byte(sent[0].body), &body) != nil {
		t.Fatalf("runs/search forwarded as %+v", sent)
	}
	if ids, _ := json.Marshal(body["experiment_ids"]); string(ids) != `["1"]` || body["experimentIds"] != nil || len(body) != 2 {
		t.Errorf("runs/search forwarded with %s", sent[0].body)
	}

	// Nothing readable, or no body at all: answered here, empty.
	for _, c := range [][2]string{
		{"/api/2.0/mlflow/runs/search?experiment_ids=1", ``},
		{"/api/2.0/mlflow/runs/search", `{"experiment_ids": ["2"]}`},
		{"/api/2.0/mlflow/logged-models/search", `{"experiment_ids": ["2"]}`},
	} {
		if rec := do("POST", c[0], c[1]); rec.Code != 200 || rec.Body.String() != "{}" {
			t.Errorf("%s %s: %d %s", c[0], c[1], rec.Code, rec.Body)
		}
		if sent := forwardedRequests(); len(sent) != 0 {
			t.Errorf("%s %s was forwarded: %+v", c[0], c[1], sent)
		}
	}
	if rec := do("POST", "/api/2.0/mlflow/logged-models/search", `{"experiment_ids": ["2", "1"]}`); rec.Code != 200 {
		t.Fatalf("logged-models/search: %d %s", rec.Code, rec.Body)
	}
	if sent := forwardedRequests(); len(sent) != 1 || !strings.Contains(sent[0].body, `"experiment_ids":["1"]`) {
		t.Errorf("logged-models/search forwarded as %+v", sent)
	}
}

func TestFieldNames(t *testing.T) {
	for in, want := range map[string]string{"runId": "run_id", "experimentIds": "experiment_ids", "run_id": "run_id", "name": "name"} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
		if got := lowerCamelCase(want); in != want && got != in {
			t.Errorf("lowerCamelCase(%q) = %q, want %q", want, got, in)
		}
	}
	// Only a field's exact JSON name is renamed: RunId is no spelling of run_id.
	c := &call{body: map[string]any{"RunId": "x", "newName": "y"}}
	if err := c.normalizeFieldNames(); err != nil || c.body["run_id"] != nil || c.body["new_name"] != "y" || len(c.body) != 2 {
		t.Errorf("normalized to %v, %v", c.body, err)
	}
}

// A client that hangs up as soon as MLflow has made its change still has the
// grants follow the change, in the real store: its creator gets MANAGE, a
// rename moves the model's grants and a delete removes them.
func TestHooksOutliveTheClient(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	db := storagetest.NewSQLite(t)
	ctx := context.Background()
	bob, err := db.CreateUser(ctx, "bob", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	guard := p.guard.(*fakeGuard)
	guard.users["bob"] = bob
	mine := permission.Resource{Type: permission.RegisteredModel, ID: "mine"}
	renamed := permission.Resource{Type: permission.RegisteredModel, ID: "renamed"}
	guard.grants["bob"][renamed] = permission.Manage // the fake guard decides; the hooks write the store
	if _, err := db.CreateGrant(ctx, bob.ID, mine, permission.Manage); err != nil {
		t.Fatal(err)
	}
	// Carol's grant on a purged experiment 9 must not pass to the new one.
	carol, err := db.CreateUser(ctx, "carol", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGrant(ctx, carol.ID, experiment("9"), permission.Manage); err != nil {
		t.Fatal(err)
	}
	p.grants = db
	f.set(func() {
		f.answers = map[string]string{"POST /api/2.0/mlflow/experiments/create": `{"experiment_id": "9"}`}
	})
	hasGrant := func(r permission.Resource) bool {
		_, err := db.Grant(ctx, bob.ID, r)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	for _, c := range []struct {
		method, target, body string
		has, hasNot          []permission.Resource
	}{
		{"POST", "/api/2.0/mlflow/experiments/create", `{"name": "x"}`, []permission.Resource{experiment("9")}, nil},
		{"POST", "/api/2.0/mlflow/registered-models/rename", `{"name": "mine", "new_name": "renamed"}`, []permission.Resource{renamed}, []permission.Resource{mine}},
		{"DELETE", "/api/2.0/mlflow/registered-models/delete", `{"name": "renamed"}`, nil, []permission.Resource{renamed}},
	} {
		client, hangUp := context.WithCancel(ctx)
		f.set(func() { f.onAnswer = hangUp })
		req := httptest.NewRequestWithContext(client, c.method, c.target, strings.NewReader(c.body))
		req.Header.Set("Authorization", "bob")
		p.ServeHTTP(httptest.NewRecorder(), req)
		if len(f.forwarded()) != 1 {
			t.Fatalf("%s %s was not forwarded", c.method, c.target)
		}
		for _, r := range c.has {
			if !hasGrant(r) {
				t.Errorf("%s %s: no grant on %s", c.method, c.target, r)
			}
		}
		for _, r := range c.hasNot {
			if hasGrant(r) {
				t.Errorf("%s %s: a grant on %s is left", c.method, c.target, r)
			}
		}
	}

	if on9, err := db.GrantsOnResource(ctx, experiment("9"), 0, 0); err != nil || len(on9) != 1 || on9[0].UserID != bob.ID {
		t.Errorf("grants on the new experiment 9: %v %v", on9, err)
	}

	// When the store fails, the caller hears it and the log says what was left undone.
	var log bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	db.Close()
	f.set(func() { f.onAnswer = nil })
	rec := serve(p, "bob", request{method: "DELETE", target: "/api/2.0/mlflow/registered-models/delete", body: `{"name": "renamed"}`})
	if rec.Code != 500 || len(f.forwarded()) != 1 || !strings.Contains(log.String(), "level=ERROR") ||
		!strings.Contains(log.String(), "grants on the deleted registered_model:renamed were left in place") {
		t.Errorf("a failed delete: %d %s, logged %s", rec.Code, rec.Body, log.String())
	}
	// A rename reads the grants it will move before it is forwarded: without them it is not.
	rec = serve(p, "bob", request{method: "POST", target: "/api/2.0/mlflow/registered-models/rename", body: `{"name": "renamed", "new_name": "again"}`})
	if rec.Code != 503 || len(f.forwarded()) != 0 {
		t.Errorf("a rename without its grants: %d %s", rec.Code, rec.Body)
	}
}

// countingReader is a request body that counts what the proxy reads of it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A body is read up to its route's bound and no further, before it is decoded:
// past it a caller without grants gets 413, unforwarded, and a body that says it
// is longer is not read at all. Bulk logging may send more; dataset records,
// decided on their path, stream whatever their size.
func TestBodiesBounded(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	padded := func(fields string, size int) string {
		return `{` + fields + `, "pad": "` + strings.Repeat("x", size) + `"}`
	}
	for _, c := range []struct {
		name, method, target, body string
		contentLength              int64 // -1: unknown
		status                     int
		maxRead                    int64
	}{
		{"a call over 4 MiB", "POST", "/api/2.0/mlflow/runs/create", padded(`"experiment_id": "2"`, 5<<20), -1, 413, maxAPIBody + 1},
		{"60 MiB announced", "POST", "/api/2.0/mlflow/runs/create", padded(`"experiment_id": "2"`, 60<<20), 60<<20 + 40, 413, 0},
		{"GraphQL over 4 MiB", "POST", "/graphql", padded(`"query": "{}"`, 5<<20), -1, 413, maxAPIBody + 1},
		{"a batch of 5 MiB", "POST", "/api/2.0/mlflow/runs/log-batch", padded(`"run_id": "mine"`, 5<<20), -1, 200, -1},
		{"a batch over 32 MiB", "POST", "/api/2.0/mlflow/runs/log-batch", padded(`"run_id": "victim"`, 33<<20), -1, 413, maxBulkBody + 1},
		{"records of 33 MiB", "POST", "/api/3.0/mlflow/datasets/d-mine/records", padded(`"records": "[]"`, 33<<20), -1, 200, -1},
		{"records of another's dataset", "POST", "/api/3.0/mlflow/datasets/d-shared/records", padded(`"records": "[]"`, 33<<20), -1, 403, 0},
	} {
		body := &countingReader{r: strings.NewReader(c.body)}
		req := httptest.NewRequest(c.method, c.target, body)
		req.ContentLength = c.contentLength
		req.Header.Set("Authorization", "bob")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		sent := f.forwarded()
		if rec.Code != c.status || (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s: %d %s, forwarded %d", c.name, rec.Code, rec.Body, len(sent))
		}
		if c.status == 413 && !strings.Contains(rec.Body.String(), "BAD_REQUEST") {
			t.Errorf("%s: %s", c.name, rec.Body)
		}
		if c.maxRead >= 0 && body.n > c.maxRead {
			t.Errorf("%s: read %d bytes, want at most %d", c.name, body.n, c.maxRead)
		}
		if len(sent) == 1 && len(sent[0].body) != len(c.body) {
			t.Errorf("%s: forwarded %d bytes of %d", c.name, len(sent[0].body), len(c.body))
		}
	}
}

// A model re-created under its old name while MLflow renames it keeps its
// creator's MANAGE: the rename moves the grants the model had before it was
// forwarded, not one made on the old name in between.
func TestRenameMovesTheGrantsOfBefore(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	db := storagetest.NewSQLite(t)
	ctx := context.Background()
	bob, err := db.CreateUser(ctx, "bob", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := db.CreateUser(ctx, "carol", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	p.guard.(*fakeGuard).users["bob"] = bob
	p.grants = db
	mine := permission.Resource{Type: permission.RegisteredModel, ID: "mine"}
	renamed := permission.Resource{Type: permission.RegisteredModel, ID: "renamed"}
	if _, err := db.CreateGrant(ctx, bob.ID, mine, permission.Manage); err != nil {
		t.Fatal(err)
	}
	// As MLflow answers the rename, carol creates a new "mine" and is made its manager.
	f.set(func() {
		f.onAnswer = func() {
			if _, err := db.CreateGrant(ctx, carol.ID, mine, permission.Manage); err != nil {
				t.Error(err)
			}
		}
	})
	rec := serve(p, "bob", request{method: "POST", target: "/api/2.0/mlflow/registered-models/rename", body: `{"name": "mine", "new_name": "renamed"}`})
	if rec.Code != 200 || len(f.forwarded()) != 1 {
		t.Fatalf("rename: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct {
		user storage.User
		r    permission.Resource
		want bool
	}{{bob, renamed, true}, {bob, mine, false}, {carol, mine, true}, {carol, renamed, false}} {
		_, err := db.Grant(ctx, c.user.ID, c.r)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		if (err == nil) != c.want {
			t.Errorf("%s holds a grant on %s: %v, want %v", c.user.Username, c.r, err == nil, c.want)
		}
	}
}

// Under a default of READ, what an explicit grant closes stays closed: a scorer
// takes its experiment's grant too, and artifacts that lie in no experiment's
// directory (the root, an experiment whose artifact_location is not its id) are
// for admins, not the default.
func TestDefaultReadStopsAtGrants(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	guard := p.guard.(*fakeGuard)
	guard.def = permission.Read
	guard.grants["bob"][experiment("2")] = permission.NoPermissions
	for _, c := range []struct {
		user string
		request
		status int
	}{
		{"bob", request{method: "GET", target: "/api/3.0/mlflow/scorers/get?experiment_id=2&name=theirs"}, 403},
		{"bob", request{method: "GET", target: "/api/3.0/mlflow/scorers/versions?experiment_id=2&name=theirs"}, 403},
		{"bob", request{method: "GET", target: "/api/3.0/mlflow/scorers/get?experiment_id=4&name=open"}, 200},
		{"bob", request{method: "GET", target: "/api/3.0/mlflow/scorers/get?experiment_id=1&name=mine"}, 200},
		{"bob", request{method: "GET", target: "/api/2.0/mlflow-artifacts/artifacts/team-x/r1/artifacts/f"}, 403},
		{"bob", request{method: "GET", target: "/api/2.0/mlflow-artifacts/artifacts?path=team-x/r1/artifacts"}, 403},
		{"bob", request{method: "GET", target: "/api/2.0/mlflow-artifacts/artifacts"}, 403},
		{"bob", request{method: "GET", target: "/api/2.0/mlflow-artifacts/artifacts/4/r/artifacts/f"}, 200},
		{"bob", request{method: "POST", target: "/api/2.0/mlflow/model-versions/create", body: `{"name": "mine", "source": "mlflow-artifacts:/team-x/r1/artifacts/m"}`}, 403},
		// MLflow reads the logged model m-victim here, not a registered model "m-victim?x=".
		{"bob", request{method: "POST", target: "/api/2.0/mlflow/model-versions/create", body: `{"name": "mine", "source": "models:/m-victim?x=/1"}`}, 403},
		{"bob", request{method: "POST", target: "/api/2.0/mlflow/model-versions/create", body: `{"name": "mine", "source": "models:/m-mine?x=/1"}`}, 200},
		{"root", request{method: "GET", target: "/api/2.0/mlflow-artifacts/artifacts/team-x/r1/artifacts/f"}, 200},
	} {
		rec := serve(p, c.user, c.request)
		if sent := f.forwarded(); rec.Code != c.status || (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s %s %s %s: %d %s, forwarded %v", c.user, c.method, c.target, c.body, rec.Code, rec.Body, sent)
		}
	}
}

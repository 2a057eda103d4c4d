package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

type request struct {
	name, method, target, body string
	header                     http.Header
}

func serve(p *Proxy, user string, r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
	req.Header.Set("Authorization", user)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	return rec
}

// The MLflow 3 rows: traces and assessments, scorers, datasets and
// prompt-optimization jobs take the permission of the experiment they are in,
// looked up upstream, or the scorer's own.
func TestMLflow3Routes(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	f.set(func() {
		f.answers = map[string]string{"POST /api/3.0/mlflow/scorers/register": `{"experiment_id": "1", "name": "new", "version": 1}`}
	})
	startV3 := func(traceID, exp string) string {
		return `{"trace": {"trace_info": {"trace_id": "` + traceID + `", "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "` + exp + `"}}}}}`
	}
	for _, c := range []struct {
		request
		status int
	}{
		// Starting traces: EDIT on the experiment named, and nobody else's trace id.
		{request{name: "start v3", method: "POST", target: "/api/3.0/mlflow/traces", body: startV3("tr-new", "1")}, 200},
		{request{name: "start v3, own trace again", method: "POST", target: "/api/3.0/mlflow/traces", body: startV3("tr-mine", "1")}, 200},
		{request{name: "start v3, readable experiment", method: "POST", target: "/api/3.0/mlflow/traces", body: startV3("tr-new", "3")}, 403},
		{request{name: "start v3, victim's trace moved in", method: "POST", target: "/api/3.0/mlflow/traces", body: startV3("tr-victim", "1")}, 403},
		{request{name: "start v3, camelCase", method: "POST", target: "/api/3.0/mlflow/traces",
			body: `{"trace": {"traceInfo": {"traceLocation": {"mlflowExperiment": {"experimentId": "2"}}}}}`}, 403},
		{request{name: "start v3, both spellings", method: "POST", target: "/api/3.0/mlflow/traces",
			body: `{"trace": {"trace_info": {"trace_location": {"mlflow_experiment": {"experiment_id": "1"}}}, "traceInfo": {"traceLocation": {"mlflowExperiment": {"experimentId": "2"}}}}}`}, 400},
		{request{name: "start v3, no experiment", method: "POST", target: "/api/3.0/mlflow/traces", body: `{"trace": {"trace_info": {"trace_id": "tr-new"}}}`}, 403},
		{request{name: "start v3, immutable tag", method: "POST", target: "/api/3.0/mlflow/traces",
			body: `{"trace": {"trace_info": {"trace_location": {"mlflow_experiment": {"experiment_id": "1"}}, "tags": {"mlflow.artifactLocation": "mlflow-artifacts:/2/traces/tr-victim/artifacts"}}}}`}, 400},
		{request{name: "start v2", method: "POST", target: "/api/2.0/mlflow/traces", body: `{"experiment_id": "1", "tags": [{"key": "team", "value": "a"}]}`}, 200},
		{request{name: "start v2, other experiment", method: "POST", target: "/api/2.0/mlflow/traces", body: `{"experiment_id": "2"}`}, 403},
		{request{name: "start v2, immutable tag", method: "POST", target: "/api/2.0/mlflow/traces", body: `{"experiment_id": "1", "tags": [{"key": "mlflow.artifactLocation", "value": "x"}]}`}, 400},
		{request{name: "end v2", method: "PATCH", target: "/api/2.0/mlflow/traces/tr-mine", body: `{"status": "OK"}`}, 200},
		{request{name: "end v2, readable", method: "PATCH", target: "/api/2.0/mlflow/traces/tr-read", body: `{"status": "OK"}`}, 403},
		{request{name: "end v2, immutable tag", method: "PATCH", target: "/api/2.0/mlflow/traces/tr-mine", body: `{"tags": [{"key": "mlflow.user", "value": "x"}]}`}, 400},

		// Reading traces: READ on each trace's experiment.
		{request{name: "info v3", method: "GET", target: "/api/3.0/mlflow/traces/tr-read"}, 200},
		{request{name: "info v3, victim", method: "GET", target: "/api/3.0/mlflow/traces/tr-victim"}, 403},
		{request{name: "info v3, unknown", method: "GET", target: "/api/3.0/mlflow/traces/tr-nope"}, 404},
		{request{name: "info v2", method: "GET", target: "/ajax-api/2.0/mlflow/traces/tr-read/info"}, 200},
		{request{name: "info v2, victim", method: "GET", target: "/api/2.0/mlflow/traces/tr-victim/info"}, 403},
		{request{name: "get", method: "GET", target: "/api/3.0/mlflow/traces/get?trace_id=tr-read"}, 200},
		{request{name: "get, victim", method: "GET", target: "/api/3.0/mlflow/traces/get?trace_id=tr-victim"}, 403},
		{request{name: "get, none", method: "GET", target: "/api/3.0/mlflow/traces/get"}, 400},
		{request{name: "batch", method: "GET", target: "/api/3.0/mlflow/traces/batchGet?trace_ids=tr-mine&trace_ids=tr-read"}, 200},
		{request{name: "batch, with victim", method: "GET", target: "/api/3.0/mlflow/traces/batchGet?trace_ids=tr-mine&trace_ids=tr-victim"}, 403},
		{request{name: "batch, empty", method: "GET", target: "/api/3.0/mlflow/traces/batchGet"}, 403},
		{request{name: "batch infos", method: "POST", target: "/api/3.0/mlflow/traces/batchGetInfos", body: `{"trace_ids": ["tr-read"]}`}, 200},
		{request{name: "batch infos, camelCase", method: "POST", target: "/api/3.0/mlflow/traces/batchGetInfos", body: `{"traceIds": ["tr-victim"]}`}, 403},
		{request{name: "trace artifact v3", method: "GET", target: "/ajax-api/3.0/mlflow/get-trace-artifact?request_id=tr-read"}, 200},
		{request{name: "trace artifact v2", method: "GET", target: "/ajax-api/2.0/mlflow/get-trace-artifact?request_id=tr-victim"}, 403},
		{request{name: "trace artifact, no id", method: "GET", target: "/ajax-api/3.0/mlflow/get-trace-artifact"}, 400},

		// Searching: READ on every experiment named, and one at least.
		{request{name: "search v2", method: "GET", target: "/api/2.0/mlflow/traces?experiment_ids=1&experiment_ids=3"}, 200},
		{request{name: "search v2, victim", method: "GET", target: "/api/2.0/mlflow/traces?experiment_ids=1&experiment_ids=2"}, 403},
		{request{name: "search v2, unscoped", method: "GET", target: "/api/2.0/mlflow/traces"}, 403},
		{request{name: "search v3", method: "POST", target: "/api/3.0/mlflow/traces/search", body: `{"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "3"}}]}`}, 200},
		{request{name: "search v3, camelCase victim", method: "POST", target: "/api/3.0/mlflow/traces/search", body: `{"locations": [{"mlflow_experiment": {"experiment_id": "1"}}, {"mlflowExperiment": {"experimentId": "2"}}]}`}, 403},
		{request{name: "search v3, unscoped", method: "POST", target: "/api/3.0/mlflow/traces/search", body: `{"locations": []}`}, 403},
		{request{name: "search v3, a table", method: "POST", target: "/api/3.0/mlflow/traces/search", body: `{"locations": [{"mlflow_experiment": {"experiment_id": "1"}}, {"type": "INFERENCE_TABLE", "inference_table": {"full_table_name": "t"}}]}`}, 403},
		{request{name: "search v3, leading zero", method: "POST", target: "/api/3.0/mlflow/traces/search", body: `{"locations": [{"mlflow_experiment": {"experiment_id": "03"}}]}`}, 400},
		{request{name: "filter correlation", method: "POST", target: "/api/3.0/mlflow/traces/calculate-filter-correlation", body: `{"experiment_ids": ["3"]}`}, 200},
		{request{name: "filter correlation, unscoped", method: "POST", target: "/api/3.0/mlflow/traces/calculate-filter-correlation", body: `{}`}, 403},
		{request{name: "metrics, victim", method: "POST", target: "/api/3.0/mlflow/traces/metrics", body: `{"experiment_ids": ["2"]}`}, 403},

		// Changing traces: EDIT; deleting them: MANAGE.
		{request{name: "tag v3", method: "PATCH", target: "/api/3.0/mlflow/traces/tr-mine/tags", body: `{"key": "k", "value": "v"}`}, 200},
		{request{name: "tag v3, readable", method: "PATCH", target: "/api/3.0/mlflow/traces/tr-read/tags", body: `{"key": "k", "value": "v"}`}, 403},
		{request{name: "tag v3, artifact location", method: "PATCH", target: "/api/3.0/mlflow/traces/tr-mine/tags", body: `{"key": "mlflow.artifactLocation", "value": "mlflow-artifacts:/2/traces/tr-victim/artifacts"}`}, 400},
		{request{name: "tag v2", method: "PATCH", target: "/api/2.0/mlflow/traces/tr-mine/tags", body: `{"key": "k", "value": "v"}`}, 200},
		{request{name: "tag v2, artifact location", method: "PATCH", target: "/api/2.0/mlflow/traces/tr-mine/tags", body: `{"key": "mlflow.artifactLocation", "value": "x"}`}, 400},
		{request{name: "untag v2", method: "DELETE", target: "/api/2.0/mlflow/traces/tr-mine/tags", body: `{"key": "k"}`}, 200},
		{request{name: "untag v3, readable", method: "DELETE", target: "/api/3.0/mlflow/traces/tr-read/tags", body: `{"key": "k"}`}, 403},
		{request{name: "delete traces v2", method: "POST", target: "/api/2.0/mlflow/traces/delete-traces", body: `{"experiment_id": "1", "request_ids": ["tr-mine"]}`}, 200},
		{request{name: "delete traces v3, readable", method: "POST", target: "/api/3.0/mlflow/traces/delete-traces", body: `{"experiment_id": "3", "max_timestamp_millis": 1}`}, 403},
		{request{name: "link to run", method: "POST", target: "/api/2.0/mlflow/traces/link-to-run", body: `{"run_id": "mine", "trace_ids": ["tr-read"]}`}, 200},
		{request{name: "link victim's trace", method: "POST", target: "/api/2.0/mlflow/traces/link-to-run", body: `{"run_id": "mine", "trace_ids": ["tr-victim"]}`}, 403},
		{request{name: "link to victim's run", method: "POST", target: "/api/2.0/mlflow/traces/link-to-run", body: `{"run_id": "victim", "trace_ids": ["tr-mine"]}`}, 403},
		{request{name: "link nothing", method: "POST", target: "/api/2.0/mlflow/traces/link-to-run", body: `{"run_id": "mine", "trace_ids": []}`}, 403},
		{request{name: "link prompts", method: "POST", target: "/api/2.0/mlflow/traces/link-prompts", body: `{"trace_id": "tr-mine", "prompt_versions": []}`}, 200},
		{request{name: "link prompts, readable", method: "POST", target: "/api/2.0/mlflow/traces/link-prompts", body: `{"trace_id": "tr-read", "prompt_versions": []}`}, 403},
		{request{name: "unknown sub-path", method: "GET", target: "/api/3.0/mlflow/traces/tr-mine/spans"}, 403},
		{request{name: "unknown method", method: "POST", target: "/api/3.0/mlflow/traces/tr-mine", body: `{}`}, 403},

		// Assessments: READ to get one, EDIT for the rest.
		{request{name: "assess", method: "POST", target: "/api/3.0/mlflow/traces/tr-mine/assessments", body: `{"assessment": {}}`}, 200},
		{request{name: "assess, readable", method: "POST", target: "/api/3.0/mlflow/traces/tr-read/assessments", body: `{"assessment": {}}`}, 403},
		{request{name: "get assessment", method: "GET", target: "/api/3.0/mlflow/traces/tr-read/assessments/a-1"}, 200},
		{request{name: "get assessment, victim", method: "GET", target: "/api/3.0/mlflow/traces/tr-victim/assessments/a-1"}, 403},
		{request{name: "update assessment, readable", method: "PATCH", target: "/api/3.0/mlflow/traces/tr-read/assessments/a-1", body: `{}`}, 403},
		{request{name: "delete assessment", method: "DELETE", target: "/api/3.0/mlflow/traces/tr-mine/assessments/a-1", body: `{}`}, 200},
		{request{name: "delete assessment, readable", method: "DELETE", target: "/api/3.0/mlflow/traces/tr-read/assessments/a-1", body: `{}`}, 403},

		// Scorers: their own grants; registering needs EDIT on the experiment.
		{request{name: "register", method: "POST", target: "/api/3.0/mlflow/scorers/register", body: `{"experiment_id": "1", "name": "new", "serialized_scorer": "{}"}`}, 200},
		{request{name: "register, readable", method: "POST", target: "/api/3.0/mlflow/scorers/register", body: `{"experiment_id": "3", "name": "new", "serialized_scorer": "{}"}`}, 403},
		{request{name: "list", method: "GET", target: "/api/3.0/mlflow/scorers/list?experiment_id=3"}, 200},
		{request{name: "list, victim", method: "GET", target: "/api/3.0/mlflow/scorers/list?experiment_id=2"}, 403},
		{request{name: "list, plural", method: "GET", target: "/api/3.0/mlflow/scorers/list?experiment_ids=3&experiment_ids=2"}, 403},
		{request{name: "list, unscoped", method: "GET", target: "/api/3.0/mlflow/scorers/list"}, 403},
		{request{name: "get scorer", method: "GET", target: "/api/3.0/mlflow/scorers/get?experiment_id=3&name=read"}, 200},
		{request{name: "get scorer, no grant", method: "GET", target: "/api/3.0/mlflow/scorers/get?experiment_id=1&name=other"}, 403},
		{request{name: "get scorer, leading zero", method: "GET", target: "/api/3.0/mlflow/scorers/get?experiment_id=01&name=mine"}, 400},
		{request{name: "versions", method: "GET", target: "/api/3.0/mlflow/scorers/versions?experiment_id=1&name=mine"}, 200},
		{request{name: "delete scorer, readable", method: "DELETE", target: "/api/3.0/mlflow/scorers/delete", body: `{"experiment_id": "3", "name": "read"}`}, 403},
		{request{name: "delete scorer version", method: "DELETE", target: "/api/3.0/mlflow/scorers/delete", body: `{"experiment_id": "1", "name": "mine", "version": 1}`}, 200},

		// Evaluation datasets: every experiment the dataset is in.
		{request{name: "dataset", method: "GET", target: "/api/3.0/mlflow/datasets/d-read"}, 200},
		{request{name: "dataset, shared with victim", method: "GET", target: "/api/3.0/mlflow/datasets/d-shared"}, 403},
		{request{name: "dataset, in no experiment", method: "GET", target: "/api/3.0/mlflow/datasets/d-orphan"}, 403},
		{request{name: "dataset records", method: "GET", target: "/ajax-api/3.0/mlflow/datasets/d-read/records"}, 200},
		{request{name: "upsert records, readable", method: "POST", target: "/api/3.0/mlflow/datasets/d-read/records", body: `{"records": "[]"}`}, 403},
		{request{name: "delete records", method: "DELETE", target: "/api/3.0/mlflow/datasets/d-mine/records", body: `{"dataset_record_ids": []}`}, 200},
		{request{name: "dataset tags, readable", method: "PATCH", target: "/api/3.0/mlflow/datasets/d-read/tags", body: `{"tags": "{}"}`}, 403},
		{request{name: "dataset tag delete", method: "DELETE", target: "/api/3.0/mlflow/datasets/d-mine/tags/k", body: `{}`}, 200},
		{request{name: "delete dataset", method: "DELETE", target: "/api/3.0/mlflow/datasets/d-mine", body: `{}`}, 200},
		{request{name: "delete dataset, readable", method: "DELETE", target: "/api/3.0/mlflow/datasets/d-read", body: `{}`}, 403},
		{request{name: "dataset experiments", method: "GET", target: "/api/3.0/mlflow/datasets/d-read/experiment-ids"}, 200},
		{request{name: "create dataset", method: "POST", target: "/api/3.0/mlflow/datasets/create", body: `{"name": "d", "experiment_ids": ["1"]}`}, 200},
		{request{name: "create dataset, readable too", method: "POST", target: "/api/3.0/mlflow/datasets/create", body: `{"name": "d", "experiment_ids": ["1", "3"]}`}, 403},
		{request{name: "search datasets", method: "GET", target: "/api/3.0/mlflow/datasets/search?experiment_ids=3"}, 200},
		{request{name: "search datasets, victim", method: "POST", target: "/api/3.0/mlflow/datasets/search", body: `{"experiment_ids": ["2"]}`}, 403},
		{request{name: "search datasets, unscoped", method: "POST", target: "/api/3.0/mlflow/datasets/search", body: `{}`}, 400},
		{request{name: "add to experiment", method: "POST", target: "/api/3.0/mlflow/datasets/d-mine/add-experiments", body: `{"experiment_ids": ["1"]}`}, 200},
		{request{name: "add to readable experiment", method: "POST", target: "/api/3.0/mlflow/datasets/d-mine/add-experiments", body: `{"experiment_ids": ["3"]}`}, 403},
		{request{name: "add to nothing", method: "POST", target: "/api/3.0/mlflow/datasets/d-mine/add-experiments", body: `{}`}, 403},
		{request{name: "remove from experiment, shared", method: "POST", target: "/api/3.0/mlflow/datasets/d-shared/remove-experiments", body: `{"experiment_ids": ["2"]}`}, 403},

		// Prompt-optimization jobs: the job's experiment; creating one is for admins.
		{request{name: "job", method: "GET", target: "/api/3.0/mlflow/prompt-optimization/jobs/j-read"}, 200},
		{request{name: "job, victim", method: "GET", target: "/api/3.0/mlflow/prompt-optimization/jobs/j-victim"}, 403},
		{request{name: "search jobs", method: "GET", target: "/api/3.0/mlflow/prompt-optimization/jobs/search?experiment_id=3"}, 200},
		{request{name: "search jobs, victim", method: "POST", target: "/api/3.0/mlflow/prompt-optimization/jobs/search", body: `{"experiment_id": "2"}`}, 403},
		{request{name: "cancel job, readable", method: "POST", target: "/api/3.0/mlflow/prompt-optimization/jobs/j-read/cancel", body: `{}`}, 403},
		{request{name: "cancel job", method: "POST", target: "/api/3.0/mlflow/prompt-optimization/jobs/j-mine/cancel", body: `{}`}, 200},
		{request{name: "delete job", method: "DELETE", target: "/api/3.0/mlflow/prompt-optimization/jobs/j-mine", body: `{}`}, 200},
		{request{name: "create job", method: "POST", target: "/api/3.0/mlflow/prompt-optimization/jobs", body: `{"experiment_id": "1"}`}, 403},

		// Admin only, as in MLflow.
		{request{name: "webhooks", method: "GET", target: "/api/2.0/mlflow/webhooks"}, 403},
		{request{name: "budget", method: "POST", target: "/api/3.0/mlflow/gateway/budget-policies/create", body: `{}`}, 403},
	} {
		rec := serve(p, "bob", c.request)
		if rec.Code != c.status {
			t.Errorf("%s: %s %s %s: %d %s, want %d", c.name, c.method, c.target, c.body, rec.Code, rec.Body, c.status)
		}
		if sent := f.forwarded(); (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s: forwarded %v", c.name, sent)
		}
	}
}

// grantLog records the grants the after-hooks create, update and delete.
type grantLog struct {
	noGrants
	mu  sync.Mutex
	log []string
}

func (g *grantLog) add(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.log = append(g.log, s)
}

func (g *grantLog) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.log
	g.log = nil
	return out
}

func (g *grantLog) CreateGrant(_ context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	g.add("create " + r.String() + " " + string(l))
	return storage.Grant{}, nil
}

func (g *grantLog) UpdateGrant(_ context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	g.add("update " + r.String() + " " + string(l))
	return storage.Grant{}, nil
}

func (g *grantLog) DeleteResourceGrants(_ context.Context, r permission.Resource) error {
	g.add("delete " + r.String())
	return nil
}

// Registering a scorer makes the registrant its manager, under the name and
// experiment MLflow answers with, and a new scorer's only grantee; deleting the
// scorer (not one version) drops its grants.
func TestScorerGrants(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	grants := &grantLog{}
	p.grants = grants
	f.set(func() {
		f.answers = map[string]string{"POST /api/3.0/mlflow/scorers/register": `{"experiment_id": "1", "name": "my scorer", "version": 2}`}
	})
	for _, c := range []struct {
		request
		want []string
	}{
		{request{method: "POST", target: "/api/3.0/mlflow/scorers/register", body: `{"experiment_id": "1", "name": "my scorer", "serialized_scorer": "{}"}`},
			[]string{"create scorer:1/my%20scorer MANAGE"}},
		{request{method: "DELETE", target: "/api/3.0/mlflow/scorers/delete", body: `{"experiment_id": "1", "name": "mine", "version": 1}`}, nil},
		{request{method: "DELETE", target: "/api/3.0/mlflow/scorers/delete", body: `{"experiment_id": "1", "name": "mine", "version": null}`},
			[]string{"delete scorer:1/mine"}},
		{request{method: "DELETE", target: "/api/3.0/mlflow/scorers/delete", body: `{"experimentId": "1", "name": "mine"}`},
			[]string{"delete scorer:1/mine"}},
	} {
		if rec := serve(p, "bob", c.request); rec.Code != 200 {
			t.Fatalf("%s %s %s: %d %s", c.method, c.target, c.body, rec.Code, rec.Body)
		}
		if got := grants.take(); !slices.Equal(got, c.want) {
			t.Errorf("%s %s %s: grants %v, want %v", c.method, c.target, c.body, got, c.want)
		}
	}
	// A new scorer's name may be that of a scorer of a purged experiment: its
	// grants are dropped first.
	f.set(func() {
		f.answers = map[string]string{"POST /api/3.0/mlflow/scorers/register": `{"experiment_id": "1", "name": "my scorer", "version": 1}`}
	})
	if rec := serve(p, "bob", request{method: "POST", target: "/api/3.0/mlflow/scorers/register", body: `{"experiment_id": "1", "name": "my scorer"}`}); rec.Code != 200 {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	if got, want := grants.take(), []string{"delete scorer:1/my%20scorer", "create scorer:1/my%20scorer MANAGE"}; !slices.Equal(got, want) {
		t.Errorf("a new scorer: grants %v, want %v", got, want)
	}
}

// The proxy knows a trace's experiment from its cache as long as the trace cannot
// have moved: an admin's StartTrace (MLflow moves an existing trace into the
// experiment named) and any deletion of traces make it ask again.
func TestTraceCache(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	get := request{method: "GET", target: "/api/3.0/mlflow/traces/tr-moved"}
	check := func(step string, want int) {
		t.Helper()
		if rec := serve(p, "bob", get); rec.Code != want {
			t.Errorf("%s: %d %s, want %d", step, rec.Code, rec.Body, want)
		}
		f.forwarded()
	}

	f.set(func() { f.traces["tr-moved"] = "1" })
	check("bob's trace", 200)
	f.set(func() { f.traces["tr-moved"] = "2" })
	check("cached", 200)
	move := `{"trace": {"trace_info": {"trace_id": "tr-moved", "trace_location": {"mlflow_experiment": {"experiment_id": "2"}}}}}`
	if rec := serve(p, "root", request{method: "POST", target: "/api/3.0/mlflow/traces", body: move}); rec.Code != 200 {
		t.Fatalf("admin's StartTrace: %d %s", rec.Code, rec.Body)
	}
	check("moved by an admin", 403)

	f.set(func() { f.traces["tr-moved"] = "1" })
	if rec := serve(p, "bob", request{method: "POST", target: "/api/3.0/mlflow/traces/delete-traces", body: `{"experiment_id": "1", "max_timestamp_millis": 1}`}); rec.Code != 200 {
		t.Fatalf("delete-traces: %d %s", rec.Code, rec.Body)
	}
	check("deleted and made again", 200)

	// A search tells the experiments of the traces it found.
	f.set(func() {
		f.answers = map[string]string{"POST /api/3.0/mlflow/traces/search": `{"traces": [{"trace_id": "tr-found", "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "3"}}}]}`}
	})
	if rec := serve(p, "bob", request{method: "POST", target: "/api/3.0/mlflow/traces/search", body: `{"locations": [{"mlflow_experiment": {"experiment_id": "3"}}]}`}); rec.Code != 200 {
		t.Fatalf("search: %d %s", rec.Code, rec.Body)
	}
	f.forwarded()
	get.target = "/api/3.0/mlflow/traces/tr-found" // unknown to the lookup
	check("found by a search", 200)
}

// A lookup answer about another trace (as for an id that is the name of a sibling
// route) or about a trace outside any experiment decides nothing.
func TestTraceLookupChecksTheAnswer(t *testing.T) {
	answers := map[string]string{
		"/api/3.0/mlflow/traces/batchGet": `{"traces": []}`,
		"/api/3.0/mlflow/traces/tr-x":     `{"trace": {"trace_info": {"trace_id": "tr-y", "trace_location": {"mlflow_experiment": {"experiment_id": "1"}}}}}`,
		"/api/3.0/mlflow/traces/tr-table": `{"trace": {"trace_info": {"trace_id": "tr-table", "trace_location": {"type": "INFERENCE_TABLE"}}}}`,
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(answers[r.URL.Path]))
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	l := &lookups{upstream: u, client: upstream.Client()}
	for _, id := range []string{"batchGet", "tr-x", "tr-table"} {
		if exp, err := l.traceExperiment(context.Background(), id); err == nil {
			t.Errorf("%s: experiment %q", id, exp)
		}
	}
}

// otlpRequest is an ExportTraceServiceRequest with one span of the trace and the
// attribute keys given.
func otlpRequest(traceID string, attributeKeys ...string) []byte {
	id, _ := hex.DecodeString(traceID)
	message := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	span := message(1, id)
	span = append(span, message(2, []byte("spanid01"))...)
	for _, k := range attributeKeys {
		span = append(span, message(9, message(1, []byte(k)))...)
	}
	return message(1, message(2, message(2, span)))
}

const (
	ownTrace    = "00000000000000000000000000000001"
	victimTrace = "00000000000000000000000000000002"
)

// OTLP spans go to the experiment of the header, which needs EDIT, and may neither
// join another experiment's trace nor set an immutable trace tag.
func TestOTLP(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	f.set(func() {
		f.traces["tr-"+ownTrace] = "1"
		f.traces["tr-"+victimTrace] = "2"
	})
	gzipped := func(b []byte) string {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.String()
	}
	deflated := func(b []byte) string {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		w.Write(b)
		w.Close()
		return buf.String()
	}
	headers := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/x-protobuf"}}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	newTrace := string(otlpRequest("0af7651916cd43dd8448eb211c80319c"))
	for _, c := range []struct {
		request
		status int
	}{
		{request{name: "new trace", body: newTrace, header: headers("X-Mlflow-Experiment-Id", "1")}, 200},
		{request{name: "own trace", body: string(otlpRequest(ownTrace)), header: headers("X-Mlflow-Experiment-Id", "1", "X-Mlflow-Run-Id", "mine")}, 200},
		{request{name: "no header", body: newTrace, header: headers()}, 400},
		{request{name: "readable experiment", body: newTrace, header: headers("X-Mlflow-Experiment-Id", "3")}, 403},
		{request{name: "header twice", body: newTrace, header: headers("X-Mlflow-Experiment-Id", "1", "X-Mlflow-Experiment-Id", "2")}, 400},
		{request{name: "victim's run", body: newTrace, header: headers("X-Mlflow-Experiment-Id", "1", "X-Mlflow-Run-Id", "victim")}, 403},
		{request{name: "victim's trace", body: string(otlpRequest(victimTrace)), header: headers("X-Mlflow-Experiment-Id", "1")}, 403},
		{request{name: "victim's trace, gzip", body: gzipped(otlpRequest(victimTrace)),
			header: headers("X-Mlflow-Experiment-Id", "1", "Content-Encoding", "GZIP")}, 403},
		{request{name: "own trace, raw deflate", body: deflated(otlpRequest(ownTrace)),
			header: headers("X-Mlflow-Experiment-Id", "1", "Content-Encoding", "deflate")}, 200},
		{request{name: "unknown encoding", body: newTrace, header: headers("X-Mlflow-Experiment-Id", "1", "Content-Encoding", "br")}, 400},
		{request{name: "immutable tag", body: string(otlpRequest(ownTrace, "mlflow.spanType", "mlflow.traceTag.mlflow.artifactLocation")),
			header: headers("X-Mlflow-Experiment-Id", "1")}, 400},
		{request{name: "a tag", body: string(otlpRequest(ownTrace, "mlflow.traceTag.team")), header: headers("X-Mlflow-Experiment-Id", "1")}, 200},
		{request{name: "JSON", body: `{"resourceSpans": []}`,
			header: http.Header{"Content-Type": {"application/json"}, "X-Mlflow-Experiment-Id": {"1"}}}, 415},
		{request{name: "not protobuf", body: "\xff\xff\xff", header: headers("X-Mlflow-Experiment-Id", "1")}, 400},
		{request{name: "no trace id", body: string(otlpRequest("")), header: headers("X-Mlflow-Experiment-Id", "1")}, 400},
	} {
		c.method, c.target = "POST", "/v1/traces"
		rec := serve(p, "bob", c.request)
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.status)
		}
		sent := f.forwarded()
		if (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s: forwarded %v", c.name, sent)
		} else if len(sent) == 1 && sent[0].body != c.body {
			t.Errorf("%s: forwarded a body of %d bytes, not the %d sent", c.name, len(sent[0].body), len(c.body))
		}
	}
	// An admin's spans are not read.
	if rec := serve(p, "root", request{method: "POST", target: "/v1/traces", body: "\xff", header: http.Header{"Content-Type": {"application/json"}}}); rec.Code != 200 {
		t.Errorf("admin: %d %s", rec.Code, rec.Body)
	}
}

// The OTLP reader against a request serialized by the OpenTelemetry protobuf classes
// (Python, opentelemetry-proto): two resource spans, with resources, scopes, a schema
// URL, and spans with names, parents, times and attributes.
func TestParseOTLP(t *testing.T) {
	const fromPython = "0acb010a170a150a0c736572766963652e6e616d6512050a03737663129e010a080a066d6c666c6f7712630a100af7651916cd43dd8448eb211c80319c1208b7ad6b71692033312a04726f6f743901000000000000004a1b0a146d6c666c6f772e74726163655461672e7465616d12030a01784a190a116d6c666c6f772e7370616e496e7075747312040a027b7d122d0a1000000000000000000000000000000001120800000000000000022208b7ad6b71692033312a056368696c641a0f68747470733a2f2f6578616d706c650a20121e121c0a10ffffffffffffffffffffffffffffffff12080101010101010101"
	b, _ := hex.DecodeString(fromPython)
	spans, err := parseOTLP(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []otlpSpan{
		{traceID: "tr-0af7651916cd43dd8448eb211c80319c", attributeKeys: []string{"mlflow.traceTag.team", "mlflow.spanInputs"}},
		{traceID: "tr-00000000000000000000000000000001"},
		{traceID: "tr-ffffffffffffffffffffffffffffffff"},
	}
	if len(spans) != len(want) {
		t.Fatalf("spans %+v, want %+v", spans, want)
	}
	for i := range want {
		if spans[i].traceID != want[i].traceID || !slices.Equal(spans[i].attributeKeys, want[i].attributeKeys) {
			t.Errorf("span %d: %+v, want %+v", i, spans[i], want[i])
		}
	}
	// A shorter or longer id is read as the number it is, as MLflow reads it.
	for id, want := range map[string]string{"01": "tr-00000000000000000000000000000001", "00" + strings.Repeat("ab", 16): "tr-" + strings.Repeat("ab", 16)} {
		if spans, err := parseOTLP(otlpRequest(id)); err != nil || spans[0].traceID != want {
			t.Errorf("trace id %s: %+v %v, want %s", id, spans, err, want)
		}
	}
}

// Online scoring configs are found by scorer id: the answer must hold configs of
// readable experiments only, or it is refused whole, as by MLflow.
func TestOnlineScoringConfigs(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	get := request{method: "GET", target: "/ajax-api/3.0/mlflow/scorers/online-configs?scorer_ids=s-1&scorer_ids=s-2"}
	for answer, want := range map[string]int{
		`{"configs": []}`: 200,
		`{"configs": [{"scorer_id": "s-1", "experiment_id": "3", "sample_rate": 0.5}]}`:                         200,
		`{"configs": [{"scorer_id": "s-1", "experiment_id": "1"}, {"scorer_id": "s-2", "experiment_id": "2"}]}`: 403,
	} {
		f.set(func() { f.answers = map[string]string{"GET /ajax-api/3.0/mlflow/scorers/online-configs": answer} })
		rec := serve(p, "bob", get)
		if rec.Code != want {
			t.Errorf("%s: %d %s, want %d", answer, rec.Code, rec.Body, want)
		}
		if want == 200 && rec.Body.String() != answer {
			t.Errorf("%s: answered %s", answer, rec.Body)
		}
		if rec := serve(p, "root", get); rec.Code != 200 {
			t.Errorf("%s, admin: %d %s", answer, rec.Code, rec.Body)
		}
	}
}

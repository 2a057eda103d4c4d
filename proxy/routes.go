package proxy

import (
	"strings"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// need is what a route requires of its caller. The zero value allows nobody but admins.
type need int

const (
	needAdmin  need = iota // admins only: every route not in the table, and a few in it
	needUser               // any authenticated user; the after-hook may filter the answer
	needRead               // READ on every resource the request names
	needUpdate             // EDIT
	needDelete             // MANAGE (MLflow's can_delete)
	needManage             // MANAGE
)

func (n need) allows(l permission.Level) bool {
	switch n {
	case needUser:
		return true
	case needRead:
		return l.CanRead()
	case needUpdate:
		return l.CanUpdate()
	case needDelete:
		return l.CanDelete()
	case needManage:
		return l.CanManage()
	}
	return false
}

// level is the permission n asks for; "" for none (any user, admins only).
func (n need) level() permission.Level {
	switch n {
	case needRead:
		return permission.Read
	case needUpdate:
		return permission.Edit
	case needDelete, needManage:
		return permission.Manage
	}
	return ""
}

// route is one row of the validator table: an MLflow endpoint, what it needs, where
// its resource is named, and what to do with a successful answer.
type route struct {
	method  string
	pattern string // path after /api or /ajax-api; {name} is one segment, {name...} the rest
	need    need
	locate  locator
	after   hook
	rewrite rewrite // changes a non-admin's request before it is forwarded
}

// routes is MLflow's REST surface as mlflow-auth enforces it, from MLflow's own
// validator table (mlflow/server/auth). Each path is served under /api and /ajax-api.
// Anything not here is refused to non-admins (fail-closed).
var routes = []route{
	// Experiments. Creation is open to every user, who then manages what they created;
	// its artifact location is the server's choice (defaultArtifactLocation).
	{"POST", "/2.0/mlflow/experiments/create", needUser, nil, grantCreatorExperiment, defaultArtifactLocation},
	{"GET", "/2.0/mlflow/experiments/get", needRead, experimentParam("experiment_id"), nil, nil},
	{"GET", "/2.0/mlflow/experiments/get-by-name", needRead, experimentByName, nil, nil},
	{"POST", "/2.0/mlflow/experiments/delete", needDelete, experimentParam("experiment_id"), nil, nil},
	{"POST", "/2.0/mlflow/experiments/restore", needDelete, experimentParam("experiment_id"), nil, nil},
	{"POST", "/2.0/mlflow/experiments/update", needUpdate, experimentParam("experiment_id"), nil, nil},
	{"POST", "/2.0/mlflow/experiments/set-experiment-tag", needUpdate, experimentParam("experiment_id"), nil, nil},
	{"POST", "/2.0/mlflow/experiments/delete-experiment-tag", needUpdate, experimentParam("experiment_id"), nil, nil},
	{"GET", "/2.0/mlflow/experiments/search", needUser, nil, filterExperiments, nil},
	{"POST", "/2.0/mlflow/experiments/search", needUser, nil, filterExperiments, nil},
	{"POST", "/2.0/mlflow/experiments/search-datasets", needRead, experimentList("experiment_ids"), nil, nil},

	// Runs: their experiment's permission.
	{"POST", "/2.0/mlflow/runs/create", needUpdate, experimentParam("experiment_id"), nil, nil},
	{"GET", "/2.0/mlflow/runs/get", needRead, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/delete", needDelete, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/restore", needDelete, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/update", needUpdate, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/log-metric", needUpdate, runAndLoggedModels(""), nil, nil},
	{"POST", "/2.0/mlflow/runs/log-batch", needUpdate, runAndLoggedModels("metrics"), nil, nil},
	{"POST", "/2.0/mlflow/runs/log-model", needUpdate, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/log-parameter", needUpdate, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/log-inputs", needUpdate, runAndLoggedModels("models"), nil, nil},
	{"POST", "/2.0/mlflow/runs/outputs", needUpdate, runAndLoggedModels("models"), nil, nil},
	{"POST", "/2.0/mlflow/runs/set-tag", needUpdate, runParam, nil, nil},
	{"POST", "/2.0/mlflow/runs/delete-tag", needUpdate, runParam, nil, nil},
	{method: "POST", pattern: "/2.0/mlflow/runs/search", need: needUser, rewrite: searchReadableExperiments},
	{"GET", "/2.0/mlflow/metrics/get-history", needRead, runParam, nil, nil},
	{"GET", "/2.0/mlflow/metrics/get-history-bulk", needRead, runList("run_id"), nil, nil},
	{"GET", "/2.0/mlflow/metrics/get-history-bulk-interval", needRead, runList("run_ids"), nil, nil},
	{"GET", "/2.0/mlflow/artifacts/list", needRead, runParam, nil, nil},

	// Artifacts proxied by MLflow (mlflow server --serve-artifacts): the experiment is
	// the first path segment; DELETE needs MANAGE, as in MLflow.
	{"GET", "/2.0/mlflow-artifacts/artifacts", needRead, artifactExperiment, nil, nil},
	{"GET", "/2.0/mlflow-artifacts/artifacts/{path...}", needRead, artifactExperiment, nil, nil},
	{"PUT", "/2.0/mlflow-artifacts/artifacts/{path...}", needUpdate, artifactExperiment, nil, nil},
	{"DELETE", "/2.0/mlflow-artifacts/artifacts/{path...}", needManage, artifactExperiment, nil, nil},
	{"POST", "/2.0/mlflow-artifacts/mpu/create/{path...}", needUpdate, artifactExperiment, nil, nil},
	{"POST", "/2.0/mlflow-artifacts/mpu/complete/{path...}", needUpdate, artifactExperiment, nil, nil},
	{"POST", "/2.0/mlflow-artifacts/mpu/abort/{path...}", needUpdate, artifactExperiment, nil, nil},
	// MLflow 3.17's client asks for a presigned URL first when the server offers
	// multipart downloads: the URL reads the artifact, so it needs what a download does.
	{"GET", "/2.0/mlflow-artifacts/presigned/{path...}", needRead, artifactExperiment, nil, nil},

	// Registered models and their versions: the model's own grants.
	{"POST", "/2.0/mlflow/registered-models/create", needUser, nil, grantCreatorModel, nil},
	{"GET", "/2.0/mlflow/registered-models/get", needRead, modelParam("name"), nil, nil},
	{"GET", "/2.0/mlflow/registered-models/get-latest-versions", needRead, modelParam("name"), nil, nil},
	{"POST", "/2.0/mlflow/registered-models/get-latest-versions", needRead, modelParam("name"), nil, nil},
	{"PATCH", "/2.0/mlflow/registered-models/update", needUpdate, modelParam("name"), nil, nil},
	{"POST", renameModelPath, needUpdate, modelParam("name"), moveModelGrants, nil},
	{"DELETE", "/2.0/mlflow/registered-models/delete", needDelete, modelParam("name"), dropModelGrants, nil},
	{"POST", "/2.0/mlflow/registered-models/set-tag", needUpdate, modelParam("name"), nil, nil},
	{"DELETE", "/2.0/mlflow/registered-models/delete-tag", needUpdate, modelParam("name"), nil, nil},
	{"GET", "/2.0/mlflow/registered-models/alias", needRead, modelParam("name"), nil, nil},
	{"POST", "/2.0/mlflow/registered-models/alias", needUpdate, modelParam("name"), nil, nil},
	{"DELETE", "/2.0/mlflow/registered-models/alias", needDelete, modelParam("name"), nil, nil},
	{"GET", "/2.0/mlflow/registered-models/search", needUser, nil, filterModels, nil},
	// A new version serves its source's files to whoever may read the model: the
	// source must be readable too (versionSourceReadable).
	{"POST", "/2.0/mlflow/model-versions/create", needUpdate, modelParam("name"), nil, versionSourceReadable},
	{"GET", "/2.0/mlflow/model-versions/get", needRead, modelParam("name"), nil, nil},
	{"GET", "/2.0/mlflow/model-versions/get-download-uri", needRead, modelParam("name"), nil, nil},
	{"PATCH", "/2.0/mlflow/model-versions/update", needUpdate, modelParam("name"), nil, nil},
	{"POST", "/2.0/mlflow/model-versions/transition-stage", needUpdate, modelParam("name"), nil, nil},
	{"POST", "/2.0/mlflow/model-versions/set-tag", needUpdate, modelParam("name"), nil, nil},
	{"DELETE", "/2.0/mlflow/model-versions/delete-tag", needDelete, modelParam("name"), nil, nil},
	{"DELETE", "/2.0/mlflow/model-versions/delete", needDelete, modelParam("name"), nil, nil},
	{"GET", "/2.0/mlflow/model-versions/search", needUser, nil, filterModelVersions, nil},

	// Logged models: their experiment's permission.
	{"POST", "/2.0/mlflow/logged-models", needUpdate, experimentParam("experiment_id"), nil, nil},
	{"GET", "/2.0/mlflow/logged-models/{model_id}", needRead, loggedModelPath, nil, nil},
	{"PATCH", "/2.0/mlflow/logged-models/{model_id}", needUpdate, loggedModelPath, nil, nil},
	{"DELETE", "/2.0/mlflow/logged-models/{model_id}", needDelete, loggedModelPath, nil, nil},
	{"PATCH", "/2.0/mlflow/logged-models/{model_id}/tags", needUpdate, loggedModelPath, nil, nil},
	{"DELETE", "/2.0/mlflow/logged-models/{model_id}/tags/{key}", needDelete, loggedModelPath, nil, nil},
	{"POST", "/2.0/mlflow/logged-models/{model_id}/params", needUpdate, loggedModelPath, nil, nil},
	{"GET", "/2.0/mlflow/logged-models/{model_id}/artifacts/directories", needRead, loggedModelPath, nil, nil},
	{"GET", "/2.0/mlflow/logged-models/{model_id}/artifacts/files", needRead, loggedModelPath, nil, nil},
	// Narrowed to the readable experiments, as runs/search: MLflow drops the models of
	// the others from the answer rather than refusing the search.
	{method: "POST", pattern: "/2.0/mlflow/logged-models/search", need: needUser, rewrite: searchReadableExperiments},

	// Traces and assessments (validate_can_*_trace*, *_assessment in MLflow 3.17):
	// the trace's experiment, found upstream by trace id. MLflow's trace-tier and
	// assessment-tier grants do not exist here, so its fallback, the experiment,
	// decides. Exact paths come before the {trace_id} rows that would match them too;
	// any other path under /traces/ is refused, as in MLflow.
	{"POST", "/2.0/mlflow/traces", needUpdate, experimentParam("experiment_id"), nil, traceTagsWritable},
	{"PATCH", "/2.0/mlflow/traces/{request_id}", needUpdate, tracePath("request_id"), nil, traceTagsWritable},
	{"GET", "/2.0/mlflow/traces/{request_id}/info", needRead, tracePath("request_id"), nil, nil},
	{"PATCH", "/2.0/mlflow/traces/{request_id}/tags", needUpdate, tracePath("request_id"), nil, traceTagWritable},
	{"DELETE", "/2.0/mlflow/traces/{request_id}/tags", needUpdate, tracePath("request_id"), nil, nil},
	{"GET", "/2.0/mlflow/traces", needRead, scopedExperiments("experiment_ids"), nil, nil},
	{"POST", "/2.0/mlflow/traces/delete-traces", needDelete, experimentParam("experiment_id"), forgetDeletedTraces, nil},
	{"POST", "/2.0/mlflow/traces/link-to-run", needUpdate, runParam, nil, tracesReadable},
	{"POST", "/2.0/mlflow/traces/link-prompts", needUpdate, traceParam("trace_id"), nil, nil},
	{"POST", "/3.0/mlflow/traces", needUpdate, startTraceExperiment, forgetStartedTrace, startedTraceStaysPut},
	{"GET", "/3.0/mlflow/traces/get", needRead, traceParam("trace_id"), nil, nil},
	{"GET", "/3.0/mlflow/traces/batchGet", needRead, traceList("trace_ids"), nil, nil},
	{"POST", "/3.0/mlflow/traces/batchGetInfos", needRead, traceList("trace_ids"), nil, nil},
	{"POST", "/3.0/mlflow/traces/search", needRead, traceLocations, rememberTraces, nil},
	{"POST", "/3.0/mlflow/traces/delete-traces", needDelete, experimentParam("experiment_id"), forgetDeletedTraces, nil},
	{"POST", "/3.0/mlflow/traces/calculate-filter-correlation", needRead, scopedExperiments("experiment_ids"), nil, nil},
	{"POST", "/3.0/mlflow/traces/metrics", needRead, scopedExperiments("experiment_ids"), nil, nil},
	{"GET", "/3.0/mlflow/traces/{trace_id}", needRead, tracePath("trace_id"), nil, nil},
	{"PATCH", "/3.0/mlflow/traces/{trace_id}/tags", needUpdate, tracePath("trace_id"), nil, traceTagWritable},
	{"DELETE", "/3.0/mlflow/traces/{trace_id}/tags", needUpdate, tracePath("trace_id"), nil, nil},
	{"POST", "/3.0/mlflow/traces/{trace_id}/assessments", needUpdate, tracePath("trace_id"), nil, nil},
	{"GET", "/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}", needRead, tracePath("trace_id"), nil, nil},
	{"PATCH", "/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}", needUpdate, tracePath("trace_id"), nil, nil},
	// MLflow lets EDIT delete an assessment (its fallback rung is the experiment's update).
	{"DELETE", "/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}", needUpdate, tracePath("trace_id"), nil, nil},
	// The UI's trace data (served by MLflow under /ajax-api only).
	{"GET", "/2.0/mlflow/get-trace-artifact", needRead, traceParam("request_id"), nil, nil},
	{"GET", "/3.0/mlflow/get-trace-artifact", needRead, traceParam("request_id"), nil, nil},
	// OTLP span export (MLflow's FastAPI app), outside /api.
	{"POST", otlpPath, needUpdate, otlpTarget, nil, otlpSpansStayPut},

	// Scorers: registering needs EDIT on the experiment and makes the registrant the
	// scorer's manager; the others take the scorer's own grants.
	{"POST", "/3.0/mlflow/scorers/register", needUpdate, experimentParam("experiment_id"), grantCreatorScorer, nil},
	{"GET", "/3.0/mlflow/scorers/list", needRead, scorerListExperiments, nil, nil},
	{"GET", "/3.0/mlflow/scorers/get", needRead, scorerParam, nil, nil},
	{"GET", "/3.0/mlflow/scorers/versions", needRead, scorerParam, nil, nil},
	{"DELETE", "/3.0/mlflow/scorers/delete", needDelete, scorerParam, dropScorerGrants, nil},
	// The client's list_scorers reads these too. Setting one (PUT online-config)
	// stays with admins: the server then runs the scorer, with no caller, on its own.
	{"GET", "/3.0/mlflow/scorers/online-configs", needUser, nil, configsReadable, nil},

	// Evaluation datasets: every experiment the dataset is in (MLflow's
	// validate_can_*_dataset), or that a request names.
	{"POST", "/3.0/mlflow/datasets/create", needUpdate, experimentList("experiment_ids"), nil, nil},
	{"GET", "/3.0/mlflow/datasets/search", needRead, experimentList("experiment_ids"), nil, nil},
	{"POST", "/3.0/mlflow/datasets/search", needRead, experimentList("experiment_ids"), nil, nil},
	{"GET", "/3.0/mlflow/datasets/{dataset_id}", needRead, datasetPath, nil, nil},
	{"DELETE", "/3.0/mlflow/datasets/{dataset_id}", needDelete, datasetPath, nil, nil},
	{"PATCH", "/3.0/mlflow/datasets/{dataset_id}/tags", needUpdate, datasetPath, nil, nil},
	{"DELETE", "/3.0/mlflow/datasets/{dataset_id}/tags/{key}", needUpdate, datasetPath, nil, nil},
	{"GET", "/3.0/mlflow/datasets/{dataset_id}/records", needRead, datasetPath, nil, nil},
	{"POST", datasetRecordsPath, needUpdate, datasetPath, nil, nil}, // records stream: MLflow's client sends them all at once
	{"DELETE", "/3.0/mlflow/datasets/{dataset_id}/records", needUpdate, datasetPath, nil, nil},
	{"GET", "/3.0/mlflow/datasets/{dataset_id}/experiment-ids", needRead, datasetPath, nil, nil},
	{"POST", "/3.0/mlflow/datasets/{dataset_id}/add-experiments", needUpdate, datasetAndAddedExperiments, nil, nil},
	{"POST", "/3.0/mlflow/datasets/{dataset_id}/remove-experiments", needUpdate, datasetPath, nil, nil},

	// Prompt-optimization jobs: the job's experiment. Creating one stays with admins:
	// MLflow does not check the dataset_id it names (its records are read into the
	// caller's run, from any experiment), and the job's worker runs with no caller,
	// writing prompt versions and calling gateway endpoints the proxy keeps for admins.
	{"GET", "/3.0/mlflow/prompt-optimization/jobs/search", needRead, experimentParam("experiment_id"), nil, nil},
	{"POST", "/3.0/mlflow/prompt-optimization/jobs/search", needRead, experimentParam("experiment_id"), nil, nil},
	{"GET", "/3.0/mlflow/prompt-optimization/jobs/{job_id}", needRead, jobPath, nil, nil},
	{"POST", "/3.0/mlflow/prompt-optimization/jobs/{job_id}/cancel", needUpdate, jobPath, nil, nil},
	{"DELETE", "/3.0/mlflow/prompt-optimization/jobs/{job_id}", needDelete, jobPath, nil, nil},

	// No rows, so admins only: webhooks (all of them, test included) and gateway
	// budget policies, as in MLflow (which leaves budget reads to any user; here they
	// stay with admins like the rest of the gateway). Also left to admins: the UI's
	// assistant (MLflow lets any user chat with it, but its agent runs on the server
	// and reads whatever the server can, past every grant), workspaces,
	// review queues, label schemas, issues, jobs, scorer invocation, and the
	// Databricks routes unified-traces and get-online-trace-details.

	// Artifact downloads outside the REST API (the UI's).
	{"GET", "/get-artifact", needRead, runParam, nil, nil},
	{"GET", "/model-versions/get-artifact", needRead, modelParam("name"), nil, nil},

	// The UI's GraphQL queries: each root field by what it reads (graphql.go).
	{"POST", graphqlPath, needUser, nil, graphqlFilterVersions, graphqlAuthorize},

	// Cheap, harmless calls the UI and clients make: server facts, and the UI's usage
	// telemetry, which MLflow drops unless its operator turned telemetry on.
	{"GET", "/3.0/mlflow/server-info", needUser, nil, nil, nil},
	{"GET", "/3.0/mlflow/ui-telemetry", needUser, nil, nil, nil},
	{"POST", "/3.0/mlflow/ui-telemetry", needUser, nil, nil, nil},
	// The names of the deployments server's endpoints, which the experiment page
	// lists (MLflow serves only that path on GET). Calling one (POST) stays with
	// admins, like the rest of the gateway.
	{"GET", "/2.0/mlflow/gateway-proxy", needUser, nil, nil, nil},
}

// name is the route's template, as metrics and decisions name it; nil is every
// route not in the table.
func (r *route) name() string {
	if r == nil {
		return "mlflow unlisted" // admins only
	}
	return "mlflow " + r.method + " " + r.pattern
}

// group is the route's group for the decisions' metrics: "proxy:" and the
// first segment of its pattern after the version and "mlflow/"
// (proxy:experiments, proxy:runs, proxy:mlflow-artifacts, ...).
func (r *route) group(method, path string) string {
	if r == nil {
		if uiPage(method, path) {
			return "proxy:ui"
		}
		return "proxy:unlisted"
	}
	rest := strings.TrimPrefix(r.pattern, "/")
	if version, after, ok := strings.Cut(rest, "/"); ok && (version == "2.0" || version == "3.0" || version == "v1") {
		rest = after
	}
	segment, _, _ := strings.Cut(strings.TrimPrefix(rest, "mlflow/"), "/")
	return "proxy:" + segment
}

const (
	renameModelPath    = "/2.0/mlflow/registered-models/rename"
	datasetRecordsPath = "/3.0/mlflow/datasets/{dataset_id}/records"
)

// pathParams holds the {name} segments a pattern matched.
type pathParams map[string]string

// match reports whether path fits pattern, and its parameters.
func match(pattern, path string) (pathParams, bool) {
	var params pathParams
	for {
		pseg, prest, pmore := strings.Cut(strings.TrimPrefix(pattern, "/"), "/")
		seg, rest, more := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		if name, ok := strings.CutPrefix(pseg, "{"); ok {
			if params == nil {
				params = pathParams{}
			}
			if name, ok := strings.CutSuffix(name, "...}"); ok {
				tail := strings.TrimPrefix(path, "/")
				params[name] = tail
				return params, tail != ""
			}
			if seg == "" {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = seg
		} else if pseg != seg {
			return nil, false
		}
		if !pmore || !more {
			return params, pmore == more
		}
		pattern, path = "/"+prest, "/"+rest
	}
}

// apiPath strips MLflow's /api or /ajax-api prefix; other paths stay as they are.
func apiPath(path string) string {
	for _, prefix := range []string{"/api/", "/ajax-api/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			return "/" + rest
		}
	}
	return path
}

// find returns the route for a request, or nil.
func find(method, path string) (*route, pathParams) {
	p := apiPath(path)
	for i := range routes {
		r := &routes[i]
		if r.method != method {
			continue
		}
		if params, ok := match(r.pattern, p); ok {
			return r, params
		}
	}
	return nil, nil
}

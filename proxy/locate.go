package proxy

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// locator finds the resources a request acts on. No resources (and no error), as
// for an artifact path that names no experiment, is refused to non-admins: the
// default permission would decide on something that may be some experiment's.
type locator func(ctx context.Context, c *call) ([]permission.Resource, error)

// experiment is the experiment MLflow reads id as (see permission.CanonicalExperimentID).
func experiment(id string) permission.Resource {
	return permission.Resource{Type: permission.Experiment, ID: permission.CanonicalExperimentID(id)}
}

// param reads a request parameter where MLflow's handler reads it: from the query
// of a GET, from the JSON body otherwise (never the query: MLflow ignores it there).
func (c *call) param(name string) string {
	if c.req.Method == http.MethodGet {
		return c.query.Get(name)
	}
	switch v := c.body[name].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v) // a number sent for an id
	}
}

// params reads a repeated parameter: repeated query values of a GET, else a JSON list.
func (c *call) params(name string) []string {
	if c.req.Method == http.MethodGet {
		return c.query[name]
	}
	list, _ := c.body[name].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func required(name, value string) error {
	if value == "" {
		return badRequest("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
	}
	return nil
}

// canonicalExperimentID is an experiment id as MLflow writes it. MLflow reads ids
// with Python's int(), which takes "01", " 1", "+1" and "１" for experiment 1 too,
// while grants are found by the exact string: other spellings are refused.
var canonicalExperimentID = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

func checkExperimentID(id string) error {
	if !canonicalExperimentID.MatchString(id) {
		return badRequest("Invalid experiment ID '%s'. Experiment ID must be a valid integer.", id)
	}
	return nil
}

// experimentParam: the experiment named by one parameter.
func experimentParam(name string) locator {
	return func(_ context.Context, c *call) ([]permission.Resource, error) {
		id := c.param(name)
		if err := required(name, id); err != nil {
			return nil, err
		}
		if err := checkExperimentID(id); err != nil {
			return nil, err
		}
		return []permission.Resource{experiment(id)}, nil
	}
}

// experimentList: every experiment of a list parameter; at least one.
func experimentList(name string) locator {
	return func(_ context.Context, c *call) ([]permission.Resource, error) {
		ids := c.params(name)
		if len(ids) == 0 {
			return nil, badRequest("The request must name at least one experiment in '%s'.", name)
		}
		return experimentResources(ids)
	}
}

// experimentByName: the experiment called experiment_name, looked up upstream.
func experimentByName(ctx context.Context, c *call) ([]permission.Resource, error) {
	name := c.param("experiment_name")
	if err := required("experiment_name", name); err != nil {
		return nil, err
	}
	id, err := c.proxy.lookups.experimentByName(ctx, name)
	if err != nil {
		return nil, err
	}
	return []permission.Resource{experiment(id)}, nil
}

// runParam: the experiment of the run named by run_id (or the older run_uuid).
func runParam(ctx context.Context, c *call) ([]permission.Resource, error) {
	id := c.param("run_id")
	if id == "" {
		id = c.param("run_uuid")
	}
	if err := required("run_id", id); err != nil {
		return nil, err
	}
	return c.runExperiments(ctx, []string{id})
}

// runAndLoggedModels: the run's experiment and the experiment of every logged model
// the body names, in its model_id or in that of each object of its list field:
// MLflow writes the metrics, inputs and outputs to those models too, and 3.17 needs
// the same permission on each model's own experiment.
func runAndLoggedModels(list string) locator {
	return func(ctx context.Context, c *call) ([]permission.Resource, error) {
		rs, err := runParam(ctx, c)
		if err != nil {
			return nil, err
		}
		objects := []any{c.body}
		if list != "" {
			objects, _ = c.body[list].([]any) // anything else MLflow refuses itself
		}
		var ids []string
		for _, o := range objects {
			obj, _ := o.(map[string]any)
			// Nested objects keep both spellings; MLflow's parser reads either.
			id, ok := obj["model_id"]
			if camel, ok2 := obj["modelId"]; ok2 {
				if ok {
					return nil, badRequest("Request specifies both 'model_id' and 'modelId'; provide only one of them.")
				}
				id = camel
			}
			switch id := id.(type) {
			case nil:
			case string:
				if id != "" {
					ids = append(ids, id)
				}
			default:
				return nil, badRequest("Invalid value for 'model_id': it must be a string.")
			}
		}
		models, err := experimentsOf(ctx, ids, c.proxy.lookups.loggedModelExperiment)
		return append(rs, models...), err
	}
}

// runList: the experiments of every run of a repeated parameter; at least one.
func runList(name string) locator {
	return func(ctx context.Context, c *call) ([]permission.Resource, error) {
		ids := c.params(name)
		if len(ids) == 0 {
			return nil, badRequest("The request must name at least one run in '%s'.", name)
		}
		return c.runExperiments(ctx, ids)
	}
}

func (c *call) runExperiments(ctx context.Context, runIDs []string) ([]permission.Resource, error) {
	return experimentsOf(ctx, runIDs, c.proxy.lookups.runExperiment)
}

// experimentsOf looks up the experiment of each id (a run, trace, logged model or job).
func experimentsOf(ctx context.Context, ids []string, lookup func(context.Context, string) (string, error)) ([]permission.Resource, error) {
	rs := make([]permission.Resource, 0, len(ids))
	for _, id := range ids {
		exp, err := lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		rs = append(rs, experiment(exp))
	}
	return rs, nil
}

// modelParam: the registered model named by one parameter.
func modelParam(name string) locator {
	return func(_ context.Context, c *call) ([]permission.Resource, error) {
		model := c.param(name)
		if err := required(name, model); err != nil {
			return nil, err
		}
		return []permission.Resource{{Type: permission.RegisteredModel, ID: model}}, nil
	}
}

// loggedModelPath: the experiment of the logged model in the path.
func loggedModelPath(ctx context.Context, c *call) ([]permission.Resource, error) {
	return experimentsOf(ctx, []string{c.pathParams["model_id"]}, c.proxy.lookups.loggedModelExperiment)
}

// scorerParam: the scorer named by experiment_id and name, of an experiment the
// caller may read. A scorer without a grant of its own takes the default, which
// must not open a scorer of an experiment a grant closes to the caller.
func scorerParam(_ context.Context, c *call) ([]permission.Resource, error) {
	exp, name := c.param("experiment_id"), c.param("name")
	if err := required("experiment_id", exp); err != nil {
		return nil, err
	}
	if err := checkExperimentID(exp); err != nil {
		return nil, err
	}
	if err := required("name", name); err != nil {
		return nil, err
	}
	if err := c.requireRead(experiment(exp)); err != nil {
		return nil, err
	}
	return []permission.Resource{permission.ScorerResource(exp, name)}, nil
}

// scorerListExperiments: the experiments whose scorers are listed (experiment_id, or
// the newer experiment_ids). A listing that names none is refused: MLflow lists the
// scorers of every experiment then and filters them, which the proxy does not.
func scorerListExperiments(_ context.Context, c *call) ([]permission.Resource, error) {
	ids := c.params("experiment_ids")
	if id := c.param("experiment_id"); id != "" {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errDenied
	}
	return experimentResources(ids)
}

// datasetPath: every experiment of the evaluation dataset in the path, as MLflow
// requires; a dataset in no experiment (or none at all) is refused, as by MLflow.
func datasetPath(ctx context.Context, c *call) ([]permission.Resource, error) {
	ids, err := c.proxy.lookups.datasetExperiments(ctx, c.pathParams["dataset_id"])
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errDenied
	}
	return experimentResources(ids)
}

// datasetAndAddedExperiments: the dataset's experiments and those it is added to
// (experiment_ids, at least one): a dataset may only join experiments one may change.
func datasetAndAddedExperiments(ctx context.Context, c *call) ([]permission.Resource, error) {
	rs, err := datasetPath(ctx, c)
	if err != nil {
		return nil, err
	}
	added := c.params("experiment_ids")
	if len(added) == 0 {
		return nil, errDenied
	}
	more, err := experimentResources(added)
	return append(rs, more...), err
}

// jobPath: the experiment of the prompt-optimization job in the path.
func jobPath(ctx context.Context, c *call) ([]permission.Resource, error) {
	return experimentsOf(ctx, []string{c.pathParams["job_id"]}, c.proxy.lookups.jobExperiment)
}

// artifactExperiment: the experiment whose id starts the artifact path (in the URL
// path, or the "path" query of a listing); none when the path names no experiment.
// The path is read as MLflow's handlers read it (validate_path_is_safe), or the
// proxy would check one experiment while MLflow serves another: percent-decoded
// until nothing changes ("%252531/x" is "1/x"), leading blanks dropped (" 1/x"),
// and "." and empty segments are the directory they are in ("./1/x", "1").
func artifactExperiment(_ context.Context, c *call) ([]permission.Resource, error) {
	path := c.pathParams["path"]
	if path == "" {
		path = c.query.Get("path")
	}
	path, ok := decodePath(path)
	if !ok {
		return nil, badRequest("Invalid path")
	}
	segments := strings.Split(path, "/")
	if slices.Contains(segments, "..") {
		return nil, badRequest("Invalid path") // as MLflow answers
	}
	for _, seg := range segments {
		if seg == "" || seg == "." {
			continue
		}
		if !isDigits(seg) {
			return nil, nil
		}
		// A directory name, which no one reads with int(): "007" is not experiment 7's.
		return []permission.Resource{{Type: permission.Experiment, ID: seg}}, nil
	}
	return nil, nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// decodePath is MLflow's mlflow.utils.uri._decode: percent-decode until nothing
// changes, at most 10 rounds, each also cleaned as Python's urlsplit cleans a URL
// (leading C0 controls and spaces stripped; tabs and line breaks removed). A '%'
// that starts no valid escape stays, as in urllib.parse.unquote.
func decodePath(s string) (string, bool) {
	for range 10 {
		next := cleanURL(unquote(s))
		if next == s {
			return s, true
		}
		s = next
	}
	return "", false
}

// cleanURL does to s what Python's urlsplit does before parsing a URL: leading C0
// controls and spaces go, and so do tabs and line breaks anywhere.
func cleanURL(s string) string {
	s = strings.TrimLeftFunc(s, func(r rune) bool { return r <= ' ' })
	return strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(s)
}

func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

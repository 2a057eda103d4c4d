package proxy

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// locator finds the resources a request acts on. No resources (and no error)
// means the server's default permission applies, as for an artifact path that
// names no experiment.
type locator func(ctx context.Context, c *call) ([]permission.Resource, error)

func experiment(id string) permission.Resource {
	return permission.Resource{Type: permission.Experiment, ID: id}
}

// param reads a request parameter as MLflow does: from the query of a GET, from
// the JSON body otherwise, falling back to the query (DELETE may use either).
func (c *call) param(name string) string {
	if v, ok := c.body[name]; ok && v != nil {
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v) // a number sent for an id
	}
	return c.query.Get(name)
}

// params reads a repeated parameter: a JSON list in the body, or repeated query values.
func (c *call) params(name string) []string {
	if list, ok := c.body[name].([]any); ok {
		out := make([]string, 0, len(list))
		for _, v := range list {
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	return c.query[name]
}

func required(name, value string) error {
	if value == "" {
		return badRequest("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
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
		rs := make([]permission.Resource, len(ids))
		for i, id := range ids {
			rs[i] = experiment(id)
		}
		return rs, nil
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
	rs := make([]permission.Resource, 0, len(runIDs))
	for _, id := range runIDs {
		exp, err := c.proxy.lookups.runExperiment(ctx, id)
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
	exp, err := c.proxy.lookups.loggedModelExperiment(ctx, c.pathParams["model_id"])
	if err != nil {
		return nil, err
	}
	return []permission.Resource{experiment(exp)}, nil
}

// artifactExperimentID matches the experiment id that starts a proxied artifact path.
var artifactExperimentID = regexp.MustCompile(`^(\d+)/`)

// artifactExperiment: the experiment whose id starts the artifact path (in the URL
// path, or the "path" query of a listing); none when the path names no experiment.
func artifactExperiment(_ context.Context, c *call) ([]permission.Resource, error) {
	path := c.pathParams["path"]
	if path == "" {
		path = c.query.Get("path")
	}
	if unescaped, err := url.PathUnescape(path); err == nil {
		path = unescaped
	}
	m := artifactExperimentID.FindStringSubmatch(strings.TrimPrefix(path, "/"))
	if m == nil {
		return nil, nil
	}
	return []permission.Resource{experiment(m[1])}, nil
}

package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Traces and assessments (MLflow 3) take the permission of the trace's experiment,
// looked up upstream by trace id, as MLflow 3.13+ does.

// tracePath: the experiment of the trace named in the path.
func tracePath(name string) locator {
	return func(ctx context.Context, c *call) ([]permission.Resource, error) {
		return c.traceExperiments(ctx, []string{c.pathParams[name]})
	}
}

// traceParam: the experiment of the trace named by one parameter.
func traceParam(name string) locator {
	return func(ctx context.Context, c *call) ([]permission.Resource, error) {
		id := c.param(name)
		if err := required(name, id); err != nil {
			return nil, err
		}
		return c.traceExperiments(ctx, []string{id})
	}
}

// traceList: the experiments of every trace of a list parameter. A batch that
// names no trace is refused, as MLflow refuses it.
func traceList(name string) locator {
	return func(ctx context.Context, c *call) ([]permission.Resource, error) {
		ids := c.params(name)
		if len(ids) == 0 {
			return nil, errDenied
		}
		return c.traceExperiments(ctx, ids)
	}
}

func (c *call) traceExperiments(ctx context.Context, traceIDs []string) ([]permission.Resource, error) {
	return experimentsOf(ctx, traceIDs, c.proxy.lookups.traceExperiment)
}

// scopedExperiments: every experiment of a list parameter. A search that names
// none is refused (MLflow 3.13+): it would reach every experiment.
func scopedExperiments(name string) locator {
	return func(_ context.Context, c *call) ([]permission.Resource, error) {
		ids := c.params(name)
		if len(ids) == 0 {
			return nil, errDenied
		}
		return experimentResources(ids)
	}
}

// traceLocations: the experiments of a 3.0 trace search (its locations). A location
// that names no experiment (an inference table) is refused: MLflow leaves it out
// of its check, so it would be searched unchecked.
func traceLocations(_ context.Context, c *call) ([]permission.Resource, error) {
	locations, _ := c.body["locations"].([]any)
	ids := make([]string, 0, len(locations))
	for _, loc := range locations {
		id, err := nestedParam(loc, "mlflow_experiment", "experiment_id")
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, errDenied
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errDenied
	}
	return experimentResources(ids)
}

// startTraceExperiment: the experiment a 3.0 StartTrace writes to; a trace outside
// any experiment is refused, as MLflow refuses it.
func startTraceExperiment(_ context.Context, c *call) ([]permission.Resource, error) {
	id, err := nestedParam(c.body, "trace", "trace_info", "trace_location", "mlflow_experiment", "experiment_id")
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errDenied
	}
	return experimentResources([]string{id})
}

// immutableTraceTags are the tags MLflow's client refuses to set on a trace
// (mlflow.utils.mlflow_tags.IMMUTABLE_TAGS), but its server stores when a request
// carries them: mlflow.artifactLocation on one's own trace would make the server
// serve another experiment's trace data (get-trace-artifact).
var immutableTraceTags = []string{
	"mlflow.user",
	"mlflow.artifactLocation",
	"mlflow.trace.spansLocation",
	"mlflow.trace.archiveLocation",
	"mlflow.trace.archivalFailure",
}

func checkTraceTag(key string) error {
	if slices.Contains(immutableTraceTags, key) {
		return badRequest("Tag '%s' is immutable and cannot be set on a trace.", key)
	}
	return nil
}

// traceTagWritable refuses SetTraceTag of an immutable tag.
func traceTagWritable(_ context.Context, c *call) error {
	return checkTraceTag(c.param("key"))
}

// traceTagsWritable refuses a v2 StartTrace or EndTrace whose tags hold an immutable one.
func traceTagsWritable(_ context.Context, c *call) error {
	return checkTraceTags(c.body["tags"])
}

// checkTraceTags checks tags sent as a list of {key, value} or as a JSON map.
func checkTraceTags(tags any) error {
	switch tags := tags.(type) {
	case map[string]any:
		for key := range tags {
			if err := checkTraceTag(key); err != nil {
				return err
			}
		}
	case []any:
		for _, tag := range tags {
			key, err := nestedParam(tag, "key")
			if err != nil {
				return err
			}
			if err := checkTraceTag(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// startedTraceStaysPut checks a 3.0 StartTrace: no immutable tags, and no existing
// trace of another experiment named. MLflow answers a duplicate trace id by moving
// the existing trace into the experiment of the request, which would hand another
// experiment's trace to whoever may write to their own.
func startedTraceStaysPut(ctx context.Context, c *call) error {
	info, err := nestedValue(c.body, "trace", "trace_info")
	if err != nil {
		return err
	}
	tags, err := nestedValue(info, "tags")
	if err != nil {
		return err
	}
	if err := checkTraceTags(tags); err != nil {
		return err
	}
	traceID, err := nestedParam(info, "trace_id")
	if err != nil || traceID == "" {
		return err
	}
	want, err := nestedParam(info, "trace_location", "mlflow_experiment", "experiment_id")
	if err != nil {
		return err
	}
	exp, err := c.proxy.lookups.existingTraceExperiment(ctx, traceID)
	if err != nil {
		return err
	}
	if exp != "" && exp != want {
		return errDenied
	}
	return nil
}

// tracesReadable: LinkTracesToRun also needs READ on every trace it links (and one at least).
func tracesReadable(ctx context.Context, c *call) error {
	rs, err := traceList("trace_ids")(ctx, c)
	if err != nil {
		return err
	}
	return c.requireRead(rs...)
}

// forgetStartedTrace drops what the proxy knew of a started trace: only an admin's
// request can move an existing trace (startedTraceStaysPut), but it can.
func forgetStartedTrace(_ context.Context, c *call, body []byte) ([]byte, error) {
	if id, err := nestedParam(c.body, "trace", "trace_info", "trace_id"); err == nil && id != "" {
		c.proxy.lookups.traces.forget(id)
	}
	return body, nil
}

// forgetDeletedTraces drops every cached trace: the id of a deleted trace can be
// used again, in another experiment, and a delete by age names no ids.
func forgetDeletedTraces(_ context.Context, c *call, body []byte) ([]byte, error) {
	c.proxy.lookups.traces.clear()
	return body, nil
}

// rememberTraces keeps the experiments of the traces a 3.0 search found, so that
// the client's batchGet of them that follows asks the upstream nothing more.
func rememberTraces(_ context.Context, c *call, body []byte) ([]byte, error) {
	var page struct {
		Traces []traceInfo `json:"traces"`
	}
	if json.Unmarshal(body, &page) == nil {
		for _, t := range page.Traces {
			if t.TraceID != "" && t.experimentID() != "" {
				c.proxy.lookups.traces.put(t.TraceID, t.experimentID())
			}
		}
	}
	return body, nil
}

// nestedValue reads a field of nested JSON objects as MLflow's protobuf parser does:
// at every level by its name or its lowerCamelCase JSON name, never both (MLflow
// 3.17 refuses both; older versions take the later one). Nil when absent.
func nestedValue(v any, path ...string) (any, error) {
	for _, name := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, nil
		}
		camel := lowerCamelCase(name)
		value, hasName := m[name]
		if alias, hasCamel := m[camel]; hasCamel && camel != name {
			if hasName {
				return nil, badRequest("Request specifies both '%s' and '%s'; provide only one of them.", name, camel)
			}
			value = alias
		}
		v = value
	}
	return v, nil
}

// nestedParam is nestedValue as a string parameter: "" when absent or null.
func nestedParam(v any, path ...string) (string, error) {
	v, err := nestedValue(v, path...)
	switch v := v.(type) {
	case nil:
		return "", err
	case string:
		return v, err
	default:
		return fmt.Sprint(v), err
	}
}

// experimentResources checks experiment ids and makes them resources.
func experimentResources(ids []string) ([]permission.Resource, error) {
	rs := make([]permission.Resource, len(ids))
	for i, id := range ids {
		if err := checkExperimentID(id); err != nil {
			return nil, err
		}
		rs[i] = experiment(id)
	}
	return rs, nil
}

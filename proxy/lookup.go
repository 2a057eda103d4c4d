package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// lookups asks the upstream MLflow server what a decision needs: which experiment
// a run, logged model, trace or prompt-optimization job belongs to, which
// experiments a dataset is in, and which id an experiment name has. Runs, logged
// models and jobs never move to another experiment, so those answers are cached;
// traces are cached too, and forgotten where MLflow can move one (see the trace
// hooks); names and datasets' experiments change, so those are not.
type lookups struct {
	upstream *url.URL
	client   *http.Client
	runs     immutableCache
	models   immutableCache
	traces   immutableCache
	jobs     immutableCache
}

// immutableCache remembers answers that do not change. It forgets everything when
// full, which keeps it bounded without bookkeeping.
type immutableCache struct {
	mu sync.Mutex
	m  map[string]string
}

const cacheSize = 100_000

func (c *immutableCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *immutableCache) put(key, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheSize {
		c.m = make(map[string]string)
	}
	c.m[key] = value
}

// getOr answers from the cache, or asks fetch and remembers its answer.
func (c *immutableCache) getOr(key string, fetch func() (string, error)) (string, error) {
	if v, ok := c.get(key); ok {
		return v, nil
	}
	v, err := fetch()
	if err != nil {
		return "", err
	}
	c.put(key, v)
	return v, nil
}

func (c *immutableCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

func (c *immutableCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

func (l *lookups) runExperiment(ctx context.Context, runID string) (string, error) {
	return l.runs.getOr(runID, func() (string, error) {
		var resp struct {
			Run struct {
				Info struct {
					ExperimentID string `json:"experiment_id"`
				} `json:"info"`
			} `json:"run"`
		}
		err := l.get(ctx, "/api/2.0/mlflow/runs/get", url.Values{"run_id": {runID}}, &resp)
		return resp.Run.Info.ExperimentID, err
	})
}

func (l *lookups) loggedModelExperiment(ctx context.Context, modelID string) (string, error) {
	return l.models.getOr(modelID, func() (string, error) {
		var resp struct {
			Model struct {
				Info struct {
					ExperimentID string `json:"experiment_id"`
				} `json:"info"`
			} `json:"model"`
		}
		err := l.get(ctx, "/api/2.0/mlflow/logged-models/"+url.PathEscape(modelID), nil, &resp)
		return resp.Model.Info.ExperimentID, err
	})
}

// traceExperiment is the experiment of a trace (GetTraceInfoV3). An answer about
// another trace, or about a trace outside any experiment, is refused: the id could
// be one of the sibling routes' names ("batchGet").
func (l *lookups) traceExperiment(ctx context.Context, traceID string) (string, error) {
	return l.traces.getOr(traceID, func() (string, error) {
		var resp struct {
			Trace struct {
				TraceInfo traceInfo `json:"trace_info"`
			} `json:"trace"`
		}
		if err := l.get(ctx, "/api/3.0/mlflow/traces/"+url.PathEscape(traceID), nil, &resp); err != nil {
			return "", err
		}
		info := resp.Trace.TraceInfo
		if info.TraceID != traceID || info.experimentID() == "" {
			return "", errDenied
		}
		return info.experimentID(), nil
	})
}

// existingTraceExperiment is traceExperiment, or "" when MLflow has no trace of that id.
func (l *lookups) existingTraceExperiment(ctx context.Context, traceID string) (string, error) {
	exp, err := l.traceExperiment(ctx, traceID)
	var answer *upstreamAnswer
	if errors.As(err, &answer) && answer.status == http.StatusNotFound {
		if _, code, _ := answer.MLflowError(); code == "RESOURCE_DOES_NOT_EXIST" {
			return "", nil
		}
	}
	return exp, err
}

// traceInfo is the part of MLflow's TraceInfoV3 JSON the proxy reads.
type traceInfo struct {
	TraceID       string `json:"trace_id"`
	TraceLocation struct {
		MlflowExperiment struct {
			ExperimentID string `json:"experiment_id"`
		} `json:"mlflow_experiment"`
	} `json:"trace_location"`
}

func (t traceInfo) experimentID() string { return t.TraceLocation.MlflowExperiment.ExperimentID }

// datasetExperiments are the experiments an evaluation dataset is in; none for a
// dataset MLflow does not have.
func (l *lookups) datasetExperiments(ctx context.Context, datasetID string) ([]string, error) {
	var resp struct {
		ExperimentIDs []string `json:"experiment_ids"`
	}
	err := l.get(ctx, "/api/3.0/mlflow/datasets/"+url.PathEscape(datasetID)+"/experiment-ids", nil, &resp)
	return resp.ExperimentIDs, err
}

// jobExperiment is the experiment of a prompt-optimization job.
func (l *lookups) jobExperiment(ctx context.Context, jobID string) (string, error) {
	return l.jobs.getOr(jobID, func() (string, error) {
		var resp struct {
			Job struct {
				JobID        string `json:"job_id"`
				ExperimentID string `json:"experiment_id"`
			} `json:"job"`
		}
		if err := l.get(ctx, "/api/3.0/mlflow/prompt-optimization/jobs/"+url.PathEscape(jobID), nil, &resp); err != nil {
			return "", err
		}
		if resp.Job.JobID != jobID || resp.Job.ExperimentID == "" {
			return "", errDenied
		}
		return resp.Job.ExperimentID, nil
	})
}

func (l *lookups) experimentByName(ctx context.Context, name string) (string, error) {
	var resp struct {
		Experiment struct {
			ExperimentID string `json:"experiment_id"`
		} `json:"experiment"`
	}
	err := l.get(ctx, "/api/2.0/mlflow/experiments/get-by-name", url.Values{"experiment_name": {name}}, &resp)
	return resp.Experiment.ExperimentID, err
}

// upstreamAnswer is an error answer of the upstream server, passed on to the caller
// as it came (a missing run is the caller's 404, not ours).
type upstreamAnswer struct {
	status int
	body   []byte
}

func (e *upstreamAnswer) Error() string { return fmt.Sprintf("upstream answered %d", e.status) }

// get calls the upstream's REST API and decodes a 200 answer into out.
func (l *lookups) get(ctx context.Context, path string, query url.Values, out any) error {
	u := l.upstream.JoinPath(path)
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := l.client.Do(req)
	if err != nil {
		return errUpstreamDown
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJSONBytes))
	if err != nil {
		return errUpstreamDown
	}
	if res.StatusCode != http.StatusOK {
		return &upstreamAnswer{status: res.StatusCode, body: body}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode the upstream's answer to %s: %w", path, err)
	}
	return nil
}

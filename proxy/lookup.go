package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// lookups asks the upstream MLflow server what a decision needs: which experiment
// a run or logged model belongs to, and which id an experiment name has. A run or
// logged model never moves to another experiment, so those answers are cached; a
// name can be renamed, so that one is not.
type lookups struct {
	upstream *url.URL
	client   *http.Client
	runs     immutableCache
	models   immutableCache
}

// immutableCache remembers answers that cannot change. It forgets everything when
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

func (l *lookups) runExperiment(ctx context.Context, runID string) (string, error) {
	if exp, ok := l.runs.get(runID); ok {
		return exp, nil
	}
	var resp struct {
		Run struct {
			Info struct {
				ExperimentID string `json:"experiment_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := l.get(ctx, "/api/2.0/mlflow/runs/get", url.Values{"run_id": {runID}}, &resp); err != nil {
		return "", err
	}
	exp := resp.Run.Info.ExperimentID
	l.runs.put(runID, exp)
	return exp, nil
}

func (l *lookups) loggedModelExperiment(ctx context.Context, modelID string) (string, error) {
	if exp, ok := l.models.get(modelID); ok {
		return exp, nil
	}
	var resp struct {
		Model struct {
			Info struct {
				ExperimentID string `json:"experiment_id"`
			} `json:"info"`
		} `json:"model"`
	}
	if err := l.get(ctx, "/api/2.0/mlflow/logged-models/"+url.PathEscape(modelID), nil, &resp); err != nil {
		return "", err
	}
	exp := resp.Model.Info.ExperimentID
	l.models.put(modelID, exp)
	return exp, nil
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

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
	"strconv"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// hook runs after a successful upstream answer and returns the body to send on.
type hook func(ctx context.Context, c *call, body []byte) ([]byte, error)

// rewrite changes a request before it is forwarded.
type rewrite func(ctx context.Context, c *call) error

// grantManage makes the caller a manager of what they just created, as MLflow
// does. A stale grant left from an earlier resource of that id is raised to MANAGE;
// one that is MANAGE already is left, unwritten and without a row (a scorer's
// manager registering its next version). Each write has its audit row in its transaction.
func (c *call) grantManage(ctx context.Context, r permission.Resource) error {
	guard, op := c.proxy.guard, c.decision.Action
	after := &storage.Grant{UserID: c.user.ID, Username: c.user.Username, Resource: r, Level: permission.Manage}
	_, err := c.proxy.grants.CreateGrant(guard.WithGrantAudit(ctx, op, "grant.create", r, nil, after), c.user.ID, r, permission.Manage)
	if errors.Is(err, storage.ErrAlreadyExists) {
		var before storage.Grant
		if before, err = c.proxy.grants.Grant(ctx, c.user.ID, r); err == nil && before.Level != permission.Manage {
			_, err = c.proxy.grants.UpdateGrant(guard.WithGrantAudit(ctx, op, "grant.update", r, &before, after), c.user.ID, r, permission.Manage)
		}
	}
	if err != nil {
		slog.ErrorContext(ctx, "could not grant MANAGE to a creator", "resource", r.String(), "user", c.user.Username, "err", err)
		return &apiError{http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE",
			"Created " + r.String() + ", but making you its manager failed; ask an admin to grant you MANAGE on it."}
	}
	return nil
}

// grantOnlyManage makes the caller the only grantee of a resource MLflow has just
// made under an id that may have been another's: grants left on it belong to a
// predecessor removed behind the proxy's back (`mlflow gc`), and must not carry over.
func (c *call) grantOnlyManage(ctx context.Context, r permission.Resource) error {
	if err := c.proxy.grants.DeleteResourceGrants(c.bulkGrantAudit(ctx, "grant.delete_all", r), r); err != nil {
		return fmt.Errorf("the grants left on the new %s were not removed: %w", r, err)
	}
	return c.grantManage(ctx, r)
}

// grantCreatorExperiment: MLflow reuses the id of a purged experiment (on SQLite),
// so the new one starts with its creator's grant alone.
func grantCreatorExperiment(ctx context.Context, c *call, body []byte) ([]byte, error) {
	var created struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ExperimentID == "" {
		return nil, errors.New("the upstream's CreateExperiment answer has no experiment_id")
	}
	return body, c.grantOnlyManage(ctx, experiment(created.ExperimentID))
}

func grantCreatorModel(ctx context.Context, c *call, body []byte) ([]byte, error) {
	return body, c.grantManage(ctx, permission.Resource{Type: permission.RegisteredModel, ID: c.param("name")})
}

// grantCreatorScorer makes whoever registers a scorer (or a new version of one)
// its manager, as MLflow does. A new scorer (version 1) starts with that grant
// alone: others left on its name are those of a scorer of a purged experiment.
func grantCreatorScorer(ctx context.Context, c *call, body []byte) ([]byte, error) {
	var registered struct {
		ExperimentID string `json:"experiment_id"`
		Name         string `json:"name"`
		Version      int64  `json:"version"`
	}
	if err := json.Unmarshal(body, &registered); err != nil || registered.ExperimentID == "" || registered.Name == "" {
		return nil, errors.New("the upstream's RegisterScorer answer has no experiment_id and name")
	}
	scorer := permission.ScorerResource(registered.ExperimentID, registered.Name)
	if registered.Version == 1 {
		return body, c.grantOnlyManage(ctx, scorer)
	}
	return body, c.grantManage(ctx, scorer)
}

// dropScorerGrants removes the grants of a deleted scorer, so a new scorer of that
// name does not inherit them; deleting one version leaves the scorer.
func dropScorerGrants(ctx context.Context, c *call, body []byte) ([]byte, error) {
	if c.body["version"] != nil {
		return body, nil
	}
	return body, c.dropGrants(ctx, permission.ScorerResource(c.param("experiment_id"), c.param("name")))
}

// configsReadable refuses online scoring configs of an experiment the caller may
// not read, all or nothing, as MLflow's validate_can_read_online_scoring_configs;
// the configs are found by scorer id, so only the answer tells their experiments.
func configsReadable(_ context.Context, c *call, body []byte) ([]byte, error) {
	if c.user.IsAdmin {
		return body, nil
	}
	var answer struct {
		Configs []struct {
			ExperimentID string `json:"experiment_id"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, errors.New("the upstream's online scoring configs are not JSON")
	}
	for _, config := range answer.Configs {
		if err := c.requireRead(experiment(config.ExperimentID)); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// dropModelGrants removes the grants of a deleted model, so a new model of that
// name does not inherit them.
func dropModelGrants(ctx context.Context, c *call, body []byte) ([]byte, error) {
	return body, c.dropGrants(ctx, permission.Resource{Type: permission.RegisteredModel, ID: c.param("name")})
}

// bulkGrantAudit asks DeleteResourceGrants or MoveGrants to record its change
// of r's grants by the caller; the store fills in the grants it removed or moved.
func (c *call) bulkGrantAudit(ctx context.Context, event string, r permission.Resource) context.Context {
	return c.proxy.guard.WithGrantAudit(ctx, c.decision.Action, event, r, nil, nil)
}

// dropGrants removes the grants of a deleted resource; a failure says what is left.
func (c *call) dropGrants(ctx context.Context, r permission.Resource) error {
	if err := c.proxy.grants.DeleteResourceGrants(c.bulkGrantAudit(ctx, "grant.delete_all", r), r); err != nil {
		return fmt.Errorf("the grants on the deleted %s were left in place: %w", r, err)
	}
	return nil
}

// readRenamedGrants reads the grants of a model about to be renamed, for everyone
// alike: only these move with it. Once MLflow has renamed it, a new model may take
// the old name, and its creator's MANAGE must stay with that new model.
func (c *call) readRenamedGrants(ctx context.Context) error {
	model := permission.Resource{Type: permission.RegisteredModel, ID: c.param("name")}
	grants, err := c.proxy.grants.GrantsOnResource(ctx, model, 0, 0)
	if err != nil {
		slog.ErrorContext(ctx, "could not read the grants of a model to rename", "resource", model.String(), "err", err)
		return &apiError{http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "The model's permissions could not be read; try again later."}
	}
	c.renamed = grants
	return nil
}

// moveModelGrants keeps a renamed model's grants with it: those it had before the
// rename (readRenamedGrants), as they were then.
func moveModelGrants(ctx context.Context, c *call, body []byte) ([]byte, error) {
	from := permission.Resource{Type: permission.RegisteredModel, ID: c.param("name")}
	to := permission.Resource{Type: permission.RegisteredModel, ID: c.param("new_name")}
	if err := c.proxy.grants.MoveGrants(c.bulkGrantAudit(ctx, "grant.move", from), c.renamed, to); err != nil {
		return nil, fmt.Errorf("the grants on %s were not moved to the renamed %s: %w", from, to, err)
	}
	return body, nil
}

// searchReadableExperiments narrows a run search to the experiments the caller may
// read, as MLflow does; when none is left, it answers with no runs itself.
func searchReadableExperiments(_ context.Context, c *call) error {
	readable, err := c.readableExperiments(c.params("experiment_ids"))
	if err != nil {
		return err
	}
	if len(readable) == 0 {
		return errNoResults
	}
	c.body["experiment_ids"] = readable
	raw, err := json.Marshal(c.body)
	if err != nil {
		return err
	}
	c.setBody(raw)
	return nil
}

// defaultArtifactLocation refuses a new experiment whose artifact location the
// caller chose, which MLflow allows: another experiment's location would serve
// that experiment's artifacts under the new experiment's grants. Admins may.
func defaultArtifactLocation(_ context.Context, c *call) error {
	if c.param("artifact_location") != "" {
		return &apiError{http.StatusForbidden, "PERMISSION_DENIED", "Only admins may choose a new experiment's artifact location."}
	}
	return nil
}

// versionSourceReadable refuses a new model version whose source the caller may not
// read, as MLflow 3.17 does: the version's files are then served to anyone who may
// read the model (/model-versions/get-artifact), so a version of one's own model
// could otherwise copy out another experiment's artifacts. A registered model as
// the source (models:/name/1, models:/name@alias) needs READ on that model alone;
// otherwise the run (run_id, runs:/), the logged model (model_id, models:/m-...)
// and the experiment of an mlflow-artifacts: path named each need READ; any other
// source is left to admins. Older
// MLflow servers do not check that the source lies in the run's artifacts, hence
// the checks of the source URI itself.
func versionSourceReadable(ctx context.Context, c *call) error {
	var resources []permission.Resource
	source := cleanURL(c.param("source"))
	if err := required("source", source); err != nil {
		return err
	}
	scheme, rest, _ := strings.Cut(source, ":")
	switch strings.ToLower(scheme) {
	case "models":
		rest, _, _ = strings.Cut(rest, "?") // MLflow's urlparse leaves a query out of the path
		path, ok := strings.CutPrefix(rest, "/")
		if !ok || strings.HasPrefix(path, "/") || path == "" {
			return badRequest("Invalid model version source: '%s'.", source)
		}
		if name, _, ok := strings.Cut(path, "/"); ok {
			return c.requireRead(permission.Resource{Type: permission.RegisteredModel, ID: name})
		}
		if i := strings.LastIndex(path, "@"); i >= 0 {
			return c.requireRead(permission.Resource{Type: permission.RegisteredModel, ID: path[:i]})
		}
		rs, err := experimentsOf(ctx, []string{path}, c.proxy.lookups.loggedModelExperiment)
		if err != nil {
			return err
		}
		resources = append(resources, rs...)
	case "runs":
		runID, _, _ := strings.Cut(strings.TrimLeft(rest, "/"), "/")
		rs, err := c.runExperiments(ctx, []string{runID})
		if err != nil {
			return err
		}
		resources = append(resources, rs...)
	case "mlflow-artifacts":
		path := rest
		if after, ok := strings.CutPrefix(path, "//"); ok { // mlflow-artifacts://host/path
			_, path, _ = strings.Cut(after, "/")
		}
		rs, err := artifactExperiment(ctx, &call{pathParams: pathParams{"path": path}})
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return errNamesNoExperiment
		}
		resources = append(resources, rs...)
	default:
		// Any other URI (a path, file:, s3:, ...) could name another experiment's
		// artifacts in a way the proxy cannot read.
		return &apiError{http.StatusForbidden, "PERMISSION_DENIED",
			"Only admins may create a model version whose source is not a models:/, runs:/ or mlflow-artifacts: URI."}
	}
	// The run and logged model the version names, whatever its source says.
	for field, lookup := range map[string]func(context.Context, string) (string, error){
		"run_id": c.proxy.lookups.runExperiment, "model_id": c.proxy.lookups.loggedModelExperiment,
	} {
		v, ok := c.body[field]
		if !ok {
			continue
		}
		id, _ := v.(string)
		if id == "" {
			return errDenied
		}
		rs, err := experimentsOf(ctx, []string{id}, lookup)
		if err != nil {
			return err
		}
		resources = append(resources, rs...)
	}
	return c.requireRead(resources...)
}

func (c *call) requireRead(resources ...permission.Resource) error {
	for _, r := range resources {
		ok, err := c.check(r, needRead)
		if err != nil {
			return err
		}
		if !ok {
			return errDenied
		}
	}
	return nil
}

func (c *call) canRead(r permission.Resource) (bool, error) {
	l, err := c.level(r)
	return l.CanRead(), err
}

// readableExperiments keeps the ids of the experiments the caller may read.
func (c *call) readableExperiments(ids []string) ([]string, error) {
	var readable []string
	for _, id := range ids {
		if err := checkExperimentID(id); err != nil {
			return nil, err
		}
		ok, err := c.canRead(experiment(id))
		if err != nil {
			return nil, err
		}
		if ok {
			readable = append(readable, id)
		}
	}
	return readable, nil
}

// errNoResults stops a search that can find nothing the caller may see; the
// proxy answers it with an empty result.
var errNoResults = errors.New("nothing the caller may read")

// The search filters: drop what the caller may not read, then refill the page
// from later pages so that max_results and next_page_token still behave.
var (
	filterExperiments   = searchFilter{list: "experiments", key: "experiment_id", typ: permission.Experiment, defaultMax: 1000, refill: true}.hook
	filterModels        = searchFilter{list: "registered_models", key: "name", typ: permission.RegisteredModel, defaultMax: 100, refill: true}.hook
	filterModelVersions = searchFilter{list: "model_versions", key: "name", typ: permission.RegisteredModel}.hook
)

type searchFilter struct {
	list       string // the answer's list of results
	key        string // the field of a result that names its resource
	typ        permission.ResourceType
	defaultMax int
	refill     bool
}

// maxRefills bounds the extra upstream queries for one page.
const maxRefills = 20

func (f searchFilter) hook(ctx context.Context, c *call, body []byte) ([]byte, error) {
	if c.user.IsAdmin {
		return body, nil
	}
	page, kept, err := f.readable(c, body)
	if err != nil {
		return nil, err
	}
	if f.refill {
		want := f.defaultMax
		if n, err := strconv.Atoi(c.param("max_results")); err == nil && n > 0 {
			want = n
		}
		token := pageToken(page)
		for range maxRefills {
			if len(kept) >= want || token == "" {
				break
			}
			// Ask for exactly what is missing, so that every fetched page is used
			// whole and the upstream's token stays right.
			more, err := c.refetch(ctx, token, want-len(kept))
			if err != nil {
				return nil, err
			}
			next, items, err := f.readable(c, more)
			if err != nil {
				return nil, err
			}
			kept = append(kept, items...)
			token = pageToken(next)
		}
		page["next_page_token"], _ = json.Marshal(token)
	}
	page[f.list], _ = json.Marshal(kept)
	return json.Marshal(page)
}

// readable decodes one page and keeps the results the caller may read. Results
// stay raw JSON, so numbers (timestamps) pass through unchanged.
func (f searchFilter) readable(c *call, body []byte) (map[string]json.RawMessage, []json.RawMessage, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, nil, errors.New("the upstream's search answer is not a JSON object")
	}
	var items []json.RawMessage
	if raw, ok := page[f.list]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, nil, errors.New("the upstream's search answer has no list of " + f.list)
		}
	}
	kept := []json.RawMessage{}
	for _, item := range items {
		var fields map[string]json.RawMessage
		var id string
		if json.Unmarshal(item, &fields) != nil || json.Unmarshal(fields[f.key], &id) != nil {
			continue
		}
		ok, err := c.canRead(permission.Resource{Type: f.typ, ID: id})
		if err != nil {
			return nil, nil, err
		}
		if ok {
			kept = append(kept, item)
		}
	}
	return page, kept, nil
}

func pageToken(page map[string]json.RawMessage) string {
	var token string
	json.Unmarshal(page["next_page_token"], &token)
	return token
}

// refetch repeats the caller's search upstream for another page.
func (c *call) refetch(ctx context.Context, token string, maxResults int) ([]byte, error) {
	u := c.proxy.lookups.upstream.JoinPath(c.req.URL.Path)
	var body io.Reader
	if c.req.Method == http.MethodGet {
		q := c.req.URL.Query()
		q.Set("page_token", token)
		q.Set("max_results", strconv.Itoa(maxResults))
		u.RawQuery = q.Encode()
	} else {
		params := map[string]any{}
		for k, v := range c.body {
			params[k] = v
		}
		params["page_token"], params["max_results"] = token, maxResults
		raw, err := json.Marshal(params)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, c.req.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.proxy.lookups.client.Do(req)
	if err != nil {
		return nil, errUpstreamDown
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxJSONBytes))
	if err != nil {
		return nil, errUpstreamDown
	}
	if res.StatusCode != http.StatusOK {
		return nil, &upstreamAnswer{status: res.StatusCode, body: raw}
	}
	return raw, nil
}

// Package proxy is mlflow-auth's front door for an MLflow tracking server that runs
// without any auth app: every request is authenticated, checked against MLflow's
// validator table (routes.go), and then streamed to the upstream server. Routes
// not in the table are refused to everyone but admins.
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
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/mlflow-auth/mlflow-auth/decision"
	"github.com/mlflow-auth/mlflow-auth/metrics"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// Guard is what the proxy asks of the auth service.
type Guard interface {
	// Authenticate checks the value of an Authorization header. The context it
	// returns is the one to ask Permissions with (it knows the credentials' limits).
	Authenticate(ctx context.Context, header string) (context.Context, storage.User, error)
	// Permissions returns the user's effective permission on any resource and
	// what decided it, for the duration of one request; its answers may need the
	// store, and so may fail.
	Permissions(ctx context.Context, u storage.User) func(permission.Resource) (resolve.Decision, error)
	// Decided takes the decision on a request of the caller Authenticate
	// returned ctx for (it fills in d.Principal): for the log, metrics and audit trail.
	Decided(ctx context.Context, d decision.Decision)
	// WithGrantAudit asks the next grant write made with the context it returns
	// to record, in the same transaction, the audit row of that change by the
	// caller as part of the proxied operation (storage.WithAudit). For
	// DeleteResourceGrants and MoveGrants before and after are nil: the store
	// records the grants it removed or moved.
	WithGrantAudit(ctx context.Context, operation, event string, r permission.Resource, before, after *storage.Grant) context.Context
	// WriteError answers with MLflow's error JSON for err, including the proxy's
	// own errors (which implement MLflowError).
	WriteError(w http.ResponseWriter, err error)
}

// Grants is the part of the store the after-hooks write.
type Grants interface {
	Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error)
	CreateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error)
	UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error)
	DeleteResourceGrants(ctx context.Context, r permission.Resource) error
	GrantsOnResource(ctx context.Context, r permission.Resource, afterUserID int32, limit int) ([]storage.Grant, error)
	MoveGrants(ctx context.Context, grants []storage.Grant, to permission.Resource) error
}

// Proxy is an http.Handler for everything that is not mlflow-auth's own API.
type Proxy struct {
	guard   Guard
	grants  Grants
	forward *httputil.ReverseProxy
	lookups *lookups
}

// maxJSONBytes bounds an upstream answer the proxy reads.
const maxJSONBytes = 64 << 20

// What the proxy reads of a request body to decide on it, at most. MLflow sets no
// bound of its own; these hold what its clients send, escapes included.
const (
	maxAPIBody  = 4 << 20  // an ordinary call; MLflow's longest field, a model tag, is 100,000 characters
	maxBulkBody = 32 << 20 // log-batch (100 params, 100 tags and 1,000 metrics) and log-inputs (a dataset profile of up to 16 MB)
	maxSpanBody = 64 << 20 // an OTLP span batch, before and after decompression
)

// New returns a proxy to the MLflow server at upstream.
func New(upstream *url.URL, guard Guard, grants Grants) *Proxy {
	p := &Proxy{guard: guard, grants: grants, lookups: &lookups{upstream: upstream, client: &http.Client{}}}
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
			pr.Out.Header.Del("Authorization") // the upstream has no use for passwords
			if c := callFrom(pr.In.Context()); c != nil && c.after != nil {
				pr.Out.Header.Del("Accept-Encoding") // the hook reads the answer
			}
		},
		ModifyResponse: p.afterResponse,
		ErrorHandler:   p.proxyError,
	}
	return p
}

// Instrument times MLflow's answers into m, starts the series of its decisions'
// groups, and makes a span of each call to MLflow that carries the trace on
// (W3C traceparent) when tracing is on.
func (p *Proxy) Instrument(m *metrics.Metrics) {
	upstream := otelhttp.NewTransport(m.Upstream(http.DefaultTransport),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "mlflow " + r.Method }))
	p.forward.Transport = upstream
	p.lookups.client.Transport = upstream
	for i := range routes {
		m.DecisionGroups(routes[i].group(routes[i].method, routes[i].pattern))
	}
	m.DecisionGroups((*route)(nil).group("", ""))
}

// call is one request on its way through the proxy.
type call struct {
	proxy      *Proxy
	req        *http.Request
	route      *route
	pathParams pathParams
	query      url.Values
	body       map[string]any // the JSON body of API calls; nil for artifacts and GETs
	user       storage.User
	resolve    func(permission.Resource) (resolve.Decision, error)
	level      func(permission.Resource) (permission.Level, error) // resolve's level
	workspace  string
	decision   decision.Decision
	refusal    string          // why the call was refused, when a check said so
	decided    bool            // decision is final: the request was allowed or refused
	after      hook            // the route's after-hook; nil when the answer passes as it is
	graphql    *graphqlRequest // a non-admin's GraphQL request, for its after-hook
	renamed    []storage.Grant // a renamed model's grants before the rename, which move with it
}

type callKey struct{}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// open reports paths served without credentials, as MLflow's basic-auth app does:
// the UI's static files.
func open(path string) bool {
	return strings.HasPrefix(path, "/static-files/") || path == "/favicon.ico"
}

// uiPage reports the UI's entry points, which hold no data and are open to every user.
func uiPage(method, path string) bool {
	return method == http.MethodGet && (path == "/" || path == "/version")
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if open(r.URL.Path) {
		metrics.SetRoute(r.Context(), "mlflow static")
		p.forward.ServeHTTP(w, r)
		return
	}
	rt, params := find(r.Method, r.URL.Path)
	ctx, user, err := p.guard.Authenticate(decision.WithAction(r.Context(), rt.name()), r.Header.Get("Authorization"))
	if err != nil {
		p.guard.WriteError(w, err)
		return
	}
	// MLflow serves the workspace the header names (it goes upstream as sent),
	// so the decision and every grant the request writes are made in it.
	ws, err := workspace.Parse(r.Header.Get(workspace.Header))
	if err != nil {
		p.guard.WriteError(w, &apiError{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", err.Error()})
		return
	}
	ctx = workspace.With(ctx, ws)
	metrics.SetRoute(ctx, rt.name())
	c := &call{proxy: p, req: r, route: rt, pathParams: params, query: r.URL.Query(), user: user, workspace: workspace.From(ctx),
		decision: decision.Decision{Action: rt.name(), Group: rt.group(r.Method, r.URL.Path)}}
	if rt != nil {
		c.after = rt.after
	}
	// Reported once the answer is done: an after-hook may still refuse.
	defer func(ctx context.Context) {
		if c.decided {
			p.guard.Decided(ctx, c.decision)
		}
	}(ctx)
	err = p.decide(ctx, c)
	c.settle(err)
	if errors.Is(err, errNoResults) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
		return
	} else if err != nil {
		p.guard.WriteError(w, err)
		return
	}
	ctx = context.WithValue(ctx, callKey{}, c)
	if c.after != nil {
		// MLflow acts on a request whose client hangs up, and the hook must follow it
		// (a rename's grants move with the model): its answer is still awaited.
		var cancel context.CancelFunc
		ctx, cancel = outliveClient(ctx)
		defer cancel()
	}
	p.forward.ServeHTTP(w, r.WithContext(ctx))
}

// afterHookTimeout bounds how long the proxy still waits for MLflow's answer once
// the client has gone, and how long an after-hook may run.
const afterHookTimeout = 30 * time.Second

// outliveClient returns a context that ends afterHookTimeout after ctx does.
func outliveClient(ctx context.Context) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(afterHookTimeout, cancel) })
	return out, func() { stop(); cancel() }
}

// decide applies the route's rule; nil means forward the request.
func (p *Proxy) decide(ctx context.Context, c *call) error {
	c.resolve = p.guard.Permissions(ctx, c.user)
	c.level = func(r permission.Resource) (permission.Level, error) {
		d, err := c.resolve(r)
		return d.Level, err
	}
	if c.user.IsAdmin {
		c.decision.Reason = "admin"
	}
	if c.route == nil {
		if c.user.IsAdmin {
			return nil
		}
		if uiPage(c.req.Method, c.req.URL.Path) {
			c.decision.Reason = "UI page"
			return nil
		}
		slog.WarnContext(ctx, "refused an MLflow route that has no rule", "method", c.req.Method, "path", c.req.URL.Path, "user", c.user.Username)
		c.refusal = "not an admin, and the route has no rule"
		return errDenied
	}
	if c.req.Method == http.MethodGet {
		// MLflow reads a GET's parameters from a JSON body when its query is empty;
		// the proxy decides on the query alone, so no body goes upstream.
		c.setBody(nil)
	} else if !c.route.streamsBody() {
		if err := c.readJSONBody(); err != nil {
			return err
		}
	}
	if c.route.pattern == renameModelPath {
		if err := c.readRenamedGrants(ctx); err != nil {
			return err
		}
	}
	if c.user.IsAdmin {
		return nil
	}
	if c.route.locate != nil {
		resources, err := c.route.locate(ctx, c)
		if err != nil {
			return err
		}
		if len(resources) == 0 {
			return errNamesNoExperiment
		}
		for _, r := range resources {
			ok, err := c.check(r, c.route.need)
			if err != nil {
				return err
			}
			if !ok {
				return errDenied
			}
		}
	} else if c.route.need != needUser {
		c.refusal = "not an admin"
		return errDenied
	}
	if c.route.rewrite != nil {
		return c.route.rewrite(ctx, c)
	}
	return nil
}

// check reports whether the caller's permission on r meets n, and records the
// check in the call's decision.
func (c *call) check(r permission.Resource, n need) (bool, error) {
	rd, err := c.resolve(r)
	if err != nil {
		return false, err
	}
	c.decision.Checked(r, c.workspace, rd)
	c.decision.Required = n.level()
	if !n.allows(rd.Level) {
		c.refusal = "no " + string(n.level()) + " on the resource"
		return false, nil
	}
	return true, nil
}

// settle makes the call's decision final by how err ended it: allowed (nil,
// errNoResults) or refused (any PERMISSION_DENIED of the proxy's own). Other
// errors (bad input, an upstream or store that failed) leave it undecided.
func (c *call) settle(err error) {
	var own *apiError
	switch {
	case err == nil || errors.Is(err, errNoResults):
		c.decided, c.decision.Allowed = true, true
		if c.decision.Reason == "" {
			c.decision.Reason = "any user"
		}
	case errors.As(err, &own) && own.status == http.StatusForbidden:
		c.decided, c.decision.Allowed = true, false
		switch {
		case c.refusal != "":
			c.decision.Reason = c.refusal
		case own.message != errDenied.message:
			c.decision.Reason = own.message
		default:
			c.decision.Reason = "refused by the route's rule"
		}
	default:
		c.decided = false
	}
}

// streamsBody reports routes whose bodies are not read as the REST API's JSON:
// artifacts and evaluation dataset records, decided on their path and streamed as
// they come, and OTLP spans and GraphQL queries, which their rewrites read.
func (r *route) streamsBody() bool {
	return strings.HasPrefix(r.pattern, "/2.0/mlflow-artifacts/") || r.pattern == datasetRecordsPath ||
		r.pattern == otlpPath || r.pattern == graphqlPath
}

// bodyLimit is the most the proxy reads of the route's request body.
func (r *route) bodyLimit() int64 {
	switch r.pattern {
	case "/2.0/mlflow/runs/log-batch", "/2.0/mlflow/runs/log-inputs":
		return maxBulkBody
	case otlpPath:
		return maxSpanBody
	}
	return maxAPIBody
}

// readJSONBody parses an API call's JSON body (kept for forwarding) so that locators
// and hooks can read its parameters. MLflow reads these parameters from the body
// alone, whatever the Content-Type (Flask's get_json(force=True); a POST that is not
// application/json it refuses), so the proxy does too; a body it cannot read as
// one JSON object is refused rather than guessed at.
func (c *call) readJSONBody() error {
	raw, err := c.readBody()
	if err != nil {
		return err
	}
	c.body = map[string]any{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil // no parameters
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // forwarded bodies keep their numbers exactly
	if err := dec.Decode(&c.body); err != nil || c.body == nil {
		return badRequest("The request body is not a JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("The request body is not a JSON object.")
	}
	return c.normalizeFieldNames()
}

// normalizeFieldNames renames the body's lowerCamelCase field names to the
// snake_case ones the locators read. MLflow's protobuf parser accepts both spellings
// of a field (runId for run_id), so a body could otherwise name one run to the
// proxy and another to MLflow. A body with both spellings is refused, as MLflow 3.17 does.
func (c *call) normalizeFieldNames() error {
	for key, v := range c.body {
		name := snakeCase(key)
		if name == key || lowerCamelCase(name) != key {
			continue // not the JSON name of a field
		}
		if _, ok := c.body[name]; ok {
			return badRequest("Request specifies both '%s' and '%s'; provide only one of them.", name, key)
		}
		delete(c.body, key)
		c.body[name] = v
	}
	return nil
}

// snakeCase turns runId into run_id.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lowerCamelCase is protobuf's JSON name of a field: run_id becomes runId.
func lowerCamelCase(s string) string {
	var b strings.Builder
	upper := false
	for _, r := range s {
		switch {
		case r == '_':
			upper = true
			continue
		case upper && 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}

// readBody reads a request body the proxy decides on, at most the route's bound
// (a body that says it is longer is refused unread), and keeps it to be forwarded.
func (c *call) readBody() ([]byte, error) {
	limit := c.route.bodyLimit()
	if c.req.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	raw, err := io.ReadAll(io.LimitReader(c.req.Body, limit+1))
	if err != nil {
		return nil, badRequest("The request body could not be read.")
	}
	if int64(len(raw)) > limit {
		return nil, tooLarge(limit)
	}
	c.setBody(raw)
	return raw, nil
}

// setBody makes raw the body that is forwarded.
func (c *call) setBody(raw []byte) {
	c.req.Body = io.NopCloser(bytes.NewReader(raw))
	c.req.ContentLength = int64(len(raw))
	c.req.Header.Set("Content-Length", strconv.Itoa(len(raw)))
}

// afterResponse runs the route's hook on a successful answer, replacing its body
// when the hook changes it.
func (p *Proxy) afterResponse(res *http.Response) error {
	c := callFrom(res.Request.Context())
	if c == nil || c.after == nil || res.StatusCode/100 != 2 {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJSONBytes))
	res.Body.Close()
	if err != nil {
		return errUpstreamDown
	}
	// The change is made upstream: the hook runs to its end whatever the client does.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(res.Request.Context()), afterHookTimeout)
	defer cancel()
	out, err := c.after(ctx, c, body)
	var mlflowErr interface{ MLflowError() (int, string, string) }
	if err != nil && !errors.As(err, &mlflowErr) {
		slog.ErrorContext(ctx, "after-hook failed", "path", res.Request.URL.Path, "user", c.user.Username, "err", err)
		return &apiError{http.StatusInternalServerError, "INTERNAL_ERROR",
			"MLflow made the change, but updating its permissions failed; ask an admin to check them."}
	}
	if err != nil {
		c.settle(err) // a hook that refuses what the answer holds
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// proxyError answers when the upstream cannot be reached or a hook failed.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		w.WriteHeader(499) // the client went away
		return
	}
	var mlflowErr interface{ MLflowError() (int, string, string) }
	if !errors.As(err, &mlflowErr) {
		slog.WarnContext(r.Context(), "MLflow upstream unreachable", "err", err)
		err = errUpstreamDown
	}
	p.guard.WriteError(w, err)
}

// apiError is an answer the proxy gives itself, in MLflow's error JSON.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// MLflowError lets the service's error writer answer with this error's status, code and message.
func (e *apiError) MLflowError() (int, string, string) { return e.status, e.code, e.message }

// MLflowError passes the upstream's own error answer on.
func (e *upstreamAnswer) MLflowError() (int, string, string) {
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(e.body, &body) != nil || body.ErrorCode == "" {
		body.ErrorCode, body.Message = "INTERNAL_ERROR", fmt.Sprintf("The MLflow server answered %d.", e.status)
	}
	return e.status, body.ErrorCode, body.Message
}

var (
	errDenied = &apiError{http.StatusForbidden, "PERMISSION_DENIED", "Permission denied"}
	// An artifact path outside every experiment's directory (the root, or an
	// experiment's artifact_location an admin chose): whose it is, the proxy cannot tell.
	errNamesNoExperiment = &apiError{http.StatusForbidden, "PERMISSION_DENIED", "Only admins may reach artifacts that lie in no experiment's directory."}
	errUpstreamDown      = &apiError{http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "The MLflow tracking server is unavailable; try again later."}
)

// tooLarge answers a body over limit bytes, as mlflow-auth's own API does.
func tooLarge(limit int64) error {
	return &apiError{http.StatusRequestEntityTooLarge, "BAD_REQUEST", fmt.Sprintf("The request body is larger than %d MiB.", limit>>20)}
}

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf(format, args...)}
}

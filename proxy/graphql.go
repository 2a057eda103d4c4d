package proxy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// MLflow's UI reads experiments, runs, artifacts and metric histories through
// POST /graphql. MLflow's basic-auth app decides each of its root fields inside
// MLflow (GraphQLAuthorizationMiddleware); the proxy does the same from outside:
// it parses the query, finds the operation MLflow will run, and checks every root
// field by the resources its input names. A field it does not know is refused.
// Where MLflow narrows a search to the readable experiments, the proxy narrows the
// variable that lists them; model versions in the answer (run.modelVersions,
// mlflowSearchModelVersions) are filtered to the readable models afterwards.

const graphqlPath = "/graphql"

// graphqlRequest is a POST /graphql body, as MLflow reads it.
type graphqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName *string        `json:"operationName"`

	operation *ast.OperationDefinition
	fragments ast.FragmentDefinitionList
}

// graphqlAuthorize decides a non-admin's GraphQL request (the route's rewrite).
func graphqlAuthorize(ctx context.Context, c *call) error {
	raw, err := c.readBody()
	if err != nil {
		return err
	}
	q, err := parseGraphQL(raw)
	if err != nil {
		return err
	}
	narrowed := false
	for _, f := range q.rootFields() {
		changed, err := q.authorizeField(ctx, c, f)
		if err != nil {
			return err
		}
		narrowed = narrowed || changed
	}
	c.graphql = q
	if !selectsVersions(q.operation.SelectionSet, q.fragments) {
		c.after = nil // nothing to filter: the answer streams through
	}
	if narrowed {
		if raw, err = json.Marshal(q); err != nil {
			return err
		}
		c.setBody(raw)
	}
	return nil
}

func parseGraphQL(raw []byte) (*graphqlRequest, error) {
	// The body's keys are read exactly as MLflow reads them: Go would fill a struct
	// field from "Query" as well, while MLflow runs only what "query" holds.
	var fields map[string]json.RawMessage
	q := &graphqlRequest{}
	if decodeJSON(raw, &fields) != nil || fields == nil ||
		decodeJSON(fields["query"], &q.Query) != nil ||
		decodeJSON(fields["variables"], &q.Variables) != nil ||
		decodeJSON(fields["operationName"], &q.OperationName) != nil {
		return nil, badRequest("The request body is not a GraphQL request: a JSON object with a string 'query'.")
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: q.Query})
	if err != nil {
		return nil, badRequest("The GraphQL query could not be parsed: %s", err.Error())
	}
	// The operation graphql-core executes: the one named, or the only one.
	for _, op := range doc.Operations {
		if q.OperationName == nil || op.Name == *q.OperationName {
			if q.operation != nil {
				return nil, badRequest("The GraphQL query needs one operation named by operationName.")
			}
			q.operation = op
		}
	}
	if q.operation == nil {
		return nil, badRequest("The GraphQL query has no operation to run.")
	}
	if q.operation.Operation == ast.Subscription {
		return nil, errDenied
	}
	q.fragments = doc.Fragments
	// Variables the request leaves out take their defaults, as MLflow runs it; the
	// decision is made on what MLflow will see.
	if q.Variables == nil {
		q.Variables = map[string]any{}
	}
	for _, v := range q.operation.VariableDefinitions {
		if _, ok := q.Variables[v.Variable]; !ok && v.DefaultValue != nil {
			if q.Variables[v.Variable], err = literal(v.DefaultValue); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

// decodeJSON decodes one JSON value, keeping numbers exact for forwarding; an
// absent value (nil) leaves v as it is.
func decodeJSON(raw json.RawMessage, v any) error {
	if raw == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// literal is the value of a default, which holds no variables.
func literal(v *ast.Value) (any, error) {
	val, err := v.Value(nil)
	if err != nil {
		return nil, badRequest("The GraphQL query has an invalid value: %s", v.String())
	}
	return val, nil
}

// rootFields are the operation's fields, fragments spread in.
func (q *graphqlRequest) rootFields() []*ast.Field {
	return fields(q.operation.SelectionSet, q.fragments)
}

// fields flattens a selection set: its own fields and those of its fragments (each
// fragment once, so a cycle ends). @skip and @include are ignored: a field that may
// run is decided as if it does.
func fields(set ast.SelectionSet, fragments ast.FragmentDefinitionList) []*ast.Field {
	var out []*ast.Field
	seen := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				out = append(out, s)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if f := fragments.ForName(s.Name); f != nil && !seen[s.Name] {
					seen[s.Name] = true
					walk(f.SelectionSet)
				}
			}
		}
	}
	walk(set)
	return out
}

// authorizeField checks one root field; it reports whether it narrowed a variable.
func (q *graphqlRequest) authorizeField(ctx context.Context, c *call, f *ast.Field) (bool, error) {
	switch f.Name {
	case "__typename", "__schema", "__type", "test", "testMutation":
		return false, nil // the schema and echoes: nothing of anyone's
	case "mlflowGetExperiment":
		ids, _, err := q.inputStrings(f, "experimentId")
		if err != nil {
			return false, err
		}
		rs, err := experimentResources(ids)
		if err != nil {
			return false, err
		}
		return false, c.requireRead(rs...)
	case "mlflowGetRun", "mlflowListArtifacts":
		return false, q.requireRuns(ctx, c, f, "runId", "runUuid")
	case "mlflowGetMetricHistoryBulkInterval":
		return false, q.requireRuns(ctx, c, f, "runIds")
	case "mlflowSearchRuns", "mlflowSearchDatasets":
		return q.narrowExperiments(c, f)
	case "mlflowSearchModelVersions":
		return false, nil // the answer is filtered (graphqlFilterVersions)
	}
	slog.WarnContext(ctx, "refused a GraphQL field that has no rule", "field", f.Name, "user", c.user.Username)
	return false, errDenied
}

func (q *graphqlRequest) requireRuns(ctx context.Context, c *call, f *ast.Field, names ...string) error {
	var ids []string
	for _, name := range names {
		more, _, err := q.inputStrings(f, name)
		if err != nil {
			return err
		}
		ids = append(ids, more...)
	}
	rs, err := c.runExperiments(ctx, ids)
	if err != nil {
		return err
	}
	return c.requireRead(rs...)
}

// narrowExperiments keeps the readable experiments of a search, as MLflow does, when
// the list comes in a variable; a search of nothing readable, or a literal list that
// names an unreadable experiment, is refused.
func (q *graphqlRequest) narrowExperiments(c *call, f *ast.Field) (bool, error) {
	ids, set, err := q.inputStrings(f, "experimentIds")
	if err != nil {
		return false, err
	}
	readable, err := c.readableExperiments(ids)
	if err != nil {
		return false, err
	}
	if len(readable) == 0 {
		return false, errDenied
	}
	if len(readable) == len(ids) {
		return false, nil
	}
	if set == nil {
		return false, errDenied
	}
	set(readable)
	return true, nil
}

// input is the field's input argument, nil when there is none.
func input(f *ast.Field) *ast.Value {
	if a := f.Arguments.ForName("input"); a != nil {
		return a.Value
	}
	return nil
}

// inputValue is input.name as MLflow receives it: from the query's literal or from
// the variables. When a variable holds it, set replaces it there; else set is nil.
func (q *graphqlRequest) inputValue(f *ast.Field, name string) (value any, set func(any), err error) {
	in := input(f)
	if in == nil {
		return nil, nil, nil
	}
	switch in.Kind {
	case ast.Variable:
		obj, ok := q.Variables[in.Raw].(map[string]any)
		if !ok {
			return nil, nil, nil
		}
		return obj[name], func(v any) { obj[name] = v }, nil
	case ast.ObjectValue:
		v := in.Children.ForName(name)
		if v == nil {
			return nil, nil, nil
		}
		if v.Kind == ast.Variable {
			return q.Variables[v.Raw], func(val any) { q.Variables[v.Raw] = val }, nil
		}
		val, err := v.Value(q.Variables)
		if err != nil {
			return nil, nil, badRequest("The GraphQL query has an invalid value: %s", v.String())
		}
		return val, nil, nil
	}
	return nil, nil, badRequest("The GraphQL field %s needs an input object.", f.Name)
}

// inputStrings reads an id or a list of ids (GraphQL takes a single value where a
// list is expected), with inputValue's set. Anything but strings is refused.
func (q *graphqlRequest) inputStrings(f *ast.Field, name string) ([]string, func(any), error) {
	v, set, err := q.inputValue(f, name)
	if err != nil {
		return nil, nil, err
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []string
	for _, item := range list {
		switch item := item.(type) {
		case nil:
		case string:
			out = append(out, item)
		default:
			return nil, nil, badRequest("The GraphQL input field %s of %s must be a string or a list of strings.", name, f.Name)
		}
	}
	return out, set, nil
}

// graphqlFilterVersions drops from a non-admin's answer the model versions of
// registered models the caller may not read, wherever the query selected
// modelVersions (graphqlAuthorize drops the hook for queries that select none).
func graphqlFilterVersions(_ context.Context, c *call, body []byte) ([]byte, error) {
	if c.user.IsAdmin {
		return body, nil
	}
	var answer map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&answer); err != nil {
		return nil, errors.New("the upstream's GraphQL answer is not a JSON object")
	}
	var lookupErr error
	readable := func(name string) bool {
		ok, err := c.canRead(permission.Resource{Type: permission.RegisteredModel, ID: name})
		lookupErr = cmp.Or(lookupErr, err)
		return ok
	}
	filterVersions(c.graphql.operation.SelectionSet, c.graphql.fragments, answer["data"], readable)
	if lookupErr != nil {
		return nil, lookupErr
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(answer); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func selectsVersions(set ast.SelectionSet, fragments ast.FragmentDefinitionList) bool {
	for _, f := range fields(set, fragments) {
		if f.Name == "modelVersions" || selectsVersions(f.SelectionSet, fragments) {
			return true
		}
	}
	return false
}

// filterVersions walks an answer along the query that produced it. A modelVersions
// list keeps the versions whose model is readable; a version without its name
// selected cannot be judged and goes too.
func filterVersions(set ast.SelectionSet, fragments ast.FragmentDefinitionList, value any, readable func(string) bool) {
	switch value := value.(type) {
	case []any:
		for _, item := range value {
			filterVersions(set, fragments, item, readable)
		}
	case map[string]any:
		for _, f := range fields(set, fragments) {
			key := f.Alias
			if key == "" {
				key = f.Name
			}
			child := value[key]
			if list, ok := child.([]any); ok && f.Name == "modelVersions" {
				kept := []any{}
				for _, v := range list {
					if version, ok := v.(map[string]any); ok {
						if name, ok := version["name"].(string); ok && readable(name) {
							kept = append(kept, v)
						}
					}
				}
				value[key], child = kept, kept
			}
			filterVersions(f.SelectionSet, fragments, child, readable)
		}
	}
}

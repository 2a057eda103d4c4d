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

	root []*selection // the operation's fields, expanded
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
	if !selectsVersions(q.root) {
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
	if len(q.Query) > maxGraphQLQueryBytes {
		return nil, badRequest("The GraphQL query is longer than %d bytes.", maxGraphQLQueryBytes)
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: q.Query})
	if err != nil {
		return nil, badRequest("The GraphQL query could not be parsed: %s", err.Error())
	}
	// The operation graphql-core executes: the one named, or the only one.
	var operation *ast.OperationDefinition
	for _, op := range doc.Operations {
		if q.OperationName == nil || op.Name == *q.OperationName {
			if operation != nil {
				return nil, badRequest("The GraphQL query needs one operation named by operationName.")
			}
			operation = op
		}
	}
	if operation == nil {
		return nil, badRequest("The GraphQL query has no operation to run.")
	}
	if operation.Operation == ast.Subscription {
		return nil, errDenied
	}
	fragments, err := fragmentsOf(doc)
	if err != nil {
		return nil, err
	}
	e := &expansion{fragments: fragments, budget: maxGraphQLSelections}
	if q.root, err = e.expand([]ast.SelectionSet{operation.SelectionSet}, 1); err != nil {
		return nil, err
	}
	if n := len(q.rootFields()); n > maxGraphQLRootFields {
		return nil, badRequest("The GraphQL query has %d root fields, more than %d.", n, maxGraphQLRootFields)
	}
	// Variables the request leaves out take their defaults, as MLflow runs it; the
	// decision is made on what MLflow will see.
	if q.Variables == nil {
		q.Variables = map[string]any{}
	}
	for _, v := range operation.VariableDefinitions {
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

// rootFields are the operation's fields, fragments spread in: every field of the
// query that MLflow resolves at the root.
func (q *graphqlRequest) rootFields() []*ast.Field {
	var out []*ast.Field
	for _, sel := range q.root {
		out = append(out, sel.nodes...)
	}
	return out
}

// Bounds on what a non-admin's GraphQL query may make the proxy do, checked before
// anything is forwarded. MLflow's UI sends at most 1.5 KB, one root field, 60 fields
// and 6 levels (its GetRun query); the bounds are far above that, and above MLflow
// 3.17's own (10 levels, 1,000 fields), which older MLflow servers do not have.
const (
	maxGraphQLQueryBytes = 64 << 10
	maxGraphQLRootFields = 100 // each may cost upstream lookups
	maxGraphQLDepth      = 20  // levels of selection sets, fragments spread in
	// Fields and fragment spreads as MLflow executes them, fragments spread in;
	// counting stops at the bound, so the check costs no more than the bound.
	maxGraphQLSelections = 10_000
)

// selection is one field of the answer as MLflow executes the query: the fields of
// a selection set that share a response key are merged into one, and their
// selection sets are expanded together. @skip and @include are ignored: a field that
// may run is decided as if it does.
type selection struct {
	name, key string       // the field's real name and its response key (alias or name)
	nodes     []*ast.Field // the query's fields merged into this one
	fields    []*selection // their selection sets, expanded
}

// expansion expands a query's selection sets within the bounds.
type expansion struct {
	fragments map[string]*ast.FragmentDefinition
	budget    int // selections left before maxGraphQLSelections
}

// expand flattens selection sets merged into one field (or the operation's) at depth,
// as graphql-core's collect_fields does: each fragment spread once per merged set.
// A response key shared by two different fields is refused (MLflow refuses it too):
// the answer's filter reads fields by their keys.
func (e *expansion) expand(sets []ast.SelectionSet, depth int) ([]*selection, error) {
	if depth > maxGraphQLDepth {
		return nil, badRequest("The GraphQL query nests deeper than %d levels.", maxGraphQLDepth)
	}
	var out []*selection
	byKey := map[string]*selection{}
	spread := map[string]bool{}
	var walk func(ast.SelectionSet) error
	walk = func(set ast.SelectionSet) error {
		for _, s := range set {
			if e.budget--; e.budget < 0 {
				return badRequest("The GraphQL query selects more than %d fields, its fragments spread in.", maxGraphQLSelections)
			}
			switch s := s.(type) {
			case *ast.Field:
				if s.Alias == "name" && s.Name != "name" {
					// The answer's filter judges a model version by its name.
					return badRequest("The GraphQL query selects %s as 'name'.", s.Name)
				}
				sel := byKey[s.Alias]
				if sel == nil {
					sel = &selection{name: s.Name, key: s.Alias}
					byKey[s.Alias] = sel
					out = append(out, sel)
				} else if sel.name != s.Name {
					return badRequest("The GraphQL query selects two different fields, %s and %s, as '%s'.", sel.name, s.Name, s.Alias)
				}
				sel.nodes = append(sel.nodes, s)
			case *ast.InlineFragment:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.FragmentSpread:
				if !spread[s.Name] {
					spread[s.Name] = true
					if err := walk(e.fragments[s.Name].SelectionSet); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, set := range sets {
		if err := walk(set); err != nil {
			return nil, err
		}
	}
	for _, sel := range out {
		var sets []ast.SelectionSet
		for _, n := range sel.nodes {
			if len(n.SelectionSet) > 0 {
				sets = append(sets, n.SelectionSet)
			}
		}
		if len(sets) == 0 {
			continue
		}
		var err error
		if sel.fields, err = e.expand(sets, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fragmentsOf indexes a query's fragments by name and refuses what MLflow would not
// run and the proxy could not expand: two fragments of one name, a spread of no
// fragment, and fragments that spread into themselves, directly or through others.
func fragmentsOf(doc *ast.QueryDocument) (map[string]*ast.FragmentDefinition, error) {
	byName := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		if byName[f.Name] != nil {
			return nil, badRequest("The GraphQL query defines the fragment %s twice.", f.Name)
		}
		byName[f.Name] = f
	}
	const (
		open = iota + 1 // being walked: spreading it again is a cycle
		done
	)
	state := map[string]int{}
	var walk func(ast.SelectionSet) error
	walk = func(set ast.SelectionSet) error {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.InlineFragment:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.FragmentSpread:
				f := byName[s.Name]
				switch {
				case f == nil:
					return badRequest("The GraphQL query spreads the fragment %s, which it does not define.", s.Name)
				case state[s.Name] == open:
					return badRequest("The GraphQL query's fragment %s spreads into itself.", s.Name)
				case state[s.Name] == 0:
					state[s.Name] = open
					if err := walk(f.SelectionSet); err != nil {
						return err
					}
					state[s.Name] = done
				}
			}
		}
		return nil
	}
	for _, op := range doc.Operations {
		if err := walk(op.SelectionSet); err != nil {
			return nil, err
		}
	}
	for _, f := range doc.Fragments {
		if err := walk(ast.SelectionSet{&ast.FragmentSpread{Name: f.Name}}); err != nil {
			return nil, err
		}
	}
	return byName, nil
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
	filterVersions(c.graphql.root, answer["data"], readable)
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

func selectsVersions(fields []*selection) bool {
	for _, f := range fields {
		if f.name == "modelVersions" || selectsVersions(f.fields) {
			return true
		}
	}
	return false
}

// filterVersions walks an answer along the query that produced it. A modelVersions
// list keeps the versions whose model is readable; a version without its name
// selected cannot be judged and goes too.
func filterVersions(fields []*selection, value any, readable func(string) bool) {
	switch value := value.(type) {
	case []any:
		for _, item := range value {
			filterVersions(fields, item, readable)
		}
	case map[string]any:
		for _, f := range fields {
			child := value[f.key]
			if list, ok := child.([]any); ok && f.name == "modelVersions" {
				// The model's name is read where the query put the field name, never
				// from a key that another field may be aliased to.
				nameKey := ""
				for _, v := range f.fields {
					if v.name == "name" {
						nameKey = v.key
					}
				}
				kept := []any{}
				for _, v := range list {
					if version, ok := v.(map[string]any); ok && nameKey != "" {
						if name, ok := version[nameKey].(string); ok && readable(name) {
							kept = append(kept, v)
						}
					}
				}
				value[f.key], child = kept, kept
			}
			filterVersions(f.fields, child, readable)
		}
	}
}

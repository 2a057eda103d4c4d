package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// graphqlBody is a POST /graphql body; vars and op are left out when empty.
func graphqlBody(query, vars, op string) string {
	body := map[string]json.RawMessage{}
	body["query"], _ = json.Marshal(query)
	if vars != "" {
		body["variables"] = json.RawMessage(vars)
	}
	if op != "" {
		body["operationName"], _ = json.Marshal(op)
	}
	raw, _ := json.Marshal(body)
	return string(raw)
}

const (
	getRunQuery    = `query GetRun($data: MlflowGetRunInput!) { mlflowGetRun(input: $data) { run { info { runUuid } } } }`
	searchRunQuery = `query SearchRuns($data: MlflowSearchRunsInput!) { mlflowSearchRuns(input: $data) { runs { info { runUuid } } } }`
)

// Every root field MLflow would resolve is decided by what its input names, however
// the query spells it; a field without a rule is refused.
func TestGraphQLDecisions(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	for _, c := range []struct {
		name, user, body string
		status           int
	}{
		{"own run", "bob", graphqlBody(getRunQuery, `{"data": {"runId": "mine"}}`, "GetRun"), 200},
		{"another's run", "bob", graphqlBody(getRunQuery, `{"data": {"runId": "victim"}}`, "GetRun"), 403},
		{"another's run by runUuid", "bob", graphqlBody(getRunQuery, `{"data": {"runId": "mine", "runUuid": "victim"}}`, ""), 403},
		{"literal input", "bob", graphqlBody(`{ mlflowGetRun(input: {runId: "victim"}) { run { info { runUuid } } } }`, "", ""), 403},
		{"variable inside the literal", "bob", graphqlBody(`query Q($id: String) { mlflowGetRun(input: {runId: $id}) { __typename } }`, `{"id": "victim"}`, ""), 403},
		{"a variable's default", "bob", graphqlBody(`query Q($data: MlflowGetRunInput = {runId: "victim"}) { mlflowGetRun(input: $data) { __typename } }`, "", ""), 403},
		{"a default the variables override", "bob", graphqlBody(`query Q($data: MlflowGetRunInput = {runId: "victim"}) { mlflowGetRun(input: $data) { __typename } }`, `{"data": {"runId": "mine"}}`, ""), 200},
		{"second alias", "bob", graphqlBody(`{ a: mlflowGetRun(input: {runId: "mine"}) { __typename } b: mlflowGetRun(input: {runId: "victim"}) { __typename } }`, "", ""), 403},
		{"in a fragment", "bob", graphqlBody(`{ ...F } fragment F on Query { mlflowListArtifacts(input: {runId: "victim"}) { __typename } }`, "", ""), 403},
		{"in an inline fragment", "bob", graphqlBody(`{ ... @include(if: false) { mlflowGetRun(input: {runUuid: "victim"}) { __typename } } }`, "", ""), 403},
		{"recursive fragments", "bob", graphqlBody(`{ ...F } fragment F on Query { ...F mlflowGetRun(input: {runId: "mine"}) { __typename } }`, "", ""), 400},
		{"the operation named runs", "bob", graphqlBody(`query A { mlflowGetRun(input: {runId: "mine"}) { __typename } } query B { mlflowGetRun(input: {runId: "victim"}) { __typename } }`, "", "B"), 403},
		{"the other operation", "bob", graphqlBody(`query A { mlflowGetRun(input: {runId: "mine"}) { __typename } } query B { mlflowGetRun(input: {runId: "victim"}) { __typename } }`, "", "A"), 200},
		{"two operations, none named", "bob", graphqlBody(`query A { __typename } query B { __typename }`, "", ""), 400},
		{"no such operation", "bob", graphqlBody(`query A { __typename }`, "", "B"), 400},
		{"own experiment", "bob", graphqlBody(`query Q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }`, `{"input": {"experimentId": "1"}}`, ""), 200},
		{"another's experiment", "bob", graphqlBody(`{ mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } }`, "", ""), 403},
		{"an experiment id MLflow reads as another", "bob", graphqlBody(`{ mlflowGetExperiment(input: {experimentId: "02"}) { experiment { name } } }`, "", ""), 400},
		{"an id that is not a string", "bob", graphqlBody(getRunQuery, `{"data": {"runId": ["mine", 7]}}`, ""), 400},
		{"metric histories", "bob", graphqlBody(`query M($data: MlflowGetMetricHistoryBulkIntervalInput!) { mlflowGetMetricHistoryBulkInterval(input: $data) { metrics { value } } }`, `{"data": {"runIds": ["mine", "victim"], "metricKey": "m"}}`, ""), 403},
		{"one run for a list", "bob", graphqlBody(`{ mlflowGetMetricHistoryBulkInterval(input: {runIds: "mine", metricKey: "m"}) { metrics { value } } }`, "", ""), 200},
		{"a search of nothing readable", "bob", graphqlBody(searchRunQuery, `{"data": {"experimentIds": ["2"]}}`, ""), 403},
		{"a literal search list with another's experiment", "bob", graphqlBody(`mutation { mlflowSearchRuns(input: {experimentIds: ["1", "2"]}) { runs { info { runUuid } } } }`, "", ""), 403},
		{"a readable dataset search", "bob", graphqlBody(`{ mlflowSearchDatasets(input: {experimentIds: ["1", "3"]}) { __typename } }`, "", ""), 200},
		{"model versions (filtered)", "bob", graphqlBody(`{ mlflowSearchModelVersions(input: {filter: "name='x'"}) { modelVersions { name } } }`, "", ""), 200},
		{"introspection", "bob", graphqlBody(`{ __schema { queryType { name } } }`, "", ""), 200},
		{"no rule", "bob", graphqlBody(`{ mlflowDeleteExperiment(input: {experimentId: "1"}) { __typename } }`, "", ""), 403},
		{"subscription", "bob", graphqlBody(`subscription { test(inputString: "x") { output } }`, "", ""), 403},
		{"not GraphQL", "bob", graphqlBody(`{ mlflowGetRun(input: {runId: "mine"} { __typename } }`, "", ""), 400},
		{"not JSON", "bob", `query=x`, 400},
		{"a second query under another case", "bob", `{"query": "{ mlflowGetRun(input: {runId: \"victim\"}) { __typename } }", "Query": "{ __typename }"}`, 403},
		{"two JSON values", "bob", graphqlBody(`{ __typename }`, "", "") + ` {}`, 400},
		{"a query that is not a string", "bob", `{"query": ["{ __typename }"]}`, 400},
		{"a batch", "bob", `[` + graphqlBody(getRunQuery, `{"data": {"runId": "mine"}}`, "") + `]`, 400},
		{"variables not an object", "bob", graphqlBody(getRunQuery, `["mine"]`, ""), 400},
		{"an admin, anything", "root", graphqlBody(`{ anything }`, "", ""), 200},
	} {
		rec := serve(p, c.user, request{method: "POST", target: "/graphql", body: c.body})
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.status)
		}
		if sent := f.forwarded(); (c.status == 200) != (len(sent) == 1) {
			t.Errorf("%s: forwarded %v", c.name, sent)
		}
	}
}

// hostileGraphQL are queries whose cost the proxy refuses before forwarding them,
// by the message that says why. Bob may read the run "mine".
var hostileGraphQL = map[string]string{
	// Unbounded recursion: through a nested field, and through two fragments.
	`{ mlflowGetRun(input: {runId: "mine"}) { run { ...F } } } fragment F on MlflowRun { info { ...F } }`:                                              "spreads into itself",
	`{ mlflowGetRun(input: {runId: "mine"}) { run { ...A } } } fragment A on MlflowRun { info { ...B } } fragment B on MlflowRunInfo { run { ...A } }`: "spreads into itself",
	`{ mlflowGetRun(input: {runId: "mine"}) { run { ...A } } } fragment A on MlflowRun { ...A }`:                                                       "spreads into itself",
	// Twice as many fields per level: 2^17 leaves, 20 levels deep.
	fanOut(17): "more than 10000 fields",
	`{ mlflowGetRun(input: {runId: "mine"}) { run ` + strings.Repeat("{ info ", 20) + strings.Repeat("}", 21) + ` }`: "deeper than 20 levels",
	`{ ...U } fragment U on Query { ...{ ...U } }`:                                                                   "spreads into itself",
	// Fields MLflow would merge into one answer key must be one field.
	`{ mlflowGetRun(input: {runId: "mine"}) { run { info { runUuid } info: data { __typename } } } }`: "two different fields",
	`{ mlflowSearchModelVersions(input: {}) { modelVersions { name: source } } }`:                     "selects source as 'name'",
	`{ ...Missing }`: "does not define",
	`{ ...F } fragment F on Query { __typename } fragment F on Query { mlflowGetRun(input: {runId: "victim"}) { __typename } }`: "twice",
	`{ ` + strings.Repeat("r: mlflowGetRun(input: {runId: \"mine\"}) { __typename } ", 101) + `}`:                               "101 root fields",
	`{ __typename }` + strings.Repeat(" ", maxGraphQLQueryBytes):                                                                "longer than",
}

// fanOut is a query whose fragments each spread the next one twice, under two
// aliases: its size doubles with every level.
func fanOut(levels int) string {
	var b strings.Builder
	b.WriteString(`{ mlflowGetRun(input: {runId: "mine"}) { run { ...F0 } } }`)
	for i := range levels {
		fmt.Fprintf(&b, " fragment F%d on T { a: info { ...F%d } b: info { ...F%d } }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on T { runUuid }", levels)
	return b.String()
}

// Queries that would recurse without end, cost time exponential in their length or
// exceed the bounds are refused with 400 before anything is forwarded; the UI's own
// queries pass.
func TestGraphQLBounds(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	for query, why := range hostileGraphQL {
		name := query[:min(len(query), 80)]
		rec := serve(p, "bob", request{method: "POST", target: "/graphql", body: graphqlBody(query, "", "")})
		sent := f.forwarded()
		if why == "" {
			if rec.Code != 200 || len(sent) != 1 {
				t.Errorf("%s: %d %s, forwarded %d", name, rec.Code, rec.Body, len(sent))
			}
			continue
		}
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "INVALID_PARAMETER_VALUE") || len(sent) != 0 {
			t.Errorf("%s: %d %s, forwarded %d", name, rec.Code, rec.Body, len(sent))
		}
		if _, err := parseGraphQL([]byte(graphqlBody(query, "", ""))); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: refused with %v, want a message with %q", name, err, why)
		}
	}
	rec := serve(p, "bob", request{method: "POST", target: "/graphql", body: graphqlBody(uiGetRunQuery, `{"data": {"runId": "mine"}}`, "GetRun")})
	if rec.Code != 200 || len(f.forwarded()) != 1 {
		t.Errorf("the UI's GetRun: %d %s", rec.Code, rec.Body)
	}
}

// A search's experiments in a variable are narrowed to the readable ones, as MLflow
// does, and the rest of the request goes as it came.
func TestGraphQLSearchIsNarrowed(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	for name, c := range map[string]struct{ query, vars, want string }{
		"input variable": {searchRunQuery,
			`{"data": {"experimentIds": ["2", "1", "3"], "filter": "x", "maxResults": 12345678901234567890}}`,
			`{"data":{"experimentIds":["1","3"],"filter":"x","maxResults":12345678901234567890}}`},
		"list variable": {`query Q($ids: [String]) { mlflowSearchRuns(input: {experimentIds: $ids}) { __typename } }`,
			`{"ids": ["1", "2"]}`, `{"ids":["1"]}`},
	} {
		rec := serve(p, "bob", request{method: "POST", target: "/graphql", body: graphqlBody(c.query, c.vars, "")})
		sent := f.forwarded()
		if rec.Code != 200 || len(sent) != 1 {
			t.Fatalf("%s: %d %s, forwarded %v", name, rec.Code, rec.Body, sent)
		}
		var got struct {
			Query     string          `json:"query"`
			Variables json.RawMessage `json:"variables"`
		}
		if err := json.Unmarshal([]byte(sent[0].body), &got); err != nil || got.Query != c.query || string(got.Variables) != c.want {
			t.Errorf("%s: forwarded %s, want variables %s", name, sent[0].body, c.want)
		}
	}
}

// Model versions of models the caller may not read leave the answer, wherever the
// query selected them and under whatever alias; admins get the answer as it came.
func TestGraphQLModelVersionsAreFiltered(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	const answer = `{"data": {"r": {"run": {"info": {"runUuid": "mine"}, "mv": [{"name": "mine", "version": "1"}, {"name": "theirs", "version": "1"}, {"version": "2"}]}}, ` +
		`"s": {"modelVersions": [{"name": "theirs"}, {"name": "mine", "source": "<b>"}]}}, "errors": null}`
	f.set(func() { f.answers = map[string]string{"POST /graphql": answer} })
	query := `{ r: mlflowGetRun(input: {runId: "mine"}) { run { info { runUuid } ...V } } ` +
		`s: mlflowSearchModelVersions(input: {}) { modelVersions { name source } } } ` +
		`fragment V on MlflowRunExtension { mv: modelVersions { version ... on MlflowModelVersion { name } } }`

	rec := serve(p, "bob", request{method: "POST", target: "/graphql", body: graphqlBody(query, "", "")})
	want := `{"data":{"r":{"run":{"info":{"runUuid":"mine"},"mv":[{"name":"mine","version":"1"}]}},"s":{"modelVersions":[{"name":"mine","source":"<b>"}]}},"errors":null}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("bob's answer: %d %s, want %s", rec.Code, rec.Body, want)
	}
	if rec := serve(p, "root", request{method: "POST", target: "/graphql", body: graphqlBody(query, "", "")}); rec.Body.String() != answer {
		t.Errorf("root's answer: %s", rec.Body)
	}
	// A query that selects no model versions is passed on byte for byte.
	rec = serve(p, "bob", request{method: "POST", target: "/graphql", body: graphqlBody(getRunQuery, `{"data": {"runId": "mine"}}`, "")})
	if rec.Body.String() != answer {
		t.Errorf("an answer without model versions was changed: %s", rec.Body)
	}
	f.forwarded()
}

// The versions filter reads a version's model from its real name field, wherever
// the query put it: a query cannot hand it another field's value as the name (a
// version's status "READY", say, with a model of that name), and an alias of name
// is read under that alias.
func TestGraphQLVersionFilterCannotBeSteered(t *testing.T) {
	p, f := newFakeMLflowProxy(t)
	for _, c := range []struct{ query, answer, want string }{
		// MLflow answers each version's source under the key name.
		{`{ mlflowSearchModelVersions(input: {}) { modelVersions { name: source version } } }`,
			`{"data": {"mlflowSearchModelVersions": {"modelVersions": [{"name": "mine", "version": "7"}]}}}`, ""},
		{`{ mlflowSearchModelVersions(input: {}) { modelVersions { ...V } } } fragment V on MlflowModelVersion { name: description }`,
			`{"data": {"mlflowSearchModelVersions": {"modelVersions": [{"name": "mine"}]}}}`, ""},
		{`{ mlflowSearchModelVersions(input: {}) { modelVersions { name ... on MlflowModelVersion { name: status } } } }`,
			`{"data": {"mlflowSearchModelVersions": {"modelVersions": [{"name": "mine"}]}}}`, ""},
		{`{ mlflowSearchModelVersions(input: {}) { modelVersions { n: name name: version } } }`,
			`{"data": {"mlflowSearchModelVersions": {"modelVersions": [{"n": "theirs", "name": "mine"}]}}}`, ""},
		{`{ mlflowSearchModelVersions(input: {}) { modelVersions { n: name version } } }`,
			`{"data": {"mlflowSearchModelVersions": {"modelVersions": [{"n": "theirs", "version": "1"}, {"n": "mine", "version": "2"}]}}}`,
			`{"data":{"mlflowSearchModelVersions":{"modelVersions":[{"n":"mine","version":"2"}]}}}`},
	} {
		f.set(func() { f.answers = map[string]string{"POST /graphql": c.answer} })
		rec := serve(p, "bob", request{method: "POST", target: "/graphql", body: graphqlBody(c.query, "", "")})
		sent := f.forwarded()
		if c.want == "" {
			if rec.Code != 400 || len(sent) != 0 {
				t.Errorf("%s: %d %s, forwarded %d", c.query, rec.Code, rec.Body, len(sent))
			}
		} else if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != c.want {
			t.Errorf("%s: %d %s, want %s", c.query, rec.Code, rec.Body, c.want)
		}
	}
}

// uiGetRunQuery is the query of MLflow's run page (MLflow 3.17's UI).
const uiGetRunQuery = `query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs {
        datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
        modelInputs { modelId }
      }
      outputs { modelOutputs { modelId step } }
    }
  }
}`

// The cost of reading a query the size of the UI's run page query, before any lookup.
func BenchmarkParseGraphQL(b *testing.B) {
	body := []byte(graphqlBody(uiGetRunQuery, `{"data": {"runId": "0123456789abcdef0123456789abcdef"}}`, "GetRun"))
	b.ReportAllocs()
	for b.Loop() {
		q, err := parseGraphQL(body)
		if err != nil || len(q.rootFields()) != 1 {
			b.Fatal(err)
		}
	}
}

// Whatever a client sends, reading it as GraphQL ends in a decision or an error,
// never a panic.
func FuzzParseGraphQL(f *testing.F) {
	f.Add(graphqlBody(getRunQuery, `{"data": {"runId": "mine"}}`, "GetRun"))
	f.Add(graphqlBody(`query Q($d: MlflowGetRunInput = {runId: "x"}) { ...F } fragment F on Query { mlflowGetRun(input: $d) { run { modelVersions { name } } } }`, "", ""))
	f.Add(graphqlBody(`{ mlflowSearchRuns(input: {experimentIds: [$a, "1"]}) { runs { modelVersions { name } } } }`, `{"a": 1}`, ""))
	for _, query := range hostileGraphQL {
		f.Add(graphqlBody(query, "", ""))
	}
	f.Fuzz(func(t *testing.T, body string) {
		q, err := parseGraphQL([]byte(body))
		if err != nil {
			return
		}
		for _, field := range q.rootFields() {
			for _, name := range []string{"runId", "experimentIds"} {
				if _, set, err := q.inputStrings(field, name); err == nil && set != nil {
					set([]string{"1"})
				}
			}
		}
		answer := map[string]any{"a": map[string]any{"modelVersions": []any{map[string]any{"name": "m"}, 1}}}
		filterVersions(q.root, answer, func(string) bool { return false })
	})
}

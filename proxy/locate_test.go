package proxy

import (
	"context"
	"net/url"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// The experiment of an artifact path is the one MLflow's handler serves, however
// the path is encoded (MLflow unquotes until nothing changes).
func TestArtifactExperiment(t *testing.T) {
	for _, c := range []struct {
		path, query string // as Go hands them over: decoded once
		want        string // "" = names no experiment
	}{
		{path: "1/run/artifacts/model.pkl", want: "1"},
		{path: "/1/run/artifacts/model.pkl", want: "1"},
		{path: "%31/run/artifacts/f", want: "1"},           // sent as %2531
		{path: "%2531/run/artifacts/f", want: "1"},         // sent as %252531
		{path: "%252531%252Frun/artifacts/f", want: "1"},   // the slash encoded too
		{path: "1", want: "1"},                             // the experiment's root
		{path: "12x/run", want: ""},                        // not an id
		{path: "runs/1/artifacts", want: ""},               // the id must come first
		{query: "1", want: "1"},                            // listing an experiment's root
		{query: "%2531/run/artifacts", want: "1"},          // listing, encoded
		{query: "", want: ""},                              // the artifact root
		{path: "%zz/1/x", want: ""},                        // an invalid escape stays as it is
		{path: "%E2%82%AC/x", want: ""},                    // non-ASCII
		{path: "100%25/1", want: ""},                       // "100%" is not an id
		{path: "007/x", want: "007"},                       // MLflow reads the digits as they are
		{path: "%2525252525252525252531/x", want: "error"}, // does not settle in 10 rounds
		{path: "./1/x", want: "1"},                         // the same directory
		{path: "%252E/1/x", want: "1"},
		{path: ".//./1", want: "1"},
		{path: " 1/x", want: "1"}, // Python's urlsplit drops leading blanks
		{path: "%2509%2520%2531/x", want: "1"},
		{path: "1%250A/x", want: "1"},     // and line breaks anywhere
		{path: "1 /x", want: ""},          // a directory "1 "
		{path: "x/../1/y", want: "error"}, // MLflow refuses ".."
		{query: "./1", want: "1"},
	} {
		var params pathParams
		if c.path != "" {
			params = pathParams{"path": c.path}
		}
		call := &call{pathParams: params, query: url.Values{"path": {c.query}}}
		got, err := artifactExperiment(context.Background(), call)
		switch {
		case c.want == "error":
			if err == nil {
				t.Errorf("path %q query %q: %v, want an error", c.path, c.query, got)
			}
		case err != nil:
			t.Errorf("path %q query %q: %v", c.path, c.query, err)
		case c.want == "" && len(got) != 0:
			t.Errorf("path %q query %q: %v, want no experiment", c.path, c.query, got)
		case c.want != "" && (len(got) != 1 || got[0] != (permission.Resource{Type: permission.Experiment, ID: c.want})):
			t.Errorf("path %q query %q: %v, want experiment %s", c.path, c.query, got, c.want)
		}
	}
}

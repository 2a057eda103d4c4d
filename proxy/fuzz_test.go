package proxy

import (
	"net/url"
	"strings"
	"testing"
)

// Any artifact path is read without panicking; when it names an experiment, the
// path MLflow would open has no ".." and its first directory is that experiment's
// id, so a path cannot be decided on one experiment and served from another.
func FuzzArtifactPath(f *testing.F) {
	f.Add("1/abc/artifacts/model.pkl")
	f.Add("%2e%2e/2/abc")
	f.Add("./1/../2/x")
	f.Add("%252e%252e/3")
	f.Add("\t 12/run/artifacts")
	f.Add("//07/x")
	f.Fuzz(func(t *testing.T, path string) {
		for _, c := range []*call{
			{pathParams: pathParams{"path": path}, query: url.Values{}},
			{pathParams: pathParams{}, query: url.Values{"path": {path}}},
		} {
			resources, err := artifactExperiment(t.Context(), c)
			if err != nil || len(resources) == 0 {
				continue
			}
			decoded, ok := decodePath(path)
			if !ok {
				t.Fatalf("%q: a resource for a path that does not decode", path)
			}
			if strings.Contains("/"+decoded+"/", "/../") {
				t.Fatalf("%q decodes to %q, with '..', and was decided on %v", path, decoded, resources)
			}
			first := ""
			for _, seg := range strings.Split(decoded, "/") {
				if seg != "" && seg != "." {
					first = seg
					break
				}
			}
			if id := resources[0].ID; first != id {
				t.Fatalf("%q (%q) was decided on experiment %s", path, decoded, id)
			}
		}
	})
}

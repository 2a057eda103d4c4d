package permission

import (
	"errors"
	"net/url"
	"strings"
)

// ScorerResource is the resource of scorer name in an experiment. Its id is MLflow's:
// "<experiment_id>/<name percent-encoded as Python's quote(name, safe=”)>", so the
// classic scorer calls and the 3.13 grant calls address the same grant.
func ScorerResource(experimentID, name string) Resource {
	return Resource{Type: Scorer, ID: CanonicalExperimentID(experimentID) + "/" + quoteAll(name)}
}

// SplitScorerID returns the experiment id and scorer name of a scorer resource id.
func SplitScorerID(id string) (experimentID, name string, err error) {
	experimentID, quoted, ok := strings.Cut(id, "/")
	if !ok || experimentID == "" || quoted == "" {
		return "", "", errors.New("A scorer resource_id must look like '<experiment_id>/<scorer_name>'")
	}
	name, err = url.PathUnescape(quoted)
	if err != nil {
		return "", "", errors.New("A scorer resource_id must look like '<experiment_id>/<scorer_name>'")
	}
	return experimentID, name, nil
}

// quoteAll percent-encodes every byte except ASCII letters, digits and "_.-~".
func quoteAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

package token

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// A token is mla_ + 43 base62 characters of secret + a 6-character checksum,
// parses to the SHA-256 of its secret, and two tokens never repeat.
func TestNewParses(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, h := New()
		if len(tok) != Len || !strings.HasPrefix(tok, Prefix) || strings.Trim(tok[len(Prefix):], alphabet) != "" {
			t.Fatalf("token %q: want %s and %d base62 characters", tok, Prefix, Len-len(Prefix))
		}
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
		got, ok := Parse(tok)
		if !ok || got != h {
			t.Fatalf("Parse(New()) = %x, %v; want %x, true", got, ok, h)
		}
		if h != sha256.Sum256([]byte(tok[len(Prefix):len(Prefix)+secretChars])) {
			t.Fatal("the hash is not SHA-256 of the secret")
		}
	}
}

// Every single-character typo, a missing or extra character, another prefix and
// a made-up token are refused by the checksum or the shape.
func TestParseRefuses(t *testing.T) {
	tok, _ := New()
	bad := []string{"", Prefix, tok[:Len-1], tok + "0", "mlb_" + tok[4:], strings.ToUpper(tok[:4]) + tok[4:],
		Prefix + strings.Repeat("0", Len-len(Prefix)), tok[:10] + "-" + tok[11:]}
	for i := len(Prefix); i < Len; i++ {
		for _, c := range []byte{'0', 'a', 'Z'} {
			if tok[i] != c {
				bad = append(bad, tok[:i]+string(c)+tok[i+1:])
			}
		}
	}
	for _, s := range bad {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) accepted it", s)
		}
	}
}

// Text that may be a token, well-formed or not, resembles one; a name that
// only starts like one does not.
func TestResembles(t *testing.T) {
	tok, _ := New()
	for _, s := range []string{tok, tok + " ", "\n" + tok, "Bearer " + tok, tok[:len(tok)-1], tok[:len(Prefix)+secretChars/2], "x" + tok[:30] + "-y"} {
		if !Resembles(s) {
			t.Errorf("%q does not resemble a token", s)
		}
	}
	for _, s := range []string{"", "mla_", "mla_bob", "alice", tok[:len(Prefix)+secretChars/2-1], "mla_" + strings.Repeat("a", 10) + "-" + strings.Repeat("b", 15)} {
		if Resembles(s) {
			t.Errorf("%q resembles a token", s)
		}
	}
}

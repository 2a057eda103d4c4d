package permission

import "testing"

// The cases are what Python's str(int(id)) gives, or the id where int() refuses it.
func TestCanonicalExperimentID(t *testing.T) {
	for id, want := range map[string]string{
		"1": "1", "01": "1", "+1": "1", " 1\n": "1", "0": "0", "000": "0", "-0": "0", "-01": "-1",
		"1_000": "1000", "\x1c7": "\x1c7", "\u30007\u00a0": "7", "\u0661\u0662": "12", "\U0001D7D8": "0", "\U0001D7E1": "9",
		"123456789012345678901234567890": "123456789012345678901234567890",
		"":                               "", " ": " ", "+": "+", "1_": "1_", "_1": "_1", "1__0": "1__0", "+-1": "+-1", "1.0": "1.0", "0x1": "0x1", "abc": "abc", "*": "*",
	} {
		if got := CanonicalExperimentID(id); got != want {
			t.Errorf("CanonicalExperimentID(%q) = %q, want %q", id, got, want)
		}
	}
}

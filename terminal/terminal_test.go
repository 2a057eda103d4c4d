package terminal

import "testing"

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"alice":          "alice",
		"tête à tête":    "tête à tête",
		"two\nlines":     `"two\nlines"`,
		"tab\there":      `"tab\there"`,
		"\x1b[2Jclear":   `"\x1b[2Jclear"`,
		"nul\x00":        `"nul\x00"`,
		"bad\xffutf8":    `"bad\xffutf8"`,
		"replaced\uFFFD": "replaced\uFFFD",
		`"two\nlines"`:   `"\"two\\nlines\""`, // text that looks quoted is quoted, so it reads apart from "two\nlines"
		`say "hi"`:       `say "hi"`,
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %s, want %s", in, got, want)
		}
	}
}

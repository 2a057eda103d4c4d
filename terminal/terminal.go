// Package terminal is how the commands show text that is anyone's (a failed
// login's username, a row of an MLflow database) to an admin's terminal.
package terminal

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Safe is s as a terminal may print it: quoted, with escapes, when it is not
// valid UTF-8 or holds a character that is not printable, whose newlines,
// tabs and terminal escapes would otherwise forge lines or rows, or reach the
// terminal; and when it starts with a quote, so that text written to look
// quoted cannot pass for another value Safe quoted.
func Safe(s string) string {
	if !utf8.ValidString(s) || strings.HasPrefix(s, `"`) || strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

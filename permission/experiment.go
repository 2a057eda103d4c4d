package permission

import (
	"strings"
	"unicode"
)

// maxIntDigits is Python's default int() limit; past it MLflow keeps the id as it is.
const maxIntDigits = 4300

// CanonicalExperimentID is the spelling of an experiment id that grants are
// stored and compared in, as MLflow 3.18: its SQL store reads ids with Python's
// int(), so "01", " 1" and "+1" are experiment 1. An id int() refuses is kept.
func CanonicalExperimentID(id string) string {
	s := strings.TrimFunc(id, unicode.IsSpace) // as int() strips: \x1c-\x1f stay
	negative := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		negative = s[0] == '-'
		s = s[1:]
	}
	var digits []byte
	underscore := true // int() refuses a leading underscore, as a doubled or trailing one
	for _, r := range s {
		switch {
		case r == '_' && !underscore:
			underscore = true
		case unicode.IsDigit(r):
			digits = append(digits, byte('0'+digitValue(r)))
			underscore = false
		default:
			return id
		}
	}
	if len(digits) == 0 || underscore || len(digits) > maxIntDigits {
		return id
	}
	n := strings.TrimLeft(string(digits), "0")
	switch {
	case n == "":
		return "0"
	case negative:
		return "-" + n
	}
	return n
}

// digitValue is the value of a Unicode decimal digit. Unicode encodes them in
// runs of ten, 0 to 9, so a digit's value is its distance from the start of
// its run of digits, modulo ten.
func digitValue(r rune) int {
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}

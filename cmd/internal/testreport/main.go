// Command testreport reads `go test -json` and prints what plain `go test` prints
// (a line per package, the output of failed tests) and then what it hides: every
// skipped test with the reason it gave. It exits 1 when anything failed or nothing
// ran.
//
//	go test -race -json ./... | go run ./cmd/internal/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	os.Exit(report(os.Stdin, os.Stdout))
}

func report(in io.Reader, out io.Writer) int {
	output := map[string][]string{} // package/test: its output lines
	var skipped, failedTests []string
	passed, failed := 0, 0
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var e event
		if json.Unmarshal(scanner.Bytes(), &e) != nil {
			fmt.Fprintln(out, scanner.Text()) // not an event: go's own message
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			output[key] = append(output[key], e.Output)
		case "build-fail":
			failed++
			fmt.Fprintf(out, "FAIL\t%s [build failed]\n%s", e.Package, strings.Join(output[key], ""))
		case "pass", "fail", "skip":
			if e.Test == "" { // the package's own result
				switch e.Action {
				case "fail":
					fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
				case "pass":
					fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
				}
				continue
			}
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				failedTests = append(failedTests, key)
			case "skip":
				skipped = append(skipped, key)
			}
		}
	}
	for _, key := range failedTests {
		fmt.Fprintf(out, "\n--- FAIL: %s\n%s", key, strings.Join(output[key], ""))
	}
	if len(skipped) > 0 {
		// One paragraph per reason: most skips share one (a missing Postgres, say).
		byReason := map[string]map[string][]string{} // reason: package: tests
		for _, key := range skipped {
			pkg, test, _ := strings.Cut(key, " ")
			why := reason(output[key])
			if byReason[why] == nil {
				byReason[why] = map[string][]string{}
			}
			byReason[why][pkg] = append(byReason[why][pkg], test)
		}
		fmt.Fprintln(out, "\nskipped, and why:")
		for _, why := range sortedKeys(byReason) {
			fmt.Fprintf(out, "  %s\n", why)
			for _, pkg := range sortedKeys(byReason[why]) {
				fmt.Fprintf(out, "    %s: %s\n", pkg, strings.Join(byReason[why][pkg], ", "))
			}
		}
	}
	fmt.Fprintf(out, "\n%d passed, %d failed, %d skipped\n", passed, failed, len(skipped))
	if failed > 0 || passed == 0 {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reason is what a skipped test said: its output without the "--- SKIP" line.
func reason(lines []string) string {
	var said []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		if _, msg, ok := strings.Cut(l, ": "); ok && strings.HasSuffix(strings.Fields(l)[0], ":") {
			l = msg // drop "file_test.go:12: "
		}
		said = append(said, l)
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " ")
}

package main

import (
	"strings"
	"testing"
)

func TestReportListsSkipsWithTheirReasons(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"m/a","Test":"TestOne"}`,
		`{"Action":"pass","Package":"m/a","Test":"TestOne"}`,
		`{"Action":"output","Package":"m/a","Test":"TestPG","Output":"=== RUN   TestPG\n"}`,
		`{"Action":"output","Package":"m/a","Test":"TestPG","Output":"    pg_test.go:9: no Postgres: set DB_URL\n"}`,
		`{"Action":"output","Package":"m/a","Test":"TestPG","Output":"--- SKIP: TestPG (0.00s)\n"}`,
		`{"Action":"skip","Package":"m/a","Test":"TestPG"}`,
		`{"Action":"output","Package":"m/b","Test":"TestPG2","Output":"    x_test.go:3: no Postgres: set DB_URL\n"}`,
		`{"Action":"skip","Package":"m/b","Test":"TestPG2"}`,
		`{"Action":"pass","Package":"m/a","Elapsed":0.5}`,
	}, "\n")
	var out strings.Builder
	if code := report(strings.NewReader(in), &out); code != 0 {
		t.Errorf("exit %d for a passing run", code)
	}
	for _, want := range []string{"ok  \tm/a", "skipped, and why:\n  no Postgres: set DB_URL\n    m/a: TestPG\n    m/b: TestPG2\n", "1 passed, 0 failed, 2 skipped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReportFailsOnFailuresAndOnNothing(t *testing.T) {
	failing := `{"Action":"output","Package":"m/a","Test":"TestBad","Output":"    bad_test.go:1: boom\n"}
{"Action":"fail","Package":"m/a","Test":"TestBad"}
{"Action":"fail","Package":"m/a","Elapsed":0.1}`
	var out strings.Builder
	if code := report(strings.NewReader(failing), &out); code != 1 || !strings.Contains(out.String(), "boom") {
		t.Errorf("a failing run: exit %d\n%s", code, out.String())
	}
	if code := report(strings.NewReader(""), &strings.Builder{}); code != 1 {
		t.Errorf("a run of no test: exit %d, want 1", code)
	}
}

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsListenerBounds: the metrics listener refuses headers the API's
// listener refuses (431 past 64 KiB, where net/http's default took 1 MiB), and
// serves no profiler without --pprof, nor does the API's listener.
func TestMetricsListenerBounds(t *testing.T) {
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-for-tests")
	base, stderr := startServe(t, "--metrics-addr", "127.0.0.1:0")
	addr := waitForLog(t, stderr, nil, metricsLine)[1]
	for _, url := range []string{"http://" + addr + "/debug/pprof/", "http://" + addr + "/debug/pprof/cmdline", base + "/debug/pprof/cmdline"} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("without --pprof, %s answered %d", url, res.StatusCode)
		}
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: metrics\r\nX-Padding: %s\r\n\r\n", strings.Repeat("a", 200<<10))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("/metrics with 200 KiB of headers: %d, want 431", res.StatusCode)
	}
}

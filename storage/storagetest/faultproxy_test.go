package storagetest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// echoServer answers each line with the same line until the client leaves.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c) })
		}
	})
	return ln.Addr().String()
}

// roundTrip sends a line through c and reads it back.
func roundTrip(c net.Conn, r *bufio.Reader, line string) error {
	// The deadline only keeps a broken proxy from hanging the test.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echo mismatch: " + got)
	}
	return nil
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestFaultProxy(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	if host, _, _ := net.SplitHostPort(p.Addr()); host != "127.0.0.1" {
		t.Fatalf("proxy listens on %s, want 127.0.0.1", p.Addr())
	}

	c1, r1 := dial(t, p.Addr())
	if err := roundTrip(c1, r1, "hello"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Cut()
	if err := roundTrip(c1, r1, "after cut"); err == nil {
		t.Fatal("an open connection still works after Cut")
	}
	// New connections are accepted, then reset before any byte gets through (the
	// reset may already fail the dial).
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		defer c2.Close()
		if err := roundTrip(c2, bufio.NewReader(c2), "while cut"); err == nil {
			t.Fatal("a new connection works while cut")
		}
	}
	p.Cut() // idempotent

	p.Restore()
	c3, r3 := dial(t, p.Addr())
	if err := roundTrip(c3, r3, "restored"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	if err := roundTrip(c1, r1, "old connection"); err == nil {
		t.Fatal("a connection cut earlier came back after Restore")
	}
}

func TestFaultProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := NewFaultProxy(t, target)
	c, r := dial(t, p.Addr())
	if err := roundTrip(c, r, "x"); err == nil {
		t.Fatal("round trip to a closed target succeeded")
	}
}

// While stalled nothing gets through, on an open connection or a new one; after
// Restore the held bytes arrive and both connections work.
func TestFaultProxyStall(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	c1, r1 := dial(t, p.Addr())
	if err := roundTrip(c1, r1, "before"); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	c2, r2 := dial(t, p.Addr())
	for _, c := range []net.Conn{c1, c2} {
		if _, err := io.WriteString(c, "held\n"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []net.Conn{c1, c2} {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
	for _, r := range []*bufio.Reader{r1, r2} {
		if got, err := r.ReadString('\n'); err == nil {
			t.Fatalf("read %q through a stalled proxy", got)
		}
	}
	// The reads above timed out: bufio keeps that error, so read afresh.
	p.Restore()
	for _, c := range []net.Conn{c1, c2} {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != "held\n" {
			t.Fatalf("after Restore: %q, %v", got, err)
		}
	}
	if err := roundTrip(c2, bufio.NewReader(c2), "after"); err != nil {
		t.Fatal(err)
	}
}

// Every mix of Cut, Stall and Restore, ended by the test's end, leaves no
// goroutine of the proxy (or of its connections) behind, with bytes held both
// ways at the end.
func TestFaultProxyStallLeavesNothingBehind(t *testing.T) {
	scenarios := map[string]func(p *FaultProxy, c net.Conn){
		"ends stalled":        func(p *FaultProxy, c net.Conn) { p.Stall() },
		"stall twice":         func(p *FaultProxy, c net.Conn) { p.Stall(); p.Stall() },
		"cut while stalled":   func(p *FaultProxy, c net.Conn) { p.Stall(); p.Cut() },
		"restore twice":       func(p *FaultProxy, c net.Conn) { p.Stall(); p.Restore(); p.Restore() },
		"stall again":         func(p *FaultProxy, c net.Conn) { p.Stall(); p.Restore(); p.Stall() },
		"cut, stall, restore": func(p *FaultProxy, c net.Conn) { p.Cut(); p.Stall(); p.Restore() },
	}
	for name, do := range scenarios {
		before := runtime.NumGoroutine()
		t.Run(name, func(t *testing.T) {
			p := NewFaultProxy(t, echoServer(t))
			c, r := dial(t, p.Addr())
			if err := roundTrip(c, r, "before"); err != nil {
				t.Fatal(err)
			}
			do(p, c)
			_, _ = io.WriteString(c, "held\n") // may fail once cut
			c2, err := net.Dial("tcp", p.Addr())
			if err == nil {
				defer c2.Close()
				_, _ = io.WriteString(c2, "held too\n")
			}
			time.Sleep(50 * time.Millisecond) // the proxy reads what it holds
		})
		for start := time.Now(); runtime.NumGoroutine() > before && time.Since(start) < 5*time.Second; {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%s: %d goroutines before, %d after:\n%s", name, before, n, buf[:runtime.Stack(buf, true)])
		}
	}
}

// Once stalled, the proxy holds what it reads after a Cut too, and a Restore
// lets new connections through.
func TestFaultProxyCutWhileStalled(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	c1, r1 := dial(t, p.Addr())
	if err := roundTrip(c1, r1, "before"); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	p.Cut()
	if err := roundTrip(c1, r1, "cut"); err == nil {
		t.Fatal("an open connection works after a Cut while stalled")
	}
	p.Restore()
	c2, r2 := dial(t, p.Addr())
	if err := roundTrip(c2, r2, "restored"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

// A test that ends stalled runs its own cleanups (closing a database pool, say)
// before the proxy's, and they get their bytes through: the end of the test
// ends the stall. Otherwise closing a pgx pool behind a stalled proxy waited 14s.
func TestFaultProxyTestEndEndsStall(t *testing.T) {
	var got string
	var err error
	t.Run("ends stalled", func(t *testing.T) {
		p := NewFaultProxy(t, echoServer(t))
		c, r := dial(t, p.Addr())
		if err := roundTrip(c, r, "before"); err != nil {
			t.Fatal(err)
		}
		p.Stall()
		if _, err := io.WriteString(c, "held\n"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			got, err = r.ReadString('\n')
		})
	})
	if err != nil || got != "held\n" {
		t.Fatalf("a cleanup of a test that ended stalled read %q, %v", got, err)
	}
}

package storagetest

import (
	"bufio"
	"errors"
	"io"
	"net"
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

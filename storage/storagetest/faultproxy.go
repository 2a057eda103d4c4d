package storagetest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a loopback TCP forwarder that a test puts between a client and
// a server (a database, say) to make the server "go away" and come back without
// touching the server itself:
//
//	p := storagetest.NewFaultProxy(t, "127.0.0.1:5432")
//	store := open("postgres://user:pw@" + p.Addr() + "/db")
//	p.Cut()     // every open connection is reset, new ones are reset at once
//	...         // the client now sees a database that is down
//	p.Restore() // new connections reach the server again
//	p.Stall()   // the server stops answering: bytes are held, connections stay open
//	p.Restore() // the held bytes go on
//
// It listens on 127.0.0.1 only, stops stalling when the test ends (before its
// cleanups run) and stops at the end of the test (t.Cleanup).
// Its methods are safe for concurrent use.
type FaultProxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	cut    bool
	closed bool
	resume chan struct{}         // while stalled: closed by Restore (or close)
	conns  map[net.Conn]struct{} // both ends of every forwarded connection
}

// NewFaultProxy starts forwarding connections from a new 127.0.0.1 port to
// target ("host:port"). It stops at the end of the test.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	p := &FaultProxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	// The test's own cleanups (closing a database pool, say) run before the
	// proxy's close and would wait on held bytes: its end ends a Stall first.
	context.AfterFunc(t.Context(), p.endStall)
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's "127.0.0.1:port"; point the client at it instead of the target.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Cut resets every forwarded connection and, until Restore, resets each new
// connection as soon as it is accepted: to the client the server is down (it sees
// "connection reset by peer" or EOF). The port stays open, so Restore cannot fail.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		reset(c)
		delete(p.conns, c)
	}
}

// Stall holds every byte, both ways, on open and new connections alike, until
// Restore: to the client the server has stopped answering (a hung host, a
// network that drops everything) while its connections stay open.
func (p *FaultProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
}

// endStall ends a Stall, and only that (a Cut stays).
func (p *FaultProxy) endStall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unstall()
}

// Restore forwards new connections to the target again and lets stalled bytes
// go on. Connections cut earlier stay dead; clients must reconnect.
func (p *FaultProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.unstall()
}

// unstall ends a Stall; p.mu is held.
func (p *FaultProxy) unstall() {
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

// waitWhileStalled returns once the proxy is not stalled.
func (p *FaultProxy) waitWhileStalled() {
	p.mu.Lock()
	resume := p.resume
	p.mu.Unlock()
	if resume != nil {
		<-resume
	}
}

// reset closes c with an RST rather than a FIN where it can.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// track registers c unless the proxy is cut or closed; then it resets c instead.
func (p *FaultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		reset(c)
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// untrack closes c (if Cut has not already) and forgets it.
func (p *FaultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.conns[c]; ok {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *FaultProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept error; the listener is still open
		}
		if !p.track(client) {
			continue
		}
		p.wg.Add(1)
		go p.forward(client)
	}
}

// forward connects client to the target and copies both ways until either side
// ends or the proxy cuts them; then both ends are closed.
func (p *FaultProxy) forward(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.waitWhileStalled()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	// One direction ended: close both ends so the other copy ends too.
	p.untrack(client)
	p.untrack(server)
	<-done
}

// close stops the proxy: no new connections, every open one closed, every
// goroutine finished.
func (p *FaultProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.unstall()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.wg.Wait()
}

package service

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// connDeadlines bounds how long a connection may sit idle in the middle of a
// request: each read of the body and each write of the answer must make progress
// within idle. A fixed ReadTimeout or WriteTimeout would cut large artifact uploads
// and downloads, which stream through for as long as they keep moving; a client
// that stops sending its body (or reading the answer) is cut after idle instead of
// holding its connection forever. At shutdown, requests still waiting for their
// body are cut at once rather than holding up the drain.
type connDeadlines struct {
	idle time.Duration

	mu       sync.Mutex
	reading  map[*deadlineBody]struct{}
	shutdown bool
}

func newConnDeadlines(idle time.Duration) *connDeadlines {
	return &connDeadlines{idle: idle, reading: map[*deadlineBody]struct{}{}}
}

func (d *connDeadlines) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			b := &deadlineBody{ReadCloser: r.Body, rc: rc, d: d}
			d.mu.Lock()
			d.reading[b] = struct{}{}
			d.mu.Unlock()
			defer b.handlerDone()
			r.Body = b
		}
		// The last write's deadline is lifted when the handler returns: the server's
		// own writes on this connection later (100 Continue, say) must not meet it.
		defer rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, idle: d.idle}, r)
	})
}

// expireReads cuts every body still being read, and every one read from now on.
func (d *connDeadlines) expireReads() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shutdown = true
	for b := range d.reading {
		b.rc.SetReadDeadline(time.Now())
	}
}

type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  *connDeadlines
}

// readDeadline is the deadline of a body's next read: idle from now, or now once
// the server is shutting down.
func (d *connDeadlines) readDeadline() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.shutdown {
		return time.Now()
	}
	return time.Now().Add(d.idle)
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(b.d.readDeadline())
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && b.forget() {
		// Read whole: while the answer takes its time, the server's watch for a
		// client that hangs up must not be cut by this deadline.
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// handlerDone bounds what the server reads of a body the handler left unread (it
// drains some for keep-alive), unless its deadline was cut already.
func (b *deadlineBody) handlerDone() {
	if b.forget() {
		b.rc.SetReadDeadline(b.d.readDeadline())
	}
}

// forget reports whether the body was still being read, and is no longer.
func (b *deadlineBody) forget() bool {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	_, reading := b.d.reading[b]
	delete(b.d.reading, b)
	return reading
}

type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes while streaming).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package service

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callBound is context.WithTimeout for one RPC, except that it starts its timer
// only when something asks for Done or Err: a database driver waiting on a
// query does, while a call answered from the caches never waits on anything
// and so never needs a timer (starting and stopping one was 2% of a cached
// REST call's CPU). The deadline is fixed when the call starts, armed or not.
type callBound struct {
	parent   context.Context
	deadline time.Time

	mu    sync.Mutex
	armed atomic.Pointer[armedBound] // nil until the first Done, Err or the end of the call
}

type armedBound struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// stoppedBound is what a bound that ended before it was armed answers from then
// on, as a cancelled context.WithTimeout would.
var stoppedBound = func() *armedBound {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &armedBound{ctx: ctx, cancel: cancel}
}()

func withCallBound(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c := &callBound{parent: parent, deadline: time.Now().Add(d)}
	return c, c.stop
}

func (c *callBound) arm() context.Context {
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	c.armed.Store(&armedBound{ctx: ctx, cancel: cancel})
	return ctx
}

func (c *callBound) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		a.cancel()
		return
	}
	// An end that came first (the parent's, the deadline's) is what a cancelled
	// WithTimeout goes on reporting; a context already ended starts no timer.
	if c.parent.Err() != nil || !time.Now().Before(c.deadline) {
		ctx, cancel := context.WithDeadline(c.parent, c.deadline)
		cancel()
		c.armed.Store(&armedBound{ctx: ctx, cancel: cancel})
		return
	}
	c.armed.Store(stoppedBound)
}

func (c *callBound) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *callBound) Done() <-chan struct{} { return c.arm().Done() }

func (c *callBound) Err() error { return c.arm().Err() }

// Value asks the armed context if there is one (so that context.Cause and
// child contexts find its cancellation), or else the parent. context.Cause asks
// for the cancellation with a key of its own, and finds the bound's (armed, or
// ended) rather than the parent's.
func (c *callBound) Value(key any) any {
	if key == causeKey {
		return c.arm().Value(key)
	}
	if a := c.armed.Load(); a != nil && a != stoppedBound {
		return a.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// causeKey is the key context.Cause asks Value for; it is the context package's
// own, so it is learnt by asking.
var causeKey = func() any {
	var k keyRecorder
	_ = context.Cause(&k)
	return k.key
}()

// keyRecorder is a context that notes the key it is asked for.
type keyRecorder struct {
	context.Context
	key any
}

func (k *keyRecorder) Value(key any) any { k.key = key; return nil }

func (k *keyRecorder) Err() error { return context.Canceled }

package password

import (
	"context"
	"errors"
	"time"
)

// ErrBusy reports that a key derivation did not get its turn: too many were
// waiting already, or the wait ran past the gate's limit.
var ErrBusy = errors.New("password: too many key derivations in progress")

// Gate bounds the key derivations that run at once. Each scrypt holds 32 MiB and a
// core for tens of milliseconds, so without a bound a storm of wrong passwords (which
// the credential cache never answers) takes the memory and the CPU that the callers
// with cached credentials need. Callers beyond the bound wait in line for at most
// maxWait; past maxQueue waiting, or past maxWait, they get ErrBusy at once.
type Gate struct {
	slots   chan struct{} // a token per derivation that may run
	queue   chan struct{} // a token per caller that may wait
	maxWait time.Duration
}

// NewGate lets concurrent derivations run at once and queued more wait up to maxWait.
func NewGate(concurrent, queued int, maxWait time.Duration) *Gate {
	return &Gate{
		slots:   make(chan struct{}, max(concurrent, 1)),
		queue:   make(chan struct{}, max(queued, 0)+max(concurrent, 1)),
		maxWait: maxWait,
	}
}

// Running is how many derivations run now.
func (g *Gate) Running() int { return len(g.slots) }

// Waiting is how many callers wait for a slot now.
func (g *Gate) Waiting() int { return max(len(g.queue)-len(g.slots), 0) }

// Do runs fn when a slot is free. It returns ErrBusy when the line is full or the
// wait too long, and ctx's error when the caller gives up first; fn then never runs.
func (g *Gate) Do(ctx context.Context, fn func()) error {
	select {
	case g.queue <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-g.queue }()
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.slots }()
	fn()
	return nil
}

package service

import (
	"context"
	"errors"
	"testing"
	"time"
)

type boundKey struct{}

// The bound behaves as context.WithTimeout, whenever it is first asked.
func TestCallBoundIsATimeout(t *testing.T) {
	parent := context.WithValue(context.Background(), boundKey{}, "v")

	t.Run("deadline passes", func(t *testing.T) {
		start := time.Now()
		ctx, stop := withCallBound(parent, 30*time.Millisecond)
		defer stop()
		if d, ok := ctx.Deadline(); !ok || d.Before(start.Add(30*time.Millisecond)) || d.After(time.Now().Add(30*time.Millisecond)) {
			t.Fatalf("Deadline() = %v, %v before the timer starts", d, ok)
		}
		if ctx.Value(boundKey{}) != "v" {
			t.Fatal("the parent's values are lost")
		}
		time.Sleep(40 * time.Millisecond) // past the deadline before anything asks
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			t.Fatal("Done did not close past the deadline")
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, Cause = %v", ctx.Err(), context.Cause(ctx))
		}
	})

	t.Run("a child waits for it", func(t *testing.T) {
		ctx, stop := withCallBound(parent, 20*time.Millisecond)
		defer stop()
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		select {
		case <-child.Done():
		case <-time.After(time.Second):
			t.Fatal("the child outlived its parent's deadline")
		}
		if !errors.Is(child.Err(), context.DeadlineExceeded) || child.Value(boundKey{}) != "v" {
			t.Fatalf("child Err() = %v, value %v", child.Err(), child.Value(boundKey{}))
		}
	})

	t.Run("the parent is cancelled", func(t *testing.T) {
		p, cancelParent := context.WithCancel(parent)
		ctx, stop := withCallBound(p, time.Hour)
		defer stop()
		cancelParent()
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err() = %v", ctx.Err())
		}
	})

	t.Run("an earlier parent deadline", func(t *testing.T) {
		p, cancel := context.WithTimeout(parent, time.Minute)
		defer cancel()
		ctx, stop := withCallBound(p, time.Hour)
		defer stop()
		if want, _ := p.Deadline(); func() bool { d, _ := ctx.Deadline(); return !d.Equal(want) }() {
			t.Fatal("Deadline() is not the parent's earlier one")
		}
	})

	for _, armed := range []bool{false, true} {
		ctx, stop := withCallBound(parent, time.Hour)
		if armed {
			_ = ctx.Done()
		}
		stop()
		select {
		case <-ctx.Done():
		default:
			t.Fatalf("armed %v: Done is open after the call ended", armed)
		}
		if !errors.Is(ctx.Err(), context.Canceled) || ctx.Value(boundKey{}) != "v" {
			t.Fatalf("armed %v: after the end Err() = %v, value %v", armed, ctx.Err(), ctx.Value(boundKey{}))
		}
	}
}

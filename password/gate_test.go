package password

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestGateBoundsConcurrencyAndTheLine(t *testing.T) {
	g := NewGate(2, 3, time.Minute)
	release := make(chan struct{})
	var mu sync.Mutex
	running, most := 0, 0
	work := func() {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
	}
	// Two run and three wait: the line is full.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() { errs <- g.Do(t.Context(), work) })
	}
	waitFor(t, func() bool { return len(g.queue) == 5 })
	// The sixth caller is turned away at once rather than queued.
	if err := g.Do(t.Context(), func() { t.Error("ran past a full line") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("sixth caller: %v, want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a queued caller failed: %v", err)
		}
	}
	if most != 2 {
		t.Errorf("%d derivations ran at once, want 2", most)
	}
}

func TestGateWaitEnds(t *testing.T) {
	g := NewGate(1, 10, 20*time.Millisecond)
	hold := make(chan struct{})
	go g.Do(context.Background(), func() { <-hold })
	defer close(hold)
	waitFor(t, func() bool { return len(g.slots) == 1 })
	if err := g.Do(t.Context(), func() { t.Error("ran without a slot") }); !errors.Is(err, ErrBusy) {
		t.Errorf("after the wait limit: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.Do(ctx, func() { t.Error("ran for a caller that left") }); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled caller: %v, want context.Canceled", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
	}
}

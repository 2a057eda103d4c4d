package password

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheRemembersVerifiedPairs(t *testing.T) {
	p := Params{N: 16, R: 1, P: 1}
	stored, _ := p.Hash("right password")
	c := NewCache(time.Hour, 10)
	if c.Has(stored, "right password") {
		t.Fatal("a pair is known before it was added")
	}
	c.Add(stored, "right password")
	if !c.Has(stored, "right password") {
		t.Fatal("an added pair is not known")
	}
	if c.Has(stored, "wrong password") {
		t.Fatal("another password of the same hash is known")
	}
	// A new hash (a password change) does not match the old pair.
	changed, _ := p.Hash("new password")
	if c.Has(changed, "right password") {
		t.Fatal("the old password is known against the new hash")
	}
}

func TestCacheExpiresAndStaysBounded(t *testing.T) {
	c := NewCache(-time.Second, 10) // every entry is already expired
	c.Add("stored", "pw")
	if c.Has("stored", "pw") {
		t.Error("an expired pair is known")
	}
	c = NewCache(time.Hour, 3)
	for i := range 10 {
		c.Add("stored", string(rune('a'+i)))
		if len(c.seen) > 3 {
			t.Fatalf("the cache holds %d pairs, more than its size 3", len(c.seen))
		}
	}
}

// Concurrent callers with the same unknown pair share one successful verification;
// a failure, or a caller who leaves, is not shared.
func TestCacheVerifiesOncePerConcurrentPair(t *testing.T) {
	c := NewCache(time.Hour, 10)
	release := make(chan struct{})
	var calls atomic.Int32
	verify := func() (bool, error) {
		calls.Add(1)
		<-release
		return true, nil
	}
	var wg sync.WaitGroup
	results := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			ok, err := c.Verify(t.Context(), "stored", "pw", verify)
			results <- ok && err == nil
		})
	}
	for deadline := time.Now().Add(5 * time.Second); calls.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no verification started")
		}
	}
	time.Sleep(20 * time.Millisecond) // the others join the flight
	close(release)
	wg.Wait()
	close(results)
	for ok := range results {
		if !ok {
			t.Error("a caller did not get the shared answer")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d verifications for 8 concurrent callers, want 1", n)
	}
	if !c.Has("stored", "pw") {
		t.Error("the shared success is not remembered")
	}

	// A failure is not shared: each caller that waited verifies for itself.
	calls.Store(0)
	release = make(chan struct{})
	failing := func() (bool, error) {
		calls.Add(1)
		<-release
		return false, nil
	}
	for range 4 {
		wg.Go(func() { c.Verify(t.Context(), "stored", "wrong", failing) })
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 4 {
		t.Errorf("%d verifications for 4 concurrent wrong guesses, want 4", n)
	}

	// The first caller's context ends mid-flight: a second caller verifies anew.
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	go c.Verify(ctx, "stored", "other", func() (bool, error) {
		close(started)
		<-ctx.Done()
		return false, ctx.Err()
	})
	<-started
	second := make(chan bool)
	go func() {
		ok, _ := c.Verify(t.Context(), "stored", "other", func() (bool, error) { return true, nil })
		second <- ok
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if !<-second {
		t.Error("a caller got the error of a caller who left")
	}
}

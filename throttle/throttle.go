// Package throttle slows down guessing: it counts failed attempts per key (a
// username, a client address) and, once a key has used its free failures, makes it
// wait before its next attempt, twice as long after every further failure.
package throttle

import (
	"sync"
	"time"
)

// Limiter is safe for concurrent use. Its memory is bounded: it remembers at most
// maxKeys keys, forgetting first those that have been quiet for a window.
type Limiter struct {
	free    int           // failures allowed before the first wait
	first   time.Duration // the first wait; each further failure doubles it
	longest time.Duration // the longest wait
	window  time.Duration // a key quiet this long starts over
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*record
}

type record struct {
	failures int
	last     time.Time // of the last failure
	until    time.Time // no attempt before this
}

// New returns a limiter that lets each key fail free times; then it waits first,
// doubling up to longest; a key without failures for window starts over.
func New(free int, first, longest, window time.Duration, maxKeys int) *Limiter {
	return &Limiter{free: free, first: first, longest: longest, window: window, maxKeys: maxKeys,
		now: time.Now, keys: map[string]*record{}}
}

// Wait returns how long key must still wait before an attempt; zero means now.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.keys[key]
	if r == nil {
		return 0
	}
	return max(r.until.Sub(l.now()), 0)
}

// Fail records a failed attempt of key and returns the wait it now has.
func (l *Limiter) Fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	r := l.keys[key]
	if r == nil || now.Sub(r.last) > l.window {
		if r == nil {
			l.makeRoom(now)
		}
		r = &record{}
		l.keys[key] = r
	}
	r.failures++
	r.last = now
	if over := r.failures - l.free + 1; over > 0 {
		wait := l.longest
		if over <= 32 && l.first<<(over-1) < l.longest {
			wait = l.first << (over - 1)
		}
		r.until = now.Add(wait)
		return wait
	}
	return 0
}

// Clear forgets key's failures: after a successful attempt, or when an admin resets it.
func (l *Limiter) Clear(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// makeRoom keeps the map under maxKeys: it drops quiet keys first and, when every
// key is busy (a flood of distinct names), those with the fewest failures.
func (l *Limiter) makeRoom(now time.Time) {
	if len(l.keys) < l.maxKeys {
		return
	}
	for k, r := range l.keys {
		if now.Sub(r.last) > l.window && !now.Before(r.until) {
			delete(l.keys, k)
		}
	}
	for fewest := 1; len(l.keys) >= l.maxKeys; fewest++ {
		for k, r := range l.keys {
			if r.failures <= fewest && !now.Before(r.until) {
				delete(l.keys, k)
			}
		}
		if fewest > l.free+64 { // every key is waiting: drop any
			for k := range l.keys {
				delete(l.keys, k)
				if len(l.keys) < l.maxKeys {
					break
				}
			}
		}
	}
}

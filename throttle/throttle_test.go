package throttle

import (
	"fmt"
	"testing"
	"time"
)

func newTestLimiter(maxKeys int) (*Limiter, *time.Time) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := New(3, time.Second, 8*time.Second, time.Minute, maxKeys)
	l.now = func() time.Time { return now }
	return l, &now
}

func TestWaitsDoubleAfterTheFreeFailures(t *testing.T) {
	l, now := newTestLimiter(100)
	var waits []time.Duration
	for range 7 {
		waits = append(waits, l.Fail("alice"))
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if l.Fail("alice") != 8*time.Second {
		t.Error("the wait grew past its longest")
	}
	if w := l.Wait("alice"); w != 8*time.Second {
		t.Errorf("Wait = %v, want 8s", w)
	}
	if w := l.Wait("bob"); w != 0 {
		t.Errorf("another key waits %v", w)
	}
	*now = now.Add(8 * time.Second)
	if w := l.Wait("alice"); w != 0 {
		t.Errorf("after the wait: %v", w)
	}
	// A key quiet for the window starts over; Clear forgets at once.
	*now = now.Add(2 * time.Minute)
	if w := l.Fail("alice"); w != 0 {
		t.Errorf("after a quiet window the first failure waits %v", w)
	}
	for range 5 {
		l.Fail("carol")
	}
	l.Clear("carol")
	if w := l.Wait("carol"); w != 0 || l.Fail("carol") != 0 {
		t.Error("Clear did not forget")
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	l, _ := newTestLimiter(50)
	for range 10 {
		l.Fail("patient guesser")
	}
	for i := range 10_000 {
		l.Fail(fmt.Sprintf("name-%d", i))
		if len(l.keys) > 50 {
			t.Fatalf("%d keys held, more than 50", len(l.keys))
		}
	}
	if l.Wait("patient guesser") == 0 {
		t.Error("a flood of new names freed a key that must wait")
	}
}

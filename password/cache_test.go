package password

import (
	"context"
	"testing"
	"time"
)

// countingCache counts the real verifications behind a cache.
func countingCache(ttl time.Duration, size int) (*Cache, *int) {
	calls := 0
	c := NewCache(ttl, size, func(_ context.Context, stored, pw string) (bool, error) {
		calls++
		return Verify(stored, pw)
	})
	return c, &calls
}

func TestCacheSkipsRepeatedVerification(t *testing.T) {
	p := Params{N: 16, R: 1, P: 1}
	stored, _ := p.Hash("right password")
	c, calls := countingCache(time.Hour, 10)
	for range 3 {
		if ok, err := c.Verify(t.Context(), stored, "right password"); !ok || err != nil {
			t.Fatalf("Verify = %v, %v", ok, err)
		}
	}
	if *calls != 1 {
		t.Errorf("%d derivations for three logins, want 1", *calls)
	}
	// Failures are never remembered: each wrong attempt pays in full.
	for range 2 {
		if ok, _ := c.Verify(t.Context(), stored, "wrong password"); ok {
			t.Fatal("a wrong password verified")
		}
	}
	if *calls != 3 {
		t.Errorf("%d derivations after two failures, want 3", *calls)
	}
	// A new hash (a password change) does not match the old pair.
	changed, _ := p.Hash("new password")
	if ok, _ := c.Verify(t.Context(), changed, "right password"); ok {
		t.Fatal("the old password verified against the new hash")
	}
}

func TestCacheExpiresAndStaysBounded(t *testing.T) {
	p := Params{N: 16, R: 1, P: 1}
	stored, _ := p.Hash("right password")
	c, calls := countingCache(-time.Second, 10) // every entry is already expired
	c.Verify(t.Context(), stored, "right password")
	c.Verify(t.Context(), stored, "right password")
	if *calls != 2 {
		t.Errorf("an expired pair was used: %d derivations, want 2", *calls)
	}

	c, _ = countingCache(time.Hour, 3)
	for i := range 10 {
		h, _ := p.Hash(string(rune('a' + i)))
		c.Verify(t.Context(), h, string(rune('a'+i)))
		if len(c.seen) > 3 {
			t.Fatalf("the cache holds %d pairs, more than its size 3", len(c.seen))
		}
	}
}

package password

import (
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

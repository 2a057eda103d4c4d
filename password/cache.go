package password

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"sync"
	"sync/atomic"
	"time"
)

// Cache remembers which (stored hash, password) pairs verified, so that a client
// sending the same credentials on every request pays for the key derivation once.
// It holds an HMAC of each pair under a key made at start, never a password. The
// stored hash is part of the key, so after a password change (on any replica that
// shares the database) the old password never matches again; failures are never
// remembered.
type Cache struct {
	ttl  time.Duration
	size int
	// macs are HMACs under a key made at start: making one costs two hashes
	// of the key, on every request.
	macs sync.Pool

	mu       sync.Mutex
	seen     map[[sha256.Size]byte]time.Time // expiry of each verified pair
	inFlight map[[sha256.Size]byte]*flight   // verifications under way

	hits, misses atomic.Uint64 // answers of Has, for the metrics
}

// flight is one verification that concurrent callers with the same pair wait for.
type flight struct {
	done  chan struct{}
	match bool // set before done is closed
}

// NewCache remembers up to size pairs for ttl each.
func NewCache(ttl time.Duration, size int) *Cache {
	key := make([]byte, 32)
	rand.Read(key)
	c := &Cache{ttl: ttl, size: size, seen: map[[sha256.Size]byte]time.Time{},
		inFlight: map[[sha256.Size]byte]*flight{}}
	c.macs.New = func() any { return &pairMAC{mac: hmac.New(sha256.New, key)} }
	return c
}

// pairMAC is a pooled HMAC with the buffer its input is written from: three
// conversions to []byte through hash.Hash's Write were three allocations a request.
type pairMAC struct {
	mac hash.Hash
	buf []byte
}

func (c *Cache) pair(stored, password string) [sha256.Size]byte {
	p := c.macs.Get().(*pairMAC)
	defer c.macs.Put(p)
	p.buf = append(append(append(p.buf[:0], stored...), 0), password...)
	p.mac.Reset()
	p.mac.Write(p.buf)
	clear(p.buf) // no password left in the pool
	var pair [sha256.Size]byte
	p.mac.Sum(pair[:0])
	return pair
}

// Has reports whether the pair verified within the TTL.
func (c *Cache) Has(stored, password string) bool {
	pair := c.pair(stored, password)
	c.mu.Lock()
	expiry, ok := c.seen[pair]
	c.mu.Unlock()
	hit := ok && time.Now().Before(expiry)
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return hit
}

// Hits and Misses count Has's answers since the cache was made.
func (c *Cache) Hits() uint64   { return c.hits.Load() }
func (c *Cache) Misses() uint64 { return c.misses.Load() }

// Verify runs verify for a pair that is not known, and remembers a success. Callers
// that ask about the same pair while it runs wait for it and share a success (the
// first requests of a client that opens several connections with new credentials
// would otherwise each pay a full hash). Only a success is shared: after a failure,
// or the error of a caller who left, each waiting caller verifies for itself, so a
// storm of one wrong guess still pays for every try, in line at the hash gate.
func (c *Cache) Verify(ctx context.Context, stored, password string, verify func() (bool, error)) (bool, error) {
	pair := c.pair(stored, password)
	c.mu.Lock()
	f, joined := c.inFlight[pair]
	if !joined {
		f = &flight{done: make(chan struct{})}
		c.inFlight[pair] = f
	}
	c.mu.Unlock()
	if joined {
		select {
		case <-f.done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if f.match {
			return true, nil
		}
	}
	match, err := verify()
	if match {
		c.Add(stored, password)
	}
	if !joined {
		f.match = match
		c.mu.Lock()
		delete(c.inFlight, pair)
		c.mu.Unlock()
		close(f.done)
	}
	return match, err
}

// Add remembers a pair that verified, first dropping expired ones (or, if none
// has expired, everything) when the cache is full.
func (c *Cache) Add(stored, password string) {
	pair := c.pair(stored, password)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= c.size {
		for k, expiry := range c.seen {
			if !now.Before(expiry) {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= c.size {
			clear(c.seen)
		}
	}
	c.seen[pair] = now.Add(c.ttl)
}

// Package usercache keeps users read by name for a while, so that a request whose
// credentials verified recently needs no database round trip for its user. It
// wraps a storage.Store and changes only what it must: UserByName reads through
// the cache, and the writes that change a user tell a Notifier, which every
// replica's cache listens to. A TTL bounds what a missed notification (a
// replica that does not share the Notifier) can leave stale.
package usercache

import (
	"context"
	"sync"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Notifier carries "this user changed" to every cache that listens: in process
// for one replica (Local); across replicas it would be Postgres LISTEN/NOTIFY.
type Notifier interface {
	// Changed tells every listener, this replica's included, before it returns.
	Changed(ctx context.Context, username string)
	// Listen calls f for every change from now on.
	Listen(f func(username string))
}

// Local is the Notifier of a single process.
type Local struct {
	mu        sync.Mutex
	listeners []func(string)
}

func (l *Local) Changed(_ context.Context, username string) {
	l.mu.Lock()
	listeners := l.listeners
	l.mu.Unlock()
	for _, f := range listeners {
		f(username)
	}
}

func (l *Local) Listen(f func(string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listeners = append(l.listeners, f)
}

// maxUsers bounds the memory a flood of distinct logins can take.
const maxUsers = 100_000

// Store is a storage.Store whose UserByName answers from memory for up to ttl.
type Store struct {
	storage.Store
	notifier Notifier
	ttl      time.Duration
	now      func() time.Time

	mu    sync.Mutex
	users map[string]entry
	gen   uint64 // counts invalidations, so a read that raced one is not kept
}

type entry struct {
	user    storage.User
	expires time.Time
}

// New wraps s; ttl must be positive.
func New(s storage.Store, ttl time.Duration, n Notifier) *Store {
	c := &Store{Store: s, notifier: n, ttl: ttl, now: time.Now, users: map[string]entry{}}
	n.Listen(c.forget)
	return c
}

func (c *Store) forget(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.users, username)
	c.gen++
}

// UserByName implements storage.Store. Only users found are kept: an unknown
// name costs the round trip each time, as it costs a hash.
func (c *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	c.mu.Lock()
	e, ok := c.users[username]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.user, nil
	}
	u, err := c.Store.UserByName(ctx, username)
	if err != nil {
		return u, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.users) >= maxUsers {
			clear(c.users)
		}
		c.users[username] = entry{u, c.now().Add(c.ttl)}
	}
	return u, nil
}

// SetPasswordHash implements storage.Store.
func (c *Store) SetPasswordHash(ctx context.Context, username, passwordHash string) error {
	defer c.notifier.Changed(ctx, username)
	return c.Store.SetPasswordHash(ctx, username, passwordHash)
}

// SetAdmin implements storage.Store.
func (c *Store) SetAdmin(ctx context.Context, username string, isAdmin bool) error {
	defer c.notifier.Changed(ctx, username)
	return c.Store.SetAdmin(ctx, username, isAdmin)
}

// DeleteUser implements storage.Store.
func (c *Store) DeleteUser(ctx context.Context, username string) error {
	defer c.notifier.Changed(ctx, username)
	return c.Store.DeleteUser(ctx, username)
}

// Package usercache keeps users read by name, and access tokens by hash, for a
// while, so that a request whose credentials verified recently needs no database
// round trip for its user or token. It wraps a storage.Store (and storage.Tokens)
// and changes only what it must: the reads go through the cache, and the writes
// that change a user or their tokens tell a Notifier, which every replica's
// cache listens to. A TTL bounds what a missed notification can leave stale.
package usercache

import (
	"context"
	"sync"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Notifier carries "this user changed" to every cache that listens: in process
// for one replica (Local); across replicas Postgres LISTEN/NOTIFY
// (postgres.Notifier).
type Notifier interface {
	// Changed tells every listener, this replica's included, before it returns.
	Changed(ctx context.Context, username string)
	// Listen calls f for every change from now on. An empty username (no user
	// has one) means any user may have changed: a notifier that may have missed
	// changes, as one whose connection was lost, says so.
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

	mu     sync.Mutex
	users  map[string]entry
	tokens map[string]tokenEntry // by the token's hash, never its secret
	hashes map[int32]string      // token id to the key in tokens
	gen    uint64                // counts invalidations, so a read that raced one is not kept
}

type entry struct {
	user    storage.User
	expires time.Time
}

type tokenEntry struct {
	token   storage.Token
	user    storage.User
	expires time.Time
}

// New wraps s; ttl must be positive.
func New(s storage.Store, ttl time.Duration, n Notifier) *Store {
	c := &Store{Store: s, notifier: n, ttl: ttl, now: time.Now, users: map[string]entry{}, tokens: map[string]tokenEntry{}, hashes: map[int32]string{}}
	n.Listen(c.forget)
	return c
}

// forget drops a user and their tokens; "" drops everything.
func (c *Store) forget(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if username == "" {
		clear(c.users)
		clear(c.tokens)
		clear(c.hashes)
		return
	}
	delete(c.users, username)
	for h, e := range c.tokens {
		if e.user.Username == username {
			delete(c.tokens, h)
			delete(c.hashes, e.token.ID)
		}
	}
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

// Tokens is a storage.Tokens whose TokenByHash answers from the cache of c for
// up to its TTL; a revoke or rotate is told to c's Notifier, as a change of the
// token's owner.
type Tokens struct {
	storage.Tokens
	c *Store
}

// Tokens wraps t so that its tokens share c's cache and notifier.
func (c *Store) Tokens(t storage.Tokens) *Tokens { return &Tokens{Tokens: t, c: c} }

// TokenByHash implements storage.Tokens. As with users, only tokens found are kept.
func (t *Tokens) TokenByHash(ctx context.Context, hash []byte) (storage.Token, storage.User, error) {
	c := t.c
	c.mu.Lock()
	e, ok := c.tokens[string(hash)]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.token, e.user, nil
	}
	tok, u, err := t.Tokens.TokenByHash(ctx, hash)
	if err != nil {
		return tok, u, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.tokens) >= maxUsers {
			clear(c.tokens)
			clear(c.hashes)
		}
		c.tokens[string(hash)] = tokenEntry{tok, u, c.now().Add(c.ttl)}
		c.hashes[tok.ID] = string(hash)
	}
	return tok, u, nil
}

// TouchToken implements storage.Tokens. The remembered token takes the time
// too, so that it is written at most once an interval from the cache as well.
func (t *Tokens) TouchToken(ctx context.Context, id int32, at, notBefore time.Time) error {
	err := t.Tokens.TouchToken(ctx, id, at, notBefore)
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.tokens[c.hashes[id]]; ok {
		e.token.LastUsedAt = &at
		c.tokens[c.hashes[id]] = e
	}
	return err
}

// RotateToken implements storage.Tokens.
func (t *Tokens) RotateToken(ctx context.Context, userID int32, name string, hash []byte, createdAt, expiresAt time.Time) (storage.Token, error) {
	defer t.changed(ctx, userID)
	return t.Tokens.RotateToken(ctx, userID, name, hash, createdAt, expiresAt)
}

// RevokeToken implements storage.Tokens.
func (t *Tokens) RevokeToken(ctx context.Context, userID int32, name string) error {
	defer t.changed(ctx, userID)
	return t.Tokens.RevokeToken(ctx, userID, name)
}

// changed tells the notifier that the user with that id changed. Notifications
// name users, so the name is read; if that fails, every user is named.
func (t *Tokens) changed(ctx context.Context, userID int32) {
	username := ""
	if us, err := t.c.Store.ListUsers(ctx, userID-1, 1); err == nil && len(us) == 1 && us[0].ID == userID {
		username = us[0].Username
	}
	t.c.notifier.Changed(ctx, username)
}

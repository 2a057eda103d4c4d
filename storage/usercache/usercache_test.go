package usercache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// A user read recently is answered without the database: a change made behind
// the cache's back (another replica without a shared notifier) shows only once
// the TTL has passed.
func TestRemembersForTTL(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	if _, err := db.CreateUser(ctx, "bob", "h1", false); err != nil {
		t.Fatal(err)
	}
	c := New(db, time.Minute, &Local{})
	clock := time.Now()
	c.now = func() time.Time { return clock }
	if u, err := c.UserByName(ctx, "bob"); err != nil || u.IsAdmin {
		t.Fatalf("UserByName = %+v, %v", u, err)
	}
	if err := db.SetAdmin(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if u, err := c.UserByName(ctx, "bob"); err != nil || u.IsAdmin {
		t.Fatalf("within the TTL: %+v, %v; want the remembered non-admin", u, err)
	}
	clock = clock.Add(time.Minute)
	if u, err := c.UserByName(ctx, "bob"); err != nil || !u.IsAdmin {
		t.Fatalf("after the TTL: %+v, %v; want the admin", u, err)
	}
}

// Every change through a cache is seen on the next read, by every cache that
// shares the notifier (another replica), however long the TTL.
func TestChangesAreSeenAtOnce(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	if _, err := db.CreateUser(ctx, "root", "h", true); err != nil { // so bob may be demoted and deleted
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, "bob", "h1", false); err != nil {
		t.Fatal(err)
	}
	n := &Local{}
	here, there := New(db, time.Hour, n), New(db, time.Hour, n)
	read := func(want func(storage.User, error) bool, what string) {
		t.Helper()
		for name, c := range map[string]*Store{"here": here, "there": there} {
			if u, err := c.UserByName(ctx, "bob"); !want(u, err) {
				t.Fatalf("%s after %s: %+v, %v", name, what, u, err)
			}
		}
	}
	read(func(u storage.User, err error) bool { return err == nil && u.PasswordHash == "h1" }, "nothing")
	if err := here.SetPasswordHash(ctx, "bob", "h2"); err != nil {
		t.Fatal(err)
	}
	read(func(u storage.User, err error) bool { return err == nil && u.PasswordHash == "h2" }, "a new password")
	if err := here.SetAdmin(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	read(func(u storage.User, err error) bool { return err == nil && u.IsAdmin }, "promotion")
	if err := here.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	read(func(_ storage.User, err error) bool { return errors.Is(err, storage.ErrNotFound) }, "deletion")
}

// A token read recently is answered from memory, by its hash; a revoke or a
// rotation through either cache sharing the notifier is seen by both at once,
// and a flush ("") forgets everything.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewSQLite(t)
	bob, err := db.CreateUser(ctx, "bob", "h1", false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	mk := func(name string, hash string) {
		t.Helper()
		if _, err := db.CreateToken(ctx, storage.Token{UserID: bob.ID, Name: name, Hash: []byte(hash), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	mk("ci", "hash-ci")
	mk("nb", "hash-nb")
	n := &Local{}
	here, there := New(db, time.Hour, n).Tokens(db), New(db, time.Hour, n).Tokens(db)
	found := func(c *Tokens, hash string) bool {
		t.Helper()
		_, _, err := c.TokenByHash(ctx, []byte(hash))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	for _, c := range []*Tokens{here, there} {
		if !found(c, "hash-ci") || !found(c, "hash-nb") {
			t.Fatal("tokens not found")
		}
	}
	// Behind the caches' back: remembered.
	if err := db.RevokeToken(ctx, bob.ID, "nb"); err != nil {
		t.Fatal(err)
	}
	if !found(there, "hash-nb") {
		t.Fatal("a token revoked behind the cache's back is forgotten within the TTL")
	}
	// Using a token records it in the cache as well: within the minute, it is not written again.
	if err := here.TouchToken(ctx, 1, at, at.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if tok, _, _ := here.TokenByHash(ctx, []byte("hash-ci")); tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(at) {
		t.Fatalf("cached last use %v, want %v", tok.LastUsedAt, at)
	}
	if _, err := here.RotateToken(ctx, bob.ID, "ci", []byte("hash-ci-2"), at, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Tokens{"here": here, "there": there} {
		if found(c, "hash-ci") || !found(c, "hash-ci-2") {
			t.Fatalf("%s after a rotation: the old hash still works or the new one does not", name)
		}
		if found(c, "hash-nb") {
			t.Fatalf("%s: the revoked token, forgotten with its owner's change, still works", name)
		}
	}
	if err := there.RevokeToken(ctx, bob.ID, "ci"); err != nil {
		t.Fatal(err)
	}
	if found(here, "hash-ci-2") || found(there, "hash-ci-2") {
		t.Fatal("a revoked token still works")
	}
	mk("late", "hash-late")
	found(here, "hash-late")
	if err := db.RevokeToken(ctx, bob.ID, "late"); err != nil {
		t.Fatal(err)
	}
	n.Changed(ctx, "")
	if found(here, "hash-late") {
		t.Fatal("a token survived a flush")
	}
}

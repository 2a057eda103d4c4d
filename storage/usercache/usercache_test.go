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

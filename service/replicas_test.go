package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// twoReplicas starts replicas A and B of one Postgres schema, each with its own
// user cache (an hour) and its own listener, as two processes would have.
func twoReplicas(t *testing.T) (a, b *servicetest.Server, schema *storagetest.PostgresSchema, db *postgres.Store) {
	t.Helper()
	return twoReplicasWith(t, servicetest.Options{})
}

// twoReplicasWith is twoReplicas with opts for both, but for the store and caches.
func twoReplicasWith(t *testing.T, opts servicetest.Options) (a, b *servicetest.Server, schema *storagetest.PostgresSchema, db *postgres.Store) {
	t.Helper()
	schema = storagetest.NewPostgresSchema(t)
	db, err := postgres.Open(context.Background(), schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	var notifiers []*postgres.Notifier
	start := func() *servicetest.Server {
		n := db.Notifier(ctx)
		notifiers = append(notifiers, n)
		opts.Store, opts.UserCacheTTL, opts.CredentialCacheTTL, opts.UserChanges = db, time.Hour, time.Hour, n
		return servicetest.Start(t, opts)
	}
	a, b = start(), start()
	waitForListeners(t, schema, 2)
	for _, n := range notifiers {
		listening(t, n)
	}
	return a, b, schema, db
}

// listening waits until n hears a NOTIFY of its own, which it can only once it
// has flushed the caches for its first LISTEN: a cache filled before that may
// be flushed at any time (a LISTEN shows in pg_stat_activity a little sooner).
func listening(t *testing.T, n *postgres.Notifier) {
	t.Helper()
	const probe = "(listener probe)"
	var heard atomic.Int32 // once in process for each probe sent, once more through LISTEN
	n.Listen(func(name string) {
		if name == probe {
			heard.Add(1)
		}
	})
	for sent, deadline := int32(1), time.Now().Add(10*time.Second); ; sent++ {
		n.Changed(context.Background(), probe)
		time.Sleep(20 * time.Millisecond)
		if heard.Load() > sent {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not hear its own NOTIFY in 10 s")
		}
	}
}

// waitForListeners waits until n listener connections have run their LISTEN.
func waitForListeners(t *testing.T, schema *storagetest.PostgresSchema, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var got int
		if err := schema.Admin.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query LIKE 'LISTEN %'",
			postgres.ListenerApplicationName).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listeners after 10 s, want %d", got, n)
		}
	}
}

// within1s polls ok until it holds, fails the test after a second, and says how long it took.
func within1s(t *testing.T, what string, since time.Time, ok func() bool) {
	t.Helper()
	for !ok() {
		if time.Since(since) > time.Second {
			t.Fatalf("%s: not seen on replica B after 1 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("%s: seen on B after %v", what, time.Since(since).Round(100*time.Microsecond))
}

// A change made on replica A holds on replica B within a second, though B
// remembers users and tokens for an hour: a password change, a token revoke, a
// grant and a deletion.
func TestReplicasSeeEachOthersChanges(t *testing.T) {
	a, b, _, _ := twoReplicas(t)
	onA := func(verb, path, body string) string {
		t.Helper()
		st, out := do(t, verb, a.URL+path, adminUser, adminPass, strings.NewReader(body), nil)
		if st != http.StatusOK {
			t.Fatalf("A: %s %s: %d %s", verb, path, st, out)
		}
		return string(out)
	}
	onB := func(user, pass, path string) (int, string) {
		st, out := do(t, http.MethodGet, b.URL+path, user, pass, nil, nil)
		return st, string(out)
	}
	const getBob = "/api/2.0/mlflow/users/get?username=bob"
	onA(http.MethodPost, "/api/2.0/mlflow/users/create", `{"username": "bob", "password": "bob-password-1"}`)
	if st, _ := onB("bob", "bob-password-1", getBob); st != http.StatusOK { // now remembered on B
		t.Fatalf("bob on B: %d", st)
	}

	changed := time.Now()
	onA(http.MethodPatch, "/api/2.0/mlflow/users/update-password", `{"username": "bob", "password": "bob-password-2"}`)
	within1s(t, "a password change", changed, func() bool {
		st, _ := onB("bob", "bob-password-1", getBob)
		return st == http.StatusUnauthorized
	})
	if st, _ := onB("bob", "bob-password-2", getBob); st != http.StatusOK {
		t.Fatalf("bob's new password on B: %d", st)
	}

	var made struct{ Token string }
	if err := json.Unmarshal([]byte(onA(http.MethodPost, "/api/2.0/mlflow/users/tokens/create", `{"username": "bob", "name": "ci"}`)), &made); err != nil || made.Token == "" {
		t.Fatalf("token: %v %q", err, made.Token)
	}
	if st, _ := onB(bearerUser, made.Token, getBob); st != http.StatusOK {
		t.Fatalf("bob's token on B: %d", st)
	}
	changed = time.Now()
	onA(http.MethodPost, "/api/2.0/mlflow/users/tokens/revoke", `{"username": "bob", "name": "ci"}`)
	within1s(t, "a token revoke", changed, func() bool {
		st, _ := onB(bearerUser, made.Token, getBob)
		return st == http.StatusUnauthorized
	})

	const check = "/api/3.0/mlflow/permissions/check?username=bob&capability=manage&resource_type=experiment&resource_id=7"
	if st, out := onB("bob", "bob-password-2", check); st != http.StatusOK || strings.Contains(out, `"allowed":true`) {
		t.Fatalf("bob may manage experiment 7 before the grant: %d %s", st, out)
	}
	changed = time.Now()
	onA(http.MethodPost, "/api/2.0/mlflow/experiments/permissions/create", `{"experiment_id": "7", "username": "bob", "permission": "MANAGE"}`)
	within1s(t, "a grant", changed, func() bool {
		_, out := onB("bob", "bob-password-2", check)
		return strings.Contains(out, `"allowed":true`)
	})

	changed = time.Now()
	onA(http.MethodDelete, "/api/2.0/mlflow/users/delete", `{"username": "bob"}`)
	within1s(t, "a deletion", changed, func() bool {
		st, _ := onB("bob", "bob-password-2", getBob)
		return st == http.StatusUnauthorized
	})
}

// A lost listener connection flushes the cache, since changes sent meanwhile
// are lost; the listener comes back and hears changes again.
func TestLostListenerFlushesCache(t *testing.T) {
	a, b, schema, db := twoReplicas(t)
	ctx := context.Background()
	getBob := func(pass string) int {
		st, _ := do(t, http.MethodGet, b.URL+"/api/2.0/mlflow/users/get?username=bob", "bob", pass, nil, nil)
		return st
	}
	if st, out := do(t, http.MethodPost, a.URL+"/api/2.0/mlflow/users/create", adminUser, adminPass,
		strings.NewReader(`{"username": "bob", "password": "bob-password-1"}`), nil); st != http.StatusOK {
		t.Fatalf("create bob: %d %s", st, out)
	}
	if st := getBob("bob-password-1"); st != http.StatusOK {
		t.Fatalf("bob on B: %d", st)
	}
	// A change behind every cache's back (no NOTIFY): B keeps the old password.
	h, err := password.Params{N: 1024, R: 8, P: 1}.Hash("bob-password-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetPasswordHash(ctx, "bob", h); err != nil {
		t.Fatal(err)
	}
	if st := getBob("bob-password-1"); st != http.StatusOK {
		t.Fatalf("the old password, remembered: %d", st)
	}
	cut := time.Now()
	if _, err := schema.Admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
		postgres.ListenerApplicationName); err != nil {
		t.Fatal(err)
	}
	within1s(t, "a lost listener connection", cut, func() bool { return getBob("bob-password-1") == http.StatusUnauthorized })
	waitForListeners(t, schema, 2)
	if st := getBob("bob-password-2"); st != http.StatusOK {
		t.Fatalf("the new password on B: %d", st)
	}
	changed := time.Now()
	if st, out := do(t, http.MethodPatch, a.URL+"/api/2.0/mlflow/users/update-password", adminUser, adminPass,
		strings.NewReader(`{"username": "bob", "password": "bob-password-3"}`), nil); st != http.StatusOK {
		t.Fatalf("update-password: %d %s", st, out)
	}
	within1s(t, "a password change after reconnecting", changed, func() bool { return getBob("bob-password-2") == http.StatusUnauthorized })
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.PostgresURL(t) // skip (or fail in CI) once, not once per subtest
	storagetest.Run(t, func(t *testing.T) storagetest.OpenFunc {
		db := storagetest.NewPostgresSchema(t)
		return func() (storagetest.Backend, error) { return Open(context.Background(), db.URL) }
	})
}

// TestDatabaseGoesAway puts a FaultProxy between the Store and Postgres, cuts it
// and restores it: while cut, every method fails with ErrUnavailable (quickly, not
// by running into the caller's deadline), and afterwards the same Store works again.
func TestDatabaseGoesAway(t *testing.T) {
	db, proxied, proxy := storagetest.NewCuttablePostgres(t)

	// A safety net so a hang fails the test instead of stalling it; no error below
	// may come from this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, proxied)
	if err != nil {
		t.Fatalf("Open through the proxy: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	alice, err := s.CreateUser(ctx, "alice", "h", true)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	r := permission.Resource{Type: permission.Experiment, ID: "1"}
	if _, err := s.CreateGrant(ctx, alice.ID, r, permission.Manage); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}

	wantUnavailable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the database is away: %v; want storage.ErrUnavailable", what, err)
			return
		}
		t.Logf("%s: %v", what, err)
	}

	// Fill the pool, so that after the cut some calls meet dead pooled
	// connections and others must dial.
	var conns []*pgxpool.Conn
	for range s.pool.Config().MaxConns {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}

	// 1. A query in flight when the connection drops: hold a lock the query
	// waits for, cut while it waits.
	lockTx, err := db.Admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lockTx.Rollback(context.Background())
	users := pgx.Identifier{db.Name, "users"}.Sanitize()
	if _, err := lockTx.Exec(ctx, "LOCK TABLE "+users+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan error, 1)
	go func() {
		_, err := s.UserByName(ctx, "alice")
		inFlight <- err
	}()
	waitForLockWaiter(ctx, t, db.Admin, users)
	proxy.Cut()
	wantUnavailable("a query in flight", <-inFlight)
	if err := lockTx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// 2. Every method while the database stays away: pooled connections are dead,
	// new ones are refused.
	calls := storeCalls(s, alice.ID, r)
	for _, c := range calls {
		wantUnavailable(c.name, c.call(ctx))
	}
	_, err = Open(ctx, proxied)
	wantUnavailable("Open", err)

	// 3. Back again: the same Store recovers by itself. A call may still meet a
	// connection the pool has not yet found dead (each such failure drops one), so
	// allow one failed call per pooled connection, then insist on success.
	proxy.Restore()
	maxConns := int(s.pool.Config().MaxConns)
	recovered := false
	for range maxConns + 1 {
		_, err := s.CountAdmins(ctx)
		if err == nil {
			recovered = true
			break
		}
		wantUnavailable("CountAdmins just after Restore", err)
	}
	if !recovered {
		t.Fatalf("the Store did not recover within %d calls", maxConns+1)
	}
	for _, c := range calls {
		if err := c.call(ctx); err != nil {
			t.Errorf("%s after the database came back: %v", c.name, err)
		}
	}
	got, err := s.UserByName(ctx, "alice")
	if err != nil || got != alice {
		t.Fatalf("UserByName(alice) after recovery = %+v, %v; want %+v", got, err, alice)
	}
	if g, err := s.Grant(ctx, alice.ID, r); err != nil || g.Level != permission.Manage {
		t.Fatalf("Grant after recovery = %+v, %v", g, err)
	}
}

// storeCalls is one call of every Store and Migrator method, each one harmless to
// repeat on the database TestDatabaseGoesAway sets up.
func storeCalls(s *Store, adminID int32, r permission.Resource) []struct {
	name string
	call func(context.Context) error
} {
	other := permission.Resource{Type: permission.Experiment, ID: "2"}
	return []struct {
		name string
		call func(context.Context) error
	}{
		{"UserByName", func(ctx context.Context) error { _, err := s.UserByName(ctx, "alice"); return err }},
		{"CountAdmins", func(ctx context.Context) error { _, err := s.CountAdmins(ctx); return err }},
		{"ListUsers", func(ctx context.Context) error { _, err := s.ListUsers(ctx, 0, 10); return err }},
		{"SetPasswordHash", func(ctx context.Context) error { return s.SetPasswordHash(ctx, "alice", "h") }},
		{"SetAdmin", func(ctx context.Context) error { return s.SetAdmin(ctx, "alice", true) }},
		{"CreateUser", func(ctx context.Context) error {
			_, err := s.CreateUser(ctx, "bob", "h", false)
			if err == nil {
				err = s.DeleteUser(ctx, "bob")
			}
			return err
		}},
		{"DeleteUser", func(ctx context.Context) error {
			err := s.DeleteUser(ctx, "nobody")
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			return err
		}},
		{"CreateGrant", func(ctx context.Context) error {
			_, err := s.CreateGrant(ctx, adminID, other, permission.Read)
			if err == nil {
				err = s.DeleteGrant(ctx, adminID, other)
			}
			return err
		}},
		{"Grant", func(ctx context.Context) error { _, err := s.Grant(ctx, adminID, r); return err }},
		{"UpdateGrant", func(ctx context.Context) error {
			_, err := s.UpdateGrant(ctx, adminID, r, permission.Manage)
			return err
		}},
		{"DeleteGrant", func(ctx context.Context) error {
			err := s.DeleteGrant(ctx, adminID, other)
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			return err
		}},
		{"GrantsOfUsers", func(ctx context.Context) error { _, err := s.GrantsOfUsers(ctx, []int32{adminID}); return err }},
		{"GrantsOnResource", func(ctx context.Context) error { _, err := s.GrantsOnResource(ctx, r, 0, 0); return err }},
		{"Migrate", func(ctx context.Context) error { return s.Migrate(ctx) }},
		{"MigrationStatus", func(ctx context.Context) error { _, err := s.MigrationStatus(ctx); return err }},
	}
}

// waitForLockWaiter returns once some session waits for a lock on table.
func waitForLockWaiter(ctx context.Context, t *testing.T, admin *pgxpool.Pool, table string) {
	t.Helper()
	for {
		var waiting bool
		err := admin.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND relation = $1::regclass)", table).Scan(&waiting)
		if err != nil {
			t.Fatalf("watch pg_locks: %v", err)
		}
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The tests below need no database.

func TestOpenRejectsOtherURLs(t *testing.T) {
	for _, u := range []string{"sqlite:///x.db", "mysql://u@h/db", "host=localhost dbname=x", ""} {
		if _, err := Open(context.Background(), u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	_, err := Open(context.Background(), "postgres://u:secret@127.0.0.1:1/db?sslmode=bogus")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open with a bad parameter: %v; want an error without the password", err)
	}
}

// TestOpenDatabaseDown: nothing listens on the port.
func TestOpenDatabaseDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(context.Background(), "postgres://u:pw@"+addr+"/db?sslmode=disable")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Open with nothing listening: %v; want storage.ErrUnavailable", err)
	}
}

// TestOpenDatabaseSilent: a server that accepts connections but never answers.
// Open must give up by itself (the default connect timeout), not hang.
func TestOpenDatabaseSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			go io.Copy(io.Discard, c)
		}
	}()
	_, err = Open(context.Background(), "postgres://u:pw@"+ln.Addr().String()+"/db?sslmode=disable")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Open on a silent server: %v; want storage.ErrUnavailable", err)
	}
}

func TestClassify(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "driver text"})
	}
	cases := []struct {
		err  error
		want error // nil: passes through unchanged
	}{
		{pgx.ErrNoRows, storage.ErrNotFound},
		{fmt.Errorf("scan: %w", pgx.ErrNoRows), storage.ErrNotFound},
		{pg("23505"), storage.ErrAlreadyExists},
		{pg("23503"), storage.ErrNotFound},
		{pg("08006"), storage.ErrUnavailable},
		{pg("08001"), storage.ErrUnavailable},
		{pg("57P01"), storage.ErrUnavailable},
		{pg("57P02"), storage.ErrUnavailable},
		{pg("57P03"), storage.ErrUnavailable},
		{pg("53300"), storage.ErrUnavailable},
		{pg("25006"), storage.ErrUnavailable},
		{pg("40001"), storage.ErrUnavailable},
		{pg("40P01"), storage.ErrUnavailable},
		{&pgconn.ConnectError{}, storage.ErrUnavailable},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), storage.ErrUnavailable},
		{fmt.Errorf("read: %w", io.EOF), storage.ErrUnavailable},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, storage.ErrUnavailable},
		{fmt.Errorf("x: %w", pgconn.ErrConnClosed), storage.ErrUnavailable},
		{pg("42P01"), nil}, // undefined_table: a bug, not an outage
		{pg("22001"), nil},
		{context.Canceled, nil},
		{fmt.Errorf("query: %w", context.Canceled), nil},
		{errors.New("something else"), nil},
	}
	for _, c := range cases {
		got := classify(c.err)
		if c.want == nil {
			if got != c.err {
				t.Errorf("classify(%v) = %v; want it unchanged", c.err, got)
			}
			continue
		}
		if !errors.Is(got, c.want) {
			t.Errorf("classify(%v) = %v; want %v", c.err, got, c.want)
		}
		if c.want != storage.ErrNotFound || !errors.Is(c.err, pgx.ErrNoRows) {
			// Everything but "no rows" keeps the original error for the logs.
			if !errors.Is(got, c.err) {
				t.Errorf("classify(%v) = %v; lost the original error", c.err, got)
			}
		}
	}
	for _, sentinel := range []error{storage.ErrAlreadyExists, storage.ErrNotFound, storage.ErrUnavailable} {
		if errors.Is(classify(pg("99999")), sentinel) {
			t.Errorf("an unknown SQLSTATE classified as %v", sentinel)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

// Two transactions that lock two rows in opposite orders deadlock on their first
// attempt; Postgres aborts one, and inTx runs it again, so both succeed.
func TestInTxRetriesDeadlocks(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, storagetest.NewPostgresSchema(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := s.CreateUser(ctx, name, "x", false); err != nil {
			t.Fatal(err)
		}
	}
	var bothHoldOne sync.WaitGroup
	bothHoldOne.Add(2)
	var attempts atomic.Int32
	lockBoth := func(first, second string) error {
		firstAttempt := true
		return s.inTx(ctx, func(tx pgx.Tx) error {
			attempts.Add(1)
			if _, err := tx.Exec(ctx, "UPDATE users SET password_hash = 'y' WHERE username = $1", first); err != nil {
				return err
			}
			if firstAttempt {
				firstAttempt = false
				bothHoldOne.Done()
				bothHoldOne.Wait()
			}
			_, err := tx.Exec(ctx, "UPDATE users SET password_hash = 'y' WHERE username = $1", second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- lockBoth("a", "b") }()
	go func() { errs <- lockBoth("b", "a") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("inTx: %v", err)
		}
	}
	if n := attempts.Load(); n < 3 {
		t.Errorf("%d attempts, want a third after the deadlock", n)
	}
}

// Pointed at a database holding MLflow's own tables, Migrate refuses in words,
// rather than failing on its users table with Postgres's.
func TestMigrateRefusesMLflowsDatabase(t *testing.T) {
	db := storagetest.NewPostgresSchema(t)
	ctx := context.Background()
	raw, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if _, err := raw.Exec(ctx, storagetest.MLflowUsersTable); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storagetest.WantForeignTablesRefused(t, s)
}

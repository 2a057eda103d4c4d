package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// tokenTests cover every method of storage.Tokens.
var tokenTests = []struct {
	name string
	fn   func(t *testing.T, open OpenFunc)
}{
	{"CreateToken", testCreateToken},
	{"CreateTokenErrors", testCreateTokenErrors},
	{"TokensOfUser", testTokensOfUser},
	{"RotateToken", testRotateToken},
	{"RevokeToken", testRevokeToken},
	{"TouchToken", testTouchToken},
	{"DeleteUserRemovesTokens", testDeleteUserRemovesTokens},
}

// tokenTime is a fixed moment with microseconds, the precision tokens keep.
var tokenTime = time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)

func mustCreateToken(t *testing.T, s Backend, u storage.User, name string, ceiling permission.Level) storage.Token {
	t.Helper()
	tok, err := s.CreateToken(context.Background(), storage.Token{
		UserID: u.ID, Name: name, Hash: []byte("hash of " + name + " of " + u.Username), Ceiling: ceiling,
		CreatedAt: tokenTime, ExpiresAt: tokenTime.Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("CreateToken(%s, %q): %v", u.Username, name, err)
	}
	return tok
}

func tokenKey(t storage.Token) string {
	last := "never"
	if t.LastUsedAt != nil {
		last = t.LastUsedAt.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%d/%d/%s/%q/%s/%s/%s/%s", t.ID, t.UserID, t.Name, t.Hash, t.Ceiling,
		t.CreatedAt.Format(time.RFC3339Nano), t.ExpiresAt.Format(time.RFC3339Nano), last)
}

func wantTokens(t *testing.T, what string, got, want []storage.Token) {
	t.Helper()
	g, w := make([]string, len(got)), make([]string, len(want))
	for i, tok := range got {
		g[i] = tokenKey(tok)
	}
	for i, tok := range want {
		w[i] = tokenKey(tok)
	}
	if !slices.Equal(g, w) {
		t.Fatalf("%s:\n got  %q\n want %q", what, g, w)
	}
}

func testCreateToken(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	full := mustCreateToken(t, s, alice, "ci", "")
	read := mustCreateToken(t, s, alice, "notebook", permission.Read)
	if full.ID <= 0 || read.ID <= full.ID {
		t.Fatalf("ids %d then %d: want positive and increasing", full.ID, read.ID)
	}
	wantTokens(t, "created", []storage.Token{full, read}, []storage.Token{
		{ID: full.ID, UserID: alice.ID, Name: "ci", Hash: []byte("hash of ci of alice"),
			CreatedAt: tokenTime, ExpiresAt: tokenTime.Add(24 * time.Hour)},
		{ID: read.ID, UserID: alice.ID, Name: "notebook", Hash: []byte("hash of notebook of alice"), Ceiling: permission.Read,
			CreatedAt: tokenTime, ExpiresAt: tokenTime.Add(24 * time.Hour)},
	})
	got, u, err := s.TokenByHash(ctx, read.Hash)
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	wantTokens(t, "by hash", []storage.Token{got}, []storage.Token{read})
	if u != alice {
		t.Fatalf("TokenByHash's user = %+v, want %+v", u, alice)
	}
	_, _, err = s.TokenByHash(ctx, []byte("hash of nothing"))
	wantErr(t, "TokenByHash of an unknown hash", err, storage.ErrNotFound)
}

func testCreateTokenErrors(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice, bob := mustCreateUser(t, s, "alice", false), mustCreateUser(t, s, "bob", false)
	first := mustCreateToken(t, s, alice, "ci", "")
	mustCreateToken(t, s, bob, "ci", "") // names are per user
	again := first
	again.Hash = []byte("another hash")
	_, err := s.CreateToken(ctx, again)
	wantErr(t, "CreateToken with a name the user has", err, storage.ErrAlreadyExists)
	again.Name, again.UserID = "other", 1<<30
	_, err = s.CreateToken(ctx, again)
	wantErr(t, "CreateToken of a missing user", err, storage.ErrNotFound)
}

func testTokensOfUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice, bob := mustCreateUser(t, s, "alice", false), mustCreateUser(t, s, "bob", false)
	a1 := mustCreateToken(t, s, alice, "z", "")
	mustCreateToken(t, s, bob, "b", "")
	a2 := mustCreateToken(t, s, alice, "a", permission.Read)
	got, err := s.TokensOfUser(ctx, alice.ID)
	if err != nil {
		t.Fatalf("TokensOfUser: %v", err)
	}
	wantTokens(t, "alice's tokens", got, []storage.Token{a1, a2})
	none, err := s.TokensOfUser(ctx, mustCreateUser(t, s, "carol", false).ID)
	if err != nil || len(none) != 0 {
		t.Fatalf("TokensOfUser of a user without tokens = %v, %v; want none", none, err)
	}
}

func testRotateToken(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice := mustCreateUser(t, s, "alice", false)
	old := mustCreateToken(t, s, alice, "ci", permission.Read)
	if err := s.TouchToken(ctx, old.ID, tokenTime.Add(time.Hour), tokenTime); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	later := tokenTime.Add(48 * time.Hour)
	rotated, err := s.RotateToken(ctx, alice.ID, "ci", []byte("new hash"), later, later.Add(time.Hour))
	if err != nil {
		t.Fatalf("RotateToken: %v", err)
	}
	want := storage.Token{ID: old.ID, UserID: alice.ID, Name: "ci", Hash: []byte("new hash"), Ceiling: permission.Read,
		CreatedAt: later, ExpiresAt: later.Add(time.Hour)}
	wantTokens(t, "rotated", []storage.Token{rotated}, []storage.Token{want})
	_, _, err = s.TokenByHash(ctx, old.Hash)
	wantErr(t, "TokenByHash of the hash before rotation", err, storage.ErrNotFound)
	got, _, err := s.TokenByHash(ctx, []byte("new hash"))
	if err != nil {
		t.Fatalf("TokenByHash of the new hash: %v", err)
	}
	wantTokens(t, "by the new hash", []storage.Token{got}, []storage.Token{want})
	_, err = s.RotateToken(ctx, alice.ID, "missing", []byte("h"), later, later)
	wantErr(t, "RotateToken of a missing token", err, storage.ErrNotFound)
}

func testRevokeToken(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	alice, bob := mustCreateUser(t, s, "alice", false), mustCreateUser(t, s, "bob", false)
	tok := mustCreateToken(t, s, alice, "ci", "")
	kept := mustCreateToken(t, s, bob, "ci", "")
	wantErr(t, "RevokeToken under another user", s.RevokeToken(ctx, bob.ID, "missing"), storage.ErrNotFound)
	if err := s.RevokeToken(ctx, alice.ID, "ci"); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	_, _, err := s.TokenByHash(ctx, tok.Hash)
	wantErr(t, "TokenByHash of a revoked token", err, storage.ErrNotFound)
	wantErr(t, "RevokeToken again", s.RevokeToken(ctx, alice.ID, "ci"), storage.ErrNotFound)
	if got, _, err := s.TokenByHash(ctx, kept.Hash); err != nil || !bytes.Equal(got.Hash, kept.Hash) {
		t.Fatalf("bob's token of the same name after alice's was revoked: %v, %v", got, err)
	}
}

// TouchToken writes at most once per interval: not again while the last write
// is notBefore or later.
func testTouchToken(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	tok := mustCreateToken(t, s, mustCreateUser(t, s, "alice", false), "ci", "")
	lastUsed := func() string {
		t.Helper()
		got, _, err := s.TokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatalf("TokenByHash: %v", err)
		}
		if got.LastUsedAt == nil {
			return "never"
		}
		return got.LastUsedAt.Format(time.RFC3339Nano)
	}
	if got := lastUsed(); got != "never" {
		t.Fatalf("a new token's last use: %s, want never", got)
	}
	first := tokenTime.Add(time.Minute)
	steps := []struct {
		at, notBefore time.Time
		want          time.Time
	}{
		{first, first.Add(-time.Minute), first},                                                                             // never used: written
		{first.Add(30 * time.Second), first.Add(-30 * time.Second), first},                                                  // within the interval: kept
		{first.Add(time.Minute + time.Microsecond), first.Add(time.Microsecond), first.Add(time.Minute + time.Microsecond)}, // after: written
	}
	for i, st := range steps {
		if err := s.TouchToken(ctx, tok.ID, st.at, st.notBefore); err != nil {
			t.Fatalf("TouchToken #%d: %v", i+1, err)
		}
		if got, want := lastUsed(), st.want.Format(time.RFC3339Nano); got != want {
			t.Fatalf("after TouchToken #%d: last used %s, want %s", i+1, got, want)
		}
	}
}

func testDeleteUserRemovesTokens(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	mustCreateUser(t, s, "admin", true)
	alice := mustCreateUser(t, s, "alice", false)
	tok := mustCreateToken(t, s, alice, "ci", "")
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, _, err := s.TokenByHash(ctx, tok.Hash)
	wantErr(t, "TokenByHash after the user was deleted", err, storage.ErrNotFound)
	// A new user who gets the same id must not inherit anything.
	again := mustCreateUser(t, s, "alice", false)
	if got, err := s.TokensOfUser(ctx, again.ID); err != nil || len(got) != 0 {
		t.Fatalf("tokens of a new alice: %v, %v; want none", got, err)
	}
}

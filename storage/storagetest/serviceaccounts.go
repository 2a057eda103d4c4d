package storagetest

import (
	"context"
	"slices"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// serviceAccountTests cover CreateServiceAccount, ListServiceAccounts and the
// kind every read of a user carries.
var serviceAccountTests = []struct {
	name string
	fn   func(t *testing.T, open OpenFunc)
}{
	{"CreateServiceAccount", testCreateServiceAccount},
	{"ListServiceAccounts", testListServiceAccounts},
}

// A service account has no password, is no admin, and reads back as a service
// account wherever a user is read: by name, in the list, with its token.
func testCreateServiceAccount(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	person := mustCreateUser(t, s, "alice", true)
	if person.IsServiceAccount {
		t.Errorf("CreateUser made a service account: %+v", person)
	}
	sa, err := s.CreateServiceAccount(ctx, "ci-bot")
	if err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	want := storage.User{ID: sa.ID, Username: "ci-bot", IsServiceAccount: true}
	if sa.ID <= 0 || sa != want {
		t.Errorf("CreateServiceAccount returned %+v, want %+v", sa, want)
	}
	if got, err := s.UserByName(ctx, "ci-bot"); err != nil || got != want {
		t.Errorf("UserByName = %+v, %v; want %+v", got, err, want)
	}
	all, err := s.ListUsers(ctx, 0, 0)
	if err != nil || !slices.Equal(all, []storage.User{person, want}) {
		t.Errorf("ListUsers = %+v, %v; want %+v and %+v", all, err, person, want)
	}
	tok := mustCreateToken(t, s, sa, "deploy", "")
	if _, u, err := s.TokenByHash(ctx, tok.Hash); err != nil || u != want {
		t.Errorf("TokenByHash user = %+v, %v; want %+v", u, err, want)
	}
	for _, name := range []string{"alice", "ci-bot"} {
		_, err := s.CreateServiceAccount(ctx, name)
		wantErr(t, "CreateServiceAccount("+name+")", err, storage.ErrAlreadyExists)
	}
	_, err = s.CreateUser(ctx, "ci-bot", "h", false)
	wantErr(t, "CreateUser over a service account", err, storage.ErrAlreadyExists)
	wantAdmins(t, s, 1)
	if err := s.DeleteUser(ctx, "ci-bot"); err != nil {
		t.Fatalf("DeleteUser(service account): %v", err)
	}
	_, err = s.UserByName(ctx, "ci-bot")
	wantErr(t, "UserByName after delete", err, storage.ErrNotFound)
}

// ListServiceAccounts pages through the service accounts alone, in id order.
func testListServiceAccounts(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s := migrated(t, open)
	if got, err := s.ListServiceAccounts(ctx, 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("ListServiceAccounts of an empty store = %+v, %v", got, err)
	}
	var want []storage.User
	for _, name := range []string{"a", "b", "c"} {
		mustCreateUser(t, s, "person-"+name, false)
		sa, err := s.CreateServiceAccount(ctx, "bot-"+name)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sa)
	}
	got, err := s.ListServiceAccounts(ctx, 0, 0)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ListServiceAccounts = %+v, %v; want %+v", got, err, want)
	}
	page, err := s.ListServiceAccounts(ctx, want[0].ID, 1)
	if err != nil || !slices.Equal(page, want[1:2]) {
		t.Errorf("ListServiceAccounts(after %d, 1) = %+v, %v; want %+v", want[0].ID, page, err, want[1:2])
	}
}

package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/mlflow-auth/mlflow-auth/decision"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// bootstrapOperation is the operation of the audit rows of the admin a start
// makes when the store has none.
const bootstrapOperation = "mlflow-auth serve (no admin)"

// EnsureAdmin makes sure the store has an admin. When it has none, it creates
// username (or promotes an existing user of that name) with pw; an empty pw is
// replaced by a generated one, which is returned so it can be shown once.
// It returns "" when nothing was generated.
func EnsureAdmin(ctx context.Context, store storage.Store, hasher password.Params, username, pw string) (generated string, err error) {
	if err := validateUsername(username); err != nil || username == "" {
		return "", fmt.Errorf("invalid admin username %q", username)
	}
	admins, err := store.CountAdmins(ctx)
	if err != nil || admins > 0 {
		return "", err
	}
	if pw == "" {
		generated = rand.Text() // 26 characters, 130 bits
		pw = generated
	} else if err := validatePassword(pw); err != nil {
		return "", fmt.Errorf("the admin password must be at least %d characters", minPasswordLen)
	}
	hash, err := hasher.Hash(pw)
	if err != nil {
		return "", err
	}
	// No caller makes these changes: their audit rows name no actor, and the
	// start as their operation.
	ctx = decision.WithAction(ctx, bootstrapOperation)
	yes := true
	_, err = store.CreateUser(userChange(ctx, "user.create", username, nil, userValue{Username: username, IsAdmin: &yes}), username, hash, true)
	if errors.Is(err, storage.ErrAlreadyExists) {
		existing, getErr := store.UserByName(ctx, username)
		if getErr != nil {
			return "", getErr
		}
		if existing.IsAdmin {
			return "", nil // another replica starting at the same moment created it
		}
		// A non-admin of that name: give the account the admin's password and role.
		changed := userValue{Username: username, Password: "changed"}
		if err = store.SetPasswordHash(userChange(ctx, "user.password", username, userValue{Username: username}, changed), username, hash); err == nil {
			err = store.SetAdmin(userChange(ctx, "user.admin", username, storage.AuditUserOf(existing), userValue{Username: username, IsAdmin: &yes}), username, true)
		}
	}
	if err != nil {
		return "", err
	}
	return generated, nil
}

package service

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Principal is an authenticated caller.
type Principal struct {
	User storage.User
	// BasicAuth is true when the caller proved their password on this request.
	BasicAuth bool
}

type principalKey struct{}

// principalFrom returns the caller that the policy check stored in ctx.
func principalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// notAuthenticated is MLflow's message for every authentication failure.
const notAuthenticated = "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate."

// authenticator turns the authorization header into a Principal.
type authenticator struct {
	store  storage.Store
	hasher password.Params
	// verify is password.Verify, or a password.Cache's when credentials are cached.
	verify func(stored, pw string) (bool, error)
	// dummyHash is verified for unknown users so that their failure takes as long as a wrong password.
	dummyHash string
}

// credentialCacheSize bounds the remembered credentials (one per active user and password).
const credentialCacheSize = 10_000

func newAuthenticator(store storage.Store, hasher password.Params, cacheTTL time.Duration) (*authenticator, error) {
	dummy, err := hasher.Hash("not a password anybody has")
	if err != nil {
		return nil, err
	}
	a := &authenticator{store: store, hasher: hasher, verify: password.Verify, dummyHash: dummy}
	if cacheTTL > 0 {
		a.verify = password.NewCache(cacheTTL, credentialCacheSize).Verify
	}
	return a, nil
}

// authenticateMetadata reads the "authorization" value of the incoming gRPC
// metadata; the REST gateway forwards the HTTP header under the same key.
func (a *authenticator) authenticateMetadata(ctx context.Context) (Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) != 1 {
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	return a.authenticate(ctx, values[0])
}

// authenticate checks an "Authorization: Basic ..." value against the store.
func (a *authenticator) authenticate(ctx context.Context, header string) (Principal, error) {
	username, pw, ok := parseBasic(header)
	if !ok || checkText("username", username, maxIDChars) != nil { // no such user can exist
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	user, err := a.store.UserByName(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		password.Verify(a.dummyHash, pw)
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	if err != nil {
		return Principal{}, internalError(ctx, err)
	}
	match, err := a.verify(user.PasswordHash, pw)
	if err != nil {
		slog.WarnContext(ctx, "stored password hash is unreadable", "user", user.Username)
	}
	if !match {
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	if a.hasher.NeedsRehash(user.PasswordHash) {
		a.rehash(ctx, user, pw)
	}
	return Principal{User: user, BasicAuth: true}, nil
}

// rehash upgrades an imported or older hash to the current parameters. A failure
// only means the next login tries again.
func (a *authenticator) rehash(ctx context.Context, user storage.User, pw string) {
	h, err := a.hasher.Hash(pw)
	if err == nil {
		err = a.store.SetPasswordHash(ctx, user.Username, h)
	}
	if err != nil {
		slog.WarnContext(ctx, "could not upgrade password hash", "user", user.Username, "err", err)
	}
}

// parseBasic splits "Basic base64(user:pass)" at the first colon, as werkzeug does.
func parseBasic(header string) (username, pw string, ok bool) {
	scheme, encoded, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", "", false
	}
	username, pw, ok = strings.Cut(string(raw), ":")
	return username, pw, ok && username != ""
}

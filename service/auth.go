package service

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"runtime"
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

// authenticator turns the authorization header into a Principal. Every key
// derivation it and the user service run passes its gate.
type authenticator struct {
	store  storage.Store
	hasher password.Params
	kdf    *password.Gate
	// verify is gatedVerify, behind a password.Cache when credentials are cached.
	verify func(ctx context.Context, stored, pw string) (bool, error)
	// dummyHash is verified for unknown users so that their failure takes as long as a wrong password.
	dummyHash string
}

// credentialCacheSize bounds the remembered credentials (one per active user and password).
const credentialCacheSize = 10_000

// KDFLimits bounds the password hashing that requests may cause (see password.Gate).
// The line is long on purpose: a caller waiting in it costs a goroutine and no CPU,
// while one turned away at once comes straight back, and a storm of those would
// take the cores that cached logins need.
type KDFLimits struct {
	Concurrent int           // derivations at once; 0 means half the usable cores, at least one
	Queued     int           // callers that may wait; 0 means 256 per concurrent derivation
	MaxWait    time.Duration // how long one may wait; 0 means 2 s
}

func (l KDFLimits) gate() *password.Gate {
	concurrent := cmp.Or(l.Concurrent, max(1, runtime.GOMAXPROCS(0)/2))
	return password.NewGate(concurrent, cmp.Or(l.Queued, 256*concurrent), cmp.Or(l.MaxWait, 2*time.Second))
}

func newAuthenticator(store storage.Store, hasher password.Params, cacheTTL time.Duration, limits KDFLimits) (*authenticator, error) {
	dummy, err := hasher.Hash("not a password anybody has")
	if err != nil {
		return nil, err
	}
	a := &authenticator{store: store, hasher: hasher, kdf: limits.gate(), dummyHash: dummy}
	a.verify = a.gatedVerify
	if cacheTTL > 0 {
		a.verify = password.NewCache(cacheTTL, credentialCacheSize, a.gatedVerify).Verify
	}
	return a, nil
}

// gatedVerify is password.Verify once the gate lets it run.
func (a *authenticator) gatedVerify(ctx context.Context, stored, pw string) (match bool, err error) {
	if gateErr := a.kdf.Do(ctx, func() { match, err = password.Verify(stored, pw) }); gateErr != nil {
		return false, gateErr
	}
	return match, err
}

// hash is hasher.Hash once the gate lets it run.
func (a *authenticator) hash(ctx context.Context, pw string) (hash string, err error) {
	if gateErr := a.kdf.Do(ctx, func() { hash, err = a.hasher.Hash(pw) }); gateErr != nil {
		return "", gateErr
	}
	return hash, err
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
	if !ok {
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	user, err := a.store.UserByName(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		_, err := a.gatedVerify(ctx, a.dummyHash, pw)
		return Principal{}, cmp.Or(kdfError(ctx, err), apiError(codeUnauthenticated, notAuthenticated))
	}
	if err != nil {
		return Principal{}, internalError(ctx, err)
	}
	match, err := a.verify(ctx, user.PasswordHash, pw)
	if kdfErr := kdfError(ctx, err); kdfErr != nil {
		return Principal{}, kdfErr
	}
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
	h, err := a.hash(ctx, pw)
	if err == nil {
		err = a.store.SetPasswordHash(ctx, user.Username, h)
	}
	if err != nil {
		slog.WarnContext(ctx, "could not upgrade password hash", "user", user.Username, "err", err)
	}
}

// kdfError is the API error for a key derivation that never ran: the gate was full
// (the client may retry, see Retry-After) or the caller left. Nil for anything else.
func kdfError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, password.ErrBusy):
		return apiError(codeUnavailable, "Too many passwords are being checked at once; try again shortly.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return internalError(ctx, err)
	}
	return nil
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

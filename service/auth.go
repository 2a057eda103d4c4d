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

	"github.com/mlflow-auth/mlflow-auth/metrics"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/throttle"
	"github.com/mlflow-auth/mlflow-auth/token"
)

// Principal is an authenticated caller.
type Principal struct {
	User storage.User
	// BasicAuth is true when the caller proved their password on this request.
	BasicAuth bool
	// Ceiling is the authenticating token's: "" or READ. A capped caller is
	// never an admin (User.IsAdmin is false), so no admin shortcut skips it.
	Ceiling permission.Level
	// TokenID is the authenticating token's id, 0 for a password.
	TokenID int32
}

// capped is l held to the caller's ceiling: the one place a resolved level meets
// it, for the policy and the proxy alike.
func (p Principal) capped(l permission.Level) permission.Level {
	if p.Ceiling == permission.Read && l.CanRead() {
		return permission.Read
	}
	return l
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
// derivation it and the user service run passes its gate; logins that are not
// known good pass the failed-login throttle first.
type authenticator struct {
	store  storage.Store
	tokens storage.Tokens
	hasher password.Params
	kdf    *password.Gate
	// cache holds credentials that verified recently; nil when caching is off.
	cache *password.Cache
	// metrics counts authentications (see measure); nil counts nothing.
	metrics *metrics.Metrics
	// byUser and byAddress slow down guessing (nil when throttling is off).
	byUser, byAddress *throttle.Limiter
	// dummyHash is verified for unknown users so that their failure takes as long as a wrong password.
	dummyHash string
	// audit records failed logins and refusals; nil records none.
	audit *authAudit
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

// LoginThrottle slows down password guessing. After FreeFailures failed logins of
// one username (4 times as many from one client address) each further failure
// doubles a wait, from 1 s up to 15 min, during which that username (or address)
// is answered 429 REQUEST_LIMIT_EXCEEDED with Retry-After, before any hashing;
// 15 quiet minutes start it over. Credentials that verified recently (the credential
// cache) are never held up, so guessing cannot lock out a user who is logged in.
type LoginThrottle struct {
	FreeFailures int // 0 turns throttling off
}

const (
	throttleFirstWait   = time.Second
	throttleLongestWait = 15 * time.Minute
	throttleWindow      = 15 * time.Minute
	throttleKeys        = 100_000 // per limiter: bounded memory under a flood of names
	addressFactor       = 4       // an address may fail for several users behind it (NAT)
)

func newAuthenticator(store storage.Store, tokens storage.Tokens, hasher password.Params, cacheTTL time.Duration, limits KDFLimits, lt LoginThrottle) (*authenticator, error) {
	dummy, err := hasher.Hash("not a password anybody has")
	if err != nil {
		return nil, err
	}
	a := &authenticator{store: store, tokens: tokens, hasher: hasher, kdf: limits.gate(), dummyHash: dummy}
	if cacheTTL > 0 {
		a.cache = password.NewCache(cacheTTL, credentialCacheSize)
	}
	if lt.FreeFailures > 0 {
		a.byUser = throttle.New(lt.FreeFailures, throttleFirstWait, throttleLongestWait, throttleWindow, throttleKeys)
		a.byAddress = throttle.New(addressFactor*lt.FreeFailures, throttleFirstWait, throttleLongestWait, throttleWindow, throttleKeys)
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

// verify checks a password that is not known good: once for all concurrent callers
// with the same credentials, remembered when it matches (see password.Cache).
func (a *authenticator) verify(ctx context.Context, stored, pw string) (bool, error) {
	if a.cache == nil {
		return a.gatedVerify(ctx, stored, pw)
	}
	return a.cache.Verify(ctx, stored, pw, func() (bool, error) { return a.gatedVerify(ctx, stored, pw) })
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
	var header string // none, or more than one: refused alike
	if values := metadata.ValueFromIncomingContext(ctx, "authorization"); len(values) == 1 {
		header = values[0]
	}
	return a.authenticate(ctx, header)
}

// authenticate checks an "Authorization: Basic ..." or "Bearer <token>" value
// against the store. A Basic password that is a well-formed token is taken as
// that token (of the user named), so MLFLOW_TRACKING_PASSWORD may hold one.
func (a *authenticator) authenticate(ctx context.Context, header string) (p Principal, err error) {
	defer a.countAuthentication(header, &err)
	if tok, ok := parseBearer(header); ok {
		return a.authenticateToken(ctx, "", tok)
	}
	username, pw, ok := parseBasic(header)
	if !ok || checkText("username", username, maxIDChars) != nil { // no such user can exist
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	if _, isToken := token.Parse(pw); isToken {
		return a.authenticateToken(ctx, username, pw)
	}
	user, err := a.store.UserByName(ctx, username)
	known := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Principal{}, internalError(ctx, err)
	}
	// A service account has no password: it is answered as an unknown user.
	passwordless := known && user.IsServiceAccount
	known = known && !passwordless
	if known && a.cache != nil && a.cache.Has(user.PasswordHash, pw) {
		return Principal{User: user, BasicAuth: true}, nil
	}
	// An unknown user is answered exactly as a wrong password: throttled alike,
	// and only after as long a hash.
	address := clientAddress(ctx)
	if wait, reason := a.throttled(username, address); wait > 0 {
		a.refusedLogin(ctx, loginAttempt{username: username, method: methodBasic}, address, reason)
		return Principal{}, tooManyFailures(wait)
	}
	stored := a.dummyHash
	if known {
		stored = user.PasswordHash
	}
	match, err := a.verify(ctx, stored, pw)
	if kdfErr := kdfError(ctx, err); kdfErr != nil {
		return Principal{}, kdfErr
	}
	if err != nil {
		slog.WarnContext(ctx, "stored password hash is unreadable", "user", user.Username)
	}
	if !known || !match {
		a.failed(username, address)
		reason := "wrong password"
		if !known {
			reason = "unknown user"
		}
		if passwordless {
			reason = "password for a service account"
		}
		a.refusedLogin(ctx, loginAttempt{username: username, method: methodBasic, userID: user.ID}, address, reason) // 0 when unknown
		return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
	}
	a.clearThrottle(username)
	if a.hasher.NeedsRehash(user.PasswordHash) {
		a.rehash(ctx, user, pw)
	}
	return Principal{User: user, BasicAuth: true}, nil
}

// lastUseInterval is how often a token's last_used_at is written at most.
const lastUseInterval = time.Minute

// authenticateToken checks an access token; username is "" for Bearer, else the
// Basic username, which must be the token's owner. A malformed token (the
// checksum catches typos) is refused before any query. Refusals are throttled
// and logged as wrong passwords are; the token itself is never logged.
func (a *authenticator) authenticateToken(ctx context.Context, username, tok string) (Principal, error) {
	address := clientAddress(ctx)
	if wait, reason := a.throttled(username, address); wait > 0 {
		a.refusedLogin(ctx, loginAttempt{username: username, method: methodToken}, address, reason)
		return Principal{}, tooManyFailures(wait)
	}
	reason, attempt := "malformed token", loginAttempt{username: username, method: methodToken}
	if hash, ok := token.Parse(tok); ok {
		t, user, err := a.tokens.TokenByHash(ctx, hash[:])
		at := now()
		switch {
		case errors.Is(err, storage.ErrNotFound):
			reason = "unknown token"
		case err != nil:
			return Principal{}, internalError(ctx, err)
		case username != "" && username != user.Username:
			reason, attempt.tokenID = "token of another user", t.ID
		case !at.Before(t.ExpiresAt):
			reason, attempt = "expired token", loginAttempt{user.Username, methodToken, user.ID, t.ID}
		default:
			a.clearThrottle(username)
			if t.LastUsedAt == nil || at.Sub(*t.LastUsedAt) >= lastUseInterval {
				if err := a.tokens.TouchToken(ctx, t.ID, at, at.Add(-lastUseInterval)); err != nil {
					slog.WarnContext(ctx, "could not record a token's use", "user", user.Username, "token", t.Name, "err", err)
				}
			}
			if t.Ceiling != "" {
				user.IsAdmin = false
			}
			return Principal{User: user, Ceiling: t.Ceiling, TokenID: t.ID}, nil
		}
	}
	a.failed(username, address)
	a.refusedLogin(ctx, attempt, address, reason)
	return Principal{}, apiError(codeUnauthenticated, notAuthenticated)
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

// throttled returns how long the username or the address must still wait. A
// Bearer token names no user ("") and is throttled by address alone.
func (a *authenticator) throttled(username, address string) (wait time.Duration, reason string) {
	if a.byUser == nil {
		return 0, ""
	}
	wait, reason = a.byAddress.Wait(address), reasonAddressThrottled
	if username == "" {
		return wait, reason
	}
	if w := a.byUser.Wait(username); w > 0 {
		wait, reason = max(wait, w), reasonThrottled
	}
	return wait, reason
}

func (a *authenticator) failed(username, address string) {
	if a.byUser != nil {
		a.byAddress.Fail(address)
		if username != "" {
			a.byUser.Fail(username)
		}
	}
}

// clearThrottle lets a user log in at once again (an admin set their password,
// or they proved a credential).
func (a *authenticator) clearThrottle(username string) {
	if a.byUser != nil && username != "" {
		a.byUser.Clear(username)
	}
}

// tooManyFailures is the 429 of a throttled login; Retry-After says when to come back.
func tooManyFailures(wait time.Duration) error {
	return withRetryAfter(apiError(codeRequestLimit, "Too many failed logins; try again in %d s.", retrySeconds(wait)), wait)
}

// The reasons of a login refused while it must wait: its username failed too
// often (a refusal of that user, folded as any other), or only its address
// did, as when one address sprays usernames (folded by address, see
// foldKeyOf).
const (
	reasonThrottled        = "throttled"
	reasonAddressThrottled = "address throttled"
)

// loginAttempt is who a refused login claimed to be and how: the username it
// sent (an expired token's owner for a Bearer token) and, where the store named
// them before refusing, that user's id and the token's.
type loginAttempt struct {
	username, method string // method: methodBasic or methodToken
	userID, tokenID  int32
}

// refusedLogin logs a failed login with the attempted username (cut short: it is
// the caller's text) and where it came from; never the password, nor a token
// given as the username (a client's settings mixed up), which is kept as
// tokenAsUsername. It is an auth event of the audit trail too.
func (a *authenticator) refusedLogin(ctx context.Context, attempt loginAttempt, address, reason string) {
	username := attempt.username
	if token.Resembles(username) {
		username = tokenAsUsername
	}
	slog.WarnContext(ctx, "refused login", "username", quoted(username), "client", address, "reason", reason)
	ev := auditEvent(ctx, storage.AuditAuth, "login.failed", storage.OutcomeDenied)
	ev.ActorUsername, ev.AuthMethod, ev.ActorUserID, ev.TokenID = username, attempt.method, attempt.userID, attempt.tokenID
	ev.Reason = reason
	a.audit.record(ev)
}

// tokenAsUsername stands for a token given as a login's username: the
// prefix that says it was one, none of its secret.
const tokenAsUsername = token.Prefix + "…"

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

// parseBearer returns the token of "Bearer <token>".
func parseBearer(header string) (string, bool) {
	scheme, tok, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
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

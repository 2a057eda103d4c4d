package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"google.golang.org/grpc/status"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// guard answers the MLflow proxy's questions with the service's own authenticator,
// resolution rules and error JSON (it implements proxy.Guard).
type guard struct{ *core }

// Authenticate checks an Authorization header value.
func (g guard) Authenticate(ctx context.Context, header string) (storage.User, error) {
	p, err := g.auth.authenticate(ctx, header)
	return p.User, err
}

// Permissions resolves resources against the user's grants with the classic rule:
// the direct grant, else the default; admins manage all. Most proxied requests
// name one or two resources, so each is looked up alone (a user may hold thousands
// of grants, one per experiment they created); a request that asks about many, a
// search being filtered, loads all the user's grants once instead.
func (g guard) Permissions(ctx context.Context, u storage.User) func(permission.Resource) (permission.Level, error) {
	if u.IsAdmin {
		return func(permission.Resource) (permission.Level, error) { return permission.Manage, nil }
	}
	r := &grantResolver{ctx: ctx, store: g.store, userID: u.ID, defaultLevel: g.defaultLevel, known: map[permission.Resource]permission.Level{}}
	return r.level
}

// pointLookups is how many resources are looked up one by one before the resolver
// loads all the user's grants.
const pointLookups = 8

// grantResolver answers for one request (it is not safe for concurrent use).
type grantResolver struct {
	ctx          context.Context
	store        storage.Store
	userID       int32
	defaultLevel permission.Level
	known        map[permission.Resource]permission.Level
	loadedAll    bool
	lookups      int
}

func (r *grantResolver) level(res permission.Resource) (permission.Level, error) {
	if l, ok := r.known[res]; ok {
		return l, nil
	}
	if err := checkResource(res); err != nil {
		return permission.NoPermissions, toProxy(err)
	}
	if r.loadedAll {
		return r.defaultLevel, nil
	}
	if r.lookups++; r.lookups > pointLookups {
		grants, err := r.store.GrantsOfUsers(r.ctx, []int32{r.userID})
		if err != nil {
			return permission.NoPermissions, toProxy(internalError(r.ctx, err))
		}
		for _, g := range grants {
			r.known[g.Resource] = g.Level
		}
		r.loadedAll = true
		return r.level(res)
	}
	l := r.defaultLevel
	switch g, err := r.store.Grant(r.ctx, r.userID, res); {
	case err == nil:
		l = g.Level
	case !errors.Is(err, storage.ErrNotFound):
		return permission.NoPermissions, toProxy(internalError(r.ctx, err))
	}
	r.known[res] = l
	return l, nil
}

// proxyError hands a service error to the proxy with its MLflow status and code,
// so that the proxy answers it as the service would.
type proxyError struct{ st *status.Status }

func toProxy(err error) error {
	st, _ := status.FromError(err)
	return proxyError{st}
}

func (e proxyError) Error() string { return e.st.Message() }

func (e proxyError) MLflowError() (int, string, string) {
	code := mlflowCode(e.st)
	return errorCodes[code].http, code, e.st.Message()
}

// WriteError answers with MLflow's error JSON: for the service's own errors, and
// for errors that carry their own status and code (the proxy's).
func (guard) WriteError(w http.ResponseWriter, err error) {
	var own interface{ MLflowError() (int, string, string) }
	if errors.As(err, &own) {
		httpStatus, code, msg := own.MLflowError()
		writeErrorStatus(w, httpStatus, code, msg)
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		slog.Error("unexpected error in the MLflow proxy", "err", err)
		writeError(w, codeInternal, "An internal error occurred.")
		return
	}
	writeStatus(w, st)
}

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

// Authenticate checks an Authorization header value; the context it returns
// carries the Principal, whose ceiling Permissions applies.
func (g guard) Authenticate(ctx context.Context, header string) (context.Context, storage.User, error) {
	p, err := g.auth.authenticate(ctx, header)
	if err == nil {
		setLogUser(ctx, p.User.Username)
	}
	return context.WithValue(ctx, principalKey{}, p), p.User, err
}

// Permissions answers for one proxied request with the one resolver (see
// resolve.Session), holding the resources it names to the API's bounds.
func (g guard) Permissions(ctx context.Context, u storage.User) func(permission.Resource) (permission.Level, error) {
	session := g.resolver.Session(ctx, u)
	return func(res permission.Resource) (permission.Level, error) {
		if err := checkResource(res); err != nil {
			return permission.NoPermissions, toProxy(err)
		}
		l, err := session.Level(res)
		if err != nil {
			return permission.NoPermissions, toProxy(internalError(ctx, err))
		}
		return principalFrom(ctx).capped(l), nil
	}
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

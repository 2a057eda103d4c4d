package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"google.golang.org/grpc/status"

	"github.com/mlflow-auth/mlflow-auth/decision"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
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
func (g guard) Permissions(ctx context.Context, u storage.User) func(permission.Resource) (resolve.Decision, error) {
	session := g.resolver.Session(ctx, u)
	return func(res permission.Resource) (resolve.Decision, error) {
		none := resolve.Decision{Level: permission.NoPermissions}
		if err := checkResource(res); err != nil {
			return none, toProxy(err)
		}
		d, err := session.Decision(res)
		if err != nil {
			return none, toProxy(internalError(ctx, err))
		}
		d.Level = principalFrom(ctx).capped(d.Level)
		return d, nil
	}
}

// Decided takes the proxy's decisions where the policy's go.
func (g guard) Decided(ctx context.Context, d decision.Decision) {
	d.Principal = principalOf(principalFrom(ctx))
	g.decided(ctx, d)
}

// WithGrantAudit is grantChange for a grant an after-hook of the proxy writes.
func (guard) WithGrantAudit(ctx context.Context, operation, event string, r permission.Resource, before, after *storage.Grant) context.Context {
	value := func(g *storage.Grant) any {
		if g == nil {
			return nil
		}
		return grantValue{Username: g.Username, Permission: string(g.Level)}
	}
	ev := grantEvent(ctx, event, r, value(before), value(after))
	ev.Operation = operation // a proxied route, not an RPC
	return storage.WithAudit(ctx, ev)
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

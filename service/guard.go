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

// Permissions reads the user's grants once and resolves any resource against them
// with the classic rule: the direct grant, else the default; admins manage all.
func (g guard) Permissions(ctx context.Context, u storage.User) (func(permission.Resource) permission.Level, error) {
	if u.IsAdmin {
		return func(permission.Resource) permission.Level { return permission.Manage }, nil
	}
	grants, err := g.store.GrantsOfUsers(ctx, []int32{u.ID})
	if err != nil {
		return nil, internalError(ctx, err)
	}
	direct := make(map[permission.Resource]permission.Level, len(grants))
	for _, gr := range grants {
		direct[gr.Resource] = gr.Level
	}
	return func(r permission.Resource) permission.Level {
		if l, ok := direct[r]; ok {
			return l
		}
		return g.defaultLevel
	}, nil
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
	writeError(w, mlflowCode(st), st.Message())
}

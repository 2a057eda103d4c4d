package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// MLflow error codes, as they appear in "error_code" of an error body.
const (
	codeInvalidParameter = "INVALID_PARAMETER_VALUE"
	codeBadRequest       = "BAD_REQUEST"
	codeAlreadyExists    = "RESOURCE_ALREADY_EXISTS"
	codeNotFound         = "RESOURCE_DOES_NOT_EXIST"
	codeEndpointNotFound = "ENDPOINT_NOT_FOUND"
	codePermissionDenied = "PERMISSION_DENIED"
	codeUnauthenticated  = "UNAUTHENTICATED"
	codeUnavailable      = "TEMPORARILY_UNAVAILABLE"
	codeRequestLimit     = "REQUEST_LIMIT_EXCEEDED"
	codeInternal         = "INTERNAL_ERROR"
)

// errorDomain marks the ErrorInfo detail that carries the MLflow error code.
const errorDomain = "mlflow"

// errorCodes gives each MLflow error code the gRPC code that carries it and the
// HTTP status MLflow answers with (RESOURCE_ALREADY_EXISTS is 400, not 409).
var errorCodes = map[string]struct {
	grpc codes.Code
	http int
}{
	codeInvalidParameter: {codes.InvalidArgument, http.StatusBadRequest},
	codeBadRequest:       {codes.FailedPrecondition, http.StatusBadRequest},
	codeAlreadyExists:    {codes.AlreadyExists, http.StatusBadRequest},
	codeNotFound:         {codes.NotFound, http.StatusNotFound},
	codeEndpointNotFound: {codes.Unimplemented, http.StatusNotFound},
	codePermissionDenied: {codes.PermissionDenied, http.StatusForbidden},
	codeUnauthenticated:  {codes.Unauthenticated, http.StatusUnauthorized},
	codeUnavailable:      {codes.Unavailable, http.StatusServiceUnavailable},
	codeRequestLimit:     {codes.ResourceExhausted, http.StatusTooManyRequests},
	codeInternal:         {codes.Internal, http.StatusInternalServerError},
}

// apiError returns a gRPC status error that carries an MLflow error code.
func apiError(mlflowCode, format string, args ...any) error {
	st := status.New(errorCodes[mlflowCode].grpc, fmt.Sprintf(format, args...))
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: mlflowCode, Domain: errorDomain}); err == nil {
		st = withInfo
	}
	return st.Err()
}

// withRetryAfter adds when to try again to an apiError (gRPC's RetryInfo; over
// REST the Retry-After header, see retryAfter).
func withRetryAfter(err error, wait time.Duration) error {
	st := status.Convert(err)
	if withRetry, detailErr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); detailErr == nil {
		st = withRetry
	}
	return st.Err()
}

// retryAfter is the Retry-After value of an error's RetryInfo, in whole seconds; "" without one.
func retryAfter(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok {
			return strconv.Itoa(retrySeconds(info.GetRetryDelay().AsDuration()))
		}
	}
	return ""
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// mlflowCode reads the MLflow error code of a status, falling back on its gRPC code
// for errors that did not come through apiError (the gateway's own, for example).
func mlflowCode(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			return info.Reason
		}
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.OutOfRange:
		return codeInvalidParameter
	case codes.FailedPrecondition:
		return codeBadRequest
	case codes.AlreadyExists:
		return codeAlreadyExists
	case codes.NotFound:
		return codeNotFound
	case codes.Unimplemented:
		return codeEndpointNotFound
	case codes.PermissionDenied:
		return codePermissionDenied
	case codes.Unauthenticated:
		return codeUnauthenticated
	case codes.ResourceExhausted:
		return codeRequestLimit
	case codes.Unavailable, codes.DeadlineExceeded:
		return codeUnavailable
	}
	return codeInternal
}

// maxQuoted is how many characters of an input an error message repeats.
const maxQuoted = 100

// quoted is the one way an error message repeats an input: the input itself
// when short, else its first maxQuoted characters and "…", so a caller's
// megabyte is not sent back to it (nor written to logs).
func quoted(s string) string {
	n := 0
	for i := range s {
		if n == maxQuoted {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// missingParameter is MLflow's message for an absent required parameter.
func missingParameter(name string) error {
	return apiError(codeInvalidParameter,
		"Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
}

// storageError is the one place storage errors become API errors. notFound is the
// message for ErrNotFound and exists the message for ErrAlreadyExists. Anything
// unexpected is logged and answered without its text.
func storageError(ctx context.Context, err error, notFound, exists string) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return apiError(codeNotFound, "%s", notFound)
	case errors.Is(err, storage.ErrAlreadyExists):
		return apiError(codeAlreadyExists, "%s", exists)
	case errors.Is(err, storage.ErrLastAdmin):
		return apiError(codeBadRequest, "This is the last admin; make another user admin first.")
	}
	return internalError(ctx, err)
}

// internalError hides err's text from the caller: database unavailability becomes
// TEMPORARILY_UNAVAILABLE, a cancelled request its own code, anything else INTERNAL_ERROR.
func internalError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		slog.WarnContext(ctx, "database unavailable", "err", err)
		return apiError(codeUnavailable, "The database is unavailable; try again later.")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return apiError(codeUnavailable, "The request timed out; try again later.")
	}
	slog.ErrorContext(ctx, "internal error", "err", err)
	return apiError(codeInternal, "An internal error occurred.")
}

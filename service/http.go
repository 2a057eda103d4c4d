package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/mlflow-auth/mlflow-auth/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxBodyBytes bounds a request body; the auth API's bodies are tiny.
const maxBodyBytes = 1 << 20

// newHTTPHandler serves MLflow's REST auth API through grpc-gateway, /health
// (liveness), /ready (readiness), and
// everything else through mlflow (the proxy to an MLflow server), or MLflow's 404
// error JSON when there is none.
func newHTTPHandler(services []apiService, conn grpc.ClientConnInterface, mlflow, ready http.Handler) (http.Handler, error) {
	gw, err := newRoutedGateway(services, conn,
		runtime.SetQueryParameterParser(queryParser{}),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newMLflowJSON()),
		runtime.WithErrorHandler(gatewayError),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithIncomingHeaderMatcher(gatewayHeader),
		runtime.WithForwardResponseOption(gatewayStatus),
		runtime.WithOutgoingHeaderMatcher(restHeader),
	)
	if err != nil {
		return nil, err
	}
	api := noStore(readBody(gw))
	if mlflow == nil {
		mlflow = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, codeEndpointNotFound, "No API endpoint "+quoted(r.Method)+" "+quoted(r.URL.Path))
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(r.Context(), "/health")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
	})
	mux.Handle("/ready", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(r.Context(), "/ready")
		ready.ServeHTTP(w, r)
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if isAuthAPI(r.URL.Path) {
			api.ServeHTTP(w, r)
		} else {
			mlflow.ServeHTTP(w, r)
		}
	})
	return logHTTP(recoverHTTP(securityHeaders(mux))), nil
}

// authAPIPaths are the beginnings of the auth API's paths after
// /{api,ajax-api}/<version>/mlflow; MLflow's tracking API has none of them.
var authAPIPaths = []string{"/users", "/service-accounts/", "/roles/", "/experiments/permissions/", "/registered-models/permissions/", "/scorers/permissions/", "/permissions/",
	"/gateway/secrets/permissions/", "/gateway/endpoints/permissions/", "/gateway/model-definitions/permissions/", "/workspace-permissions", "/audit-events/"}

// isAuthAPI reports whether a path belongs to mlflow-auth's own API (http.yaml).
func isAuthAPI(path string) bool {
	for _, prefix := range []string{"/api/", "/ajax-api/"} {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok {
			continue
		}
		_, rest, _ = strings.Cut(rest, "/") // the version
		rest, ok = strings.CutPrefix(rest, "mlflow")
		if !ok {
			return false
		}
		for _, p := range authAPIPaths {
			if strings.HasPrefix(rest, p) {
				return true
			}
		}
		// A workspace's permissions; the rest of /workspaces/ is MLflow's own.
		if name, ok := strings.CutPrefix(rest, "/workspaces/"); ok {
			name, ok = strings.CutSuffix(name, "/permissions")
			return ok && name != "" && !strings.Contains(name, "/")
		}
	}
	return false
}

// readBody reads the whole body up front: bodies over maxBodyBytes get 413, and a
// DELETE without a JSON body takes its parameters from the query string, as in MLflow.
func readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != http.NoBody { // most GETs have none: no buffers to make
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeErrorStatus(w, http.StatusRequestEntityTooLarge, codeBadRequest, "The request body is larger than 1 MiB.")
				return
			case err != nil:
				writeError(w, codeBadRequest, "The request body could not be read.")
				return
			}
		}
		switch {
		case r.Method == http.MethodDelete && len(bytes.TrimSpace(body)) == 0 && r.URL.RawQuery != "":
			body = queryBody(r.URL.Query())
		case r.Body == http.NoBody:
			next.ServeHTTP(w, r) // nothing read, nothing to put back
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// queryBody is the JSON object of query parameters (the first value of each).
// It copies their bytes as they are, where json.Marshal would turn invalid UTF-8
// into U+FFFD, so that decodeBody refuses them as it refuses such a body.
func queryBody(q url.Values) []byte {
	b := []byte{'{'}
	for k, vs := range q {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, k), ':')
		b = appendJSONString(b, vs[0])
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// gatewayError is the one HTTP error writer for RPC errors: MLflow's JSON body and
// status for the error code, and a Basic challenge on 401.
func gatewayError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
	st := status.Convert(err)
	if st.Code() == codes.Canceled {
		w.WriteHeader(499) // the client went away; nobody reads this answer
		return
	}
	if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
		for key, values := range md.HeaderMD {
			if name, ok := restHeader(key); ok && len(values) > 0 {
				w.Header().Set(name, values[0])
			}
		}
	}
	if mlflowCode(st) == codeInternal && st.Code() != codes.Internal {
		// Not one of ours: keep its text out of the response.
		slog.ErrorContext(ctx, "unexpected gateway error", "err", err)
		st = status.New(codes.Internal, "An internal error occurred.")
	}
	writeStatus(w, st)
}

// restHeaders are the response headers an RPC may set for REST callers
// (grpc.SetHeader, lower-case keys); every other header metadata stays gRPC's.
var restHeaders = map[string]string{"retry-after": "Retry-After"}

func restHeader(key string) (string, bool) {
	name, ok := restHeaders[key]
	return name, ok
}

// writeStatus answers with an RPC error: MLflow's status and JSON for its code, and
// Retry-After when it says when to come back.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	if ra := retryAfter(st); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	writeError(w, mlflowCode(st), st.Message())
}

func routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		writeErrorStatus(w, httpStatus, codeBadRequest, "Method "+quoted(r.Method)+" is not allowed on "+quoted(r.URL.Path))
		return
	}
	writeError(w, codeEndpointNotFound, "No API endpoint "+quoted(r.Method)+" "+quoted(r.URL.Path))
}

func writeError(w http.ResponseWriter, code, msg string) {
	writeErrorStatus(w, errorCodes[code].http, code, msg)
}

func writeErrorStatus(w http.ResponseWriter, httpStatus int, code, msg string) {
	switch httpStatus {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="mlflow"`)
	case http.StatusServiceUnavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1") // overload and outages are short; clients back off from there
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	json.NewEncoder(w).Encode(struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}{code, msg})
}

// securityHeaders adds the headers MLflow's server sends on every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		next.ServeHTTP(w, r)
	})
}

// noStore keeps the auth API's answers (users, grants) out of caches.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// recoverHTTP turns a panic into a logged 500 with no detail for the caller.
func recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.ErrorContext(r.Context(), "panic serving HTTP", "panic", p, "path", r.URL.Path)
				writeError(w, codeInternal, "An internal error occurred.")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// validRequestID accepts a caller's X-Request-Id only when it is short and printable.
func validRequestID(id string) bool {
	return id != "" && len(id) <= 64 && strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
}

package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/mlflow-auth/mlflow-auth/decision"
)

// requestLog collects what one request's log line reports. The policy check fills
// in the user once it is known.
type requestLog struct {
	id     string
	client string // the peer's IP address, never a header the caller sets
	user   string
	rpc    string // the RPC a REST request became, if any
	agent  string // the caller's User-Agent, for the audit trail (not logged)
	// decision is the request's authorization decision, once made (see core.decided).
	decision *decision.Decision
}

// appendDecisionAttrs appends the log line's fields of the request's decision;
// none for a request that was not decided (public, unauthenticated, bad input).
func (l *requestLog) appendDecisionAttrs(attrs []slog.Attr) []slog.Attr {
	d := l.decision
	if d == nil {
		return attrs
	}
	attrs = append(attrs, slog.Bool("allowed", d.Allowed), slog.String("reason", d.Reason))
	if r := d.Resource(); r.Type != "" {
		attrs = append(attrs, slog.String("resource", r.Type+"/"+r.ID))
		if r.Workspace != "" {
			attrs = append(attrs, slog.String("workspace", r.Workspace))
		}
	}
	if required, held := d.Levels(); required != "" {
		attrs = append(attrs, slog.String("required", required), slog.String("held", held))
	}
	return attrs
}

// logRequest writes a request's one line, attrs then l's decision, as
// slog.LogAttrs would but without the caller's program counter, which no
// handler here prints (runtime.Callers was a seventh of the line's CPU under
// users/get), and without joining the attributes into a new slice first.
func logRequest(ctx context.Context, msg string, l *requestLog, attrs ...slog.Attr) {
	h := slog.Default().Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	var decision [6]slog.Attr // on the stack: Record copies them
	r.AddAttrs(l.appendDecisionAttrs(decision[:0])...)
	h.Handle(ctx, r)
}

type requestLogKey struct{}

func withRequestLog(ctx context.Context, id, remoteAddr, agent string) (context.Context, *requestLog) {
	if !validRequestID(id) {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	client, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		client = remoteAddr
	}
	l := &requestLog{id: id, client: client, agent: agent}
	return context.WithValue(ctx, requestLogKey{}, l), l
}

// clientAddress is the IP address the request came from.
func clientAddress(ctx context.Context) string {
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		return l.client
	}
	return ""
}

// setLogUser records the authenticated user for the request's log line.
func setLogUser(ctx context.Context, username string) {
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		l.user = username
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// logHTTP gives every request an id (X-Request-Id) and logs one line when it ends.
// Query strings and bodies are never logged.
func logHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, l := withRequestLog(r.Context(), r.Header.Get("X-Request-Id"), r.RemoteAddr, r.UserAgent())
		w.Header().Set("X-Request-Id", l.id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		logRequest(ctx, "http request", l, slog.String("request_id", l.id), traceID(ctx), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.String("rpc", l.rpc), slog.String("user", l.user),
			slog.String("client", l.client), slog.Duration("duration", time.Since(start)))
	})
}

// logUnary is logHTTP for native gRPC calls. A REST request reaches it with
// logHTTP's requestLog, whose one line then names the RPC.
func logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	err = logCall(ctx, info.FullMethod, func(ctx context.Context) error {
		resp, err = handler(ctx, req)
		return err
	})
	return resp, err
}

// logStream is logUnary for streaming calls (gRPC health's Watch, reflection):
// one line when the stream ends.
func logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return logCall(ss.Context(), info.FullMethod, func(ctx context.Context) error { return handler(srv, withStreamContext(ss, ctx)) })
}

// logCall is logUnary's and logStream's work: call runs the RPC with the
// context it is given.
func logCall(ctx context.Context, method string, call func(context.Context) error) error {
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		l.rpc = method
		return call(ctx)
	}
	start := time.Now()
	var remote string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		remote = p.Addr.String()
	}
	ctx, l := withRequestLog(ctx, firstIncoming(ctx, "x-request-id"), remote, firstIncoming(ctx, "user-agent"))
	l.rpc = method
	grpc.SetHeader(ctx, metadata.Pairs("x-request-id", l.id))
	err := call(ctx)
	logRequest(ctx, "grpc request", l, slog.String("request_id", l.id), traceID(ctx), slog.String("method", method),
		slog.String("code", status.Code(err).String()), slog.String("user", l.user), slog.String("client", l.client),
		slog.Duration("duration", time.Since(start)))
	return err
}

// recoverUnary turns a panic into a logged Internal error with no detail for the caller.
func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer recovered(ctx, info.FullMethod, &err)
	return handler(ctx, req)
}

// recoverStream is recoverUnary for streaming calls.
func recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer recovered(ss.Context(), info.FullMethod, &err)
	return handler(srv, ss)
}

// recovered, deferred, turns a panic into *err.
func recovered(ctx context.Context, method string, err *error) {
	if p := recover(); p != nil {
		slog.ErrorContext(ctx, "panic serving gRPC", "panic", p, "method", method)
		*err = apiError(codeInternal, "An internal error occurred.")
	}
}

// withStreamContext is ss serving ctx, which an interceptor derived from ss's.
func withStreamContext(ss grpc.ServerStream, ctx context.Context) grpc.ServerStream {
	return contextStream{ss, ctx}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }

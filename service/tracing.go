package service

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/mlflow-auth/mlflow-auth/tracing"
)

// traceHTTP makes a server span of every HTTP request, continuing the caller's
// trace (traceparent), named by method until a route names it better. With
// tracing off it only reads the caller's trace context, which the log line,
// the audit rows and MLflow behind the front door carry on: otelhttp's span,
// response wrapper and measurements would record nothing, and cost 7–8% of a
// request's CPU (issue 10's profile).
func traceHTTP(next http.Handler) http.Handler {
	traced := otelhttp.NewHandler(next, "http", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return "HTTP " + r.Method
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tracing.Off() {
			traced.ServeHTTP(w, r)
			return
		}
		if ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header)); ctx != r.Context() {
			r = r.WithContext(ctx) // the caller sent a trace; a request without one is not copied
		}
		next.ServeHTTP(w, r)
	})
}

// traceUnary makes a span of every RPC: a child of the HTTP request's span for
// REST, else a server span continuing the trace the gRPC caller's metadata carries.
func traceUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	err = traceCall(ctx, info.FullMethod, func(ctx context.Context) error {
		resp, err = handler(ctx, req)
		return err
	})
	return resp, err
}

// traceStream is traceUnary for streaming calls: one span for the whole stream.
func traceStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return traceCall(ss.Context(), info.FullMethod, func(ctx context.Context) error { return handler(srv, withStreamContext(ss, ctx)) })
}

// traceCall is traceUnary's and traceStream's work.
func traceCall(ctx context.Context, method string, call func(context.Context) error) error {
	kind := trace.SpanKindInternal
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = otel.GetTextMapPropagator().Extract(ctx, incomingCarrier{ctx})
		kind = trace.SpanKindServer
	}
	if tracing.Off() {
		return call(ctx) // the caller's trace id is in ctx for the log line; a span would record nothing
	}
	ctx, span := tracing.Tracer().Start(ctx, method, trace.WithSpanKind(kind))
	defer span.End()
	err := call(ctx)
	if err != nil {
		span.SetStatus(codes.Error, status.Code(err).String())
	}
	return err
}

// incomingCarrier reads W3C trace context from the incoming gRPC metadata, one
// key at a time: copying the whole metadata on every call cost more than the
// lookups (issue 10's profile).
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string { return firstIncoming(c.ctx, key) }

// firstIncoming is the first value of key in ctx's incoming gRPC metadata, ""
// for none, read without copying the metadata.
func firstIncoming(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set is never called: the carrier is only extracted from.
func (c incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// traceID is the log attribute of the request's trace, empty when untraced.
func traceID(ctx context.Context) slog.Attr {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return slog.String("trace_id", sc.TraceID().String())
	}
	return slog.Attr{} // left out of the line
}

// Package tracing sets up OpenTelemetry traces from the standard OTEL_*
// environment variables, and holds the spans mlflow-auth makes itself: one per
// RPC (for both transports) and one per database query.
package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// name is the instrumentation scope of mlflow-auth's own spans.
const name = "github.com/mlflow-auth/mlflow-auth"

// Tracer makes mlflow-auth's spans with the global provider (a no-op until Setup
// configures one), so untraced servers pay next to nothing.
func Tracer() trace.Tracer { return otel.Tracer(name) }

// untouched is the global provider before anyone sets one: it makes spans that
// record nothing.
var untouched = otel.GetTracerProvider()

// Off reports whether no tracer provider is installed (Setup found no exporter
// and no test put one in), so that a span would record nothing.
func Off() bool { return otel.GetTracerProvider() == untouched }

// Enabled reports whether the environment asks for traces: an OTLP endpoint is
// set, and neither OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER=none turns them off.
func Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs an OTLP exporter configured by the OTEL_* variables (endpoint,
// headers, protocol: http/protobuf by default, or grpc) and W3C trace context
// propagation, when Enabled; shutdown flushes what is buffered. When not
// enabled it installs only the propagator, so a caller's traceparent still
// reaches MLflow.
func Setup(ctx context.Context, serviceVersion string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	var exporter sdktrace.SpanExporter
	switch protocol := protocol(); protocol {
	case "grpc":
		exporter, err = otlptracegrpc.New(ctx)
	case "http/protobuf":
		exporter, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("OTLP protocol %q: mlflow-auth exports traces over grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("mlflow-auth"), semconv.ServiceVersion(serviceVersion)))
	if err != nil {
		return nil, err
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults above.
	if env, envErr := resource.New(ctx, resource.WithFromEnv()); envErr == nil {
		if merged, mergeErr := resource.Merge(res, env); mergeErr == nil {
			res = merged
		}
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	return provider.Shutdown, nil
}

func protocol() string {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(v); p != "" {
			return p
		}
	}
	return "http/protobuf"
}

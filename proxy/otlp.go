package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// MLflow's OTLP endpoint (POST /v1/traces) stores spans in the experiment of the
// X-Mlflow-Experiment-Id header, creating their traces there, and links the traces
// to the run of X-Mlflow-Run-Id.

const (
	otlpPath           = "/v1/traces"
	experimentIDHeader = "X-Mlflow-Experiment-Id"
	runIDHeader        = "X-Mlflow-Run-Id"
)

// otlpTarget: the header's experiment (400 without it, as in MLflow), and the
// experiment of the header's run: MLflow links the traces to it, a write that
// LinkTracesToRun allows only with EDIT on the run.
func otlpTarget(ctx context.Context, c *call) ([]permission.Resource, error) {
	exp, err := singleHeader(c.req.Header, experimentIDHeader)
	if err != nil {
		return nil, err
	}
	if exp == "" {
		return nil, &apiError{http.StatusBadRequest, "BAD_REQUEST", "Missing required header: " + experimentIDHeader}
	}
	rs, err := experimentResources([]string{exp})
	if err != nil {
		return nil, err
	}
	run, err := singleHeader(c.req.Header, runIDHeader)
	if err != nil || run == "" {
		return rs, err
	}
	more, err := c.runExperiments(ctx, []string{run})
	return append(rs, more...), err
}

// singleHeader refuses a header sent twice: the proxy would check one value and
// MLflow could act on the other.
func singleHeader(h http.Header, name string) (string, error) {
	if len(h.Values(name)) > 1 {
		return "", badRequest("The header %s must be sent once.", name)
	}
	return h.Get(name), nil
}

// otlpSpansStayPut reads the spans of an OTLP request: none may set an immutable
// trace tag (an mlflow.traceTag.* attribute becomes a trace tag), and none may belong
// to an existing trace of another experiment, to which MLflow would add them
// whatever the header says. Only protobuf bodies are read, as MLflow's own client
// sends them.
func otlpSpansStayPut(ctx context.Context, c *call) error {
	raw, err := c.readBody()
	if err != nil {
		return err
	}
	if mediaType, _, _ := strings.Cut(c.req.Header.Get("Content-Type"), ";"); strings.TrimSpace(mediaType) != "application/x-protobuf" {
		return &apiError{http.StatusUnsupportedMediaType, "BAD_REQUEST", "Send OTLP spans as application/x-protobuf."}
	}
	body, err := decompressOTLP(raw, strings.ToLower(c.req.Header.Get("Content-Encoding")))
	if err != nil {
		return err
	}
	spans, err := parseOTLP(body)
	if err != nil {
		return err
	}
	want := c.req.Header.Get(experimentIDHeader)
	seen := map[string]bool{}
	for _, s := range spans {
		for _, key := range s.attributeKeys {
			if tag, ok := strings.CutPrefix(key, "mlflow.traceTag."); ok {
				if err := checkTraceTag(tag); err != nil {
					return err
				}
			}
		}
		if seen[s.traceID] {
			continue
		}
		seen[s.traceID] = true
		exp, err := c.proxy.lookups.existingTraceExperiment(ctx, s.traceID)
		if err != nil {
			return err
		}
		if exp != "" && exp != want {
			return errDenied
		}
	}
	return nil
}

var errBadOTLP = &apiError{http.StatusBadRequest, "BAD_REQUEST", "Invalid OpenTelemetry format"}

// decompressOTLP undoes a Content-Encoding as MLflow does (decompress_otlp_body):
// gzip, or deflate with or without its zlib wrapper.
func decompressOTLP(raw []byte, encoding string) ([]byte, error) {
	var r io.Reader
	switch encoding {
	case "":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, badRequest("Failed to decompress gzip payload")
		}
		r = zr
	case "deflate":
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			if out, err := readAllBounded(zr); err == nil || errors.Is(err, errSpansTooLarge) {
				return out, err
			}
		}
		r = flate.NewReader(bytes.NewReader(raw))
	default:
		return nil, badRequest("Unsupported Content-Encoding: %s", encoding)
	}
	out, err := readAllBounded(r)
	if err != nil && !errors.Is(err, errSpansTooLarge) {
		return nil, badRequest("Failed to decompress %s payload", encoding)
	}
	return out, err
}

var errSpansTooLarge = tooLarge(maxSpanBody)

func readAllBounded(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxSpanBody+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxSpanBody {
		return nil, errSpansTooLarge
	}
	return out, nil
}

// otlpSpan is what the proxy reads of one span.
type otlpSpan struct {
	traceID       string // MLflow's id of its trace: "tr-" and the OTel trace id in hex
	attributeKeys []string
}

// parseOTLP reads the spans of an ExportTraceServiceRequest: resource_spans (1) →
// scope_spans (2) → spans (2) → trace_id (1) and attributes (9) → key (1). Fields
// of other numbers or wire types are skipped, as protobuf parsers skip them.
func parseOTLP(b []byte) ([]otlpSpan, error) {
	var spans []otlpSpan
	err := embedded(b, field(1, func(resourceSpans []byte) error {
		return embedded(resourceSpans, field(2, func(scopeSpans []byte) error {
			return embedded(scopeSpans, field(2, func(span []byte) error {
				s, err := parseSpan(span)
				spans = append(spans, s)
				return err
			}))
		}))
	}))
	return spans, err
}

func parseSpan(b []byte) (otlpSpan, error) {
	var s otlpSpan
	var traceID []byte
	err := embedded(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			traceID = v // a singular field sent twice: the last one counts
		case 9:
			var key []byte
			err := embedded(v, field(1, func(k []byte) error {
				key = k
				return nil
			}))
			s.attributeKeys = append(s.attributeKeys, string(key))
			return err
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	if len(traceID) == 0 {
		return s, errBadOTLP // MLflow refuses a span without a trace id
	}
	// MLflow reads the id as a big-endian integer and writes it as 32 hex digits at least.
	h := strings.TrimLeft(hex.EncodeToString(traceID), "0")
	if len(h) < 32 {
		h = strings.Repeat("0", 32-len(h)) + h
	}
	s.traceID = "tr-" + h
	return s, nil
}

// embedded calls f with the number and value of every length-delimited field
// (embedded message, string or bytes) of the protobuf message b, in order.
func embedded(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadOTLP
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errBadOTLP
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errBadOTLP
		}
		b = b[n:]
		if err := f(num, v); err != nil {
			return err
		}
	}
	return nil
}

// field makes f a callback of embedded for the fields numbered num only.
func field(num protowire.Number, f func([]byte) error) func(protowire.Number, []byte) error {
	return func(n protowire.Number, v []byte) error {
		if n != num {
			return nil
		}
		return f(v)
	}
}

package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// jsonLogs sends the default logger's lines, as JSON, to a buffer it returns,
// until the test and its cleanups have ended.
func jsonLogs(t *testing.T) *lockedBuffer {
	logs := &lockedBuffer{}
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, nil)))
	return logs
}

// rawCodec sends and receives messages as the bytes they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// Bytes that are no protobuf message, sent on a real gRPC connection, are
// refused as INVALID_PARAMETER_VALUE and logged, and the connection serves the
// next call as usual.
func TestGRPCUndecodableRequest(t *testing.T) {
	logs := &lockedBuffer{}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))

	s := startServer(t, "READ")
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", basicAuth(adminUser, adminPass))
	var reply []byte
	err := s.conn.Invoke(ctx, v1.UserService_GetUser_FullMethodName, []byte{0x0a, 0xff, 0xff}, &reply, grpc.ForceCodec(rawCodec{}))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	var reason string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.Reason
		}
	}
	if reason != "INVALID_PARAMETER_VALUE" {
		t.Errorf("error code %q, want INVALID_PARAMETER_VALUE", reason)
	}
	if out := logs.String(); !strings.Contains(out, "undecodable gRPC request") || !strings.Contains(out, "GetUser") {
		t.Errorf("the refusal was not logged:\n%s", out)
	}

	var user v1.GetUserResponse
	if err := s.conn.Invoke(ctx, v1.UserService_GetUser_FullMethodName, &v1.GetUserRequest{Username: adminUser}, &user); err != nil || user.User.GetUsername() != adminUser {
		t.Errorf("next call: %v, %v", err, user.User)
	}
}

package service

import (
	"context"
	"log/slog"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// requestCodec is grpc-go's proto codec, except for requests of our services
// that it cannot decode: grpc-go would answer those Internal, before any
// interceptor runs, and log nothing. Instead the codec reports success with an
// empty message and leaves the error in undecodable, where refuseUndecodable,
// which every unary call of the gRPC server passes, takes it out again.
type requestCodec struct{ encoding.CodecV2 }

// undecodable maps a request message to the error that decoding it gave.
var undecodable sync.Map

func newRequestCodec() requestCodec { return requestCodec{encoding.GetCodecV2("proto")} }

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	msg, ok := v.(proto.Message)
	if err == nil || !ok || msg.ProtoReflect().Descriptor().ParentFile().Package() != v1.File_mlflowauth_v1_user_service_proto.Package() {
		return err // other services' (health, reflection) failures stay grpc-go's
	}
	proto.Reset(msg)
	undecodable.Store(msg, err)
	return nil
}

// refuseUndecodable answers a request that requestCodec could not decode.
func refuseUndecodable(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err, ok := undecodable.LoadAndDelete(req); ok {
		slog.WarnContext(ctx, "undecodable gRPC request", "method", info.FullMethod, "err", err)
		return nil, apiError(codeInvalidParameter, "The request is not a valid protobuf message: %v", err)
	}
	return handler(ctx, req)
}

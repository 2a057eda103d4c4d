package service

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inProcess is a grpc.ClientConnInterface that calls the service implementations
// directly, through the same interceptor as the gRPC server. The REST gateway
// calls through it, so both transports pass one policy check without a network hop.
type inProcess struct {
	methods   map[string]inProcessMethod
	intercept grpc.UnaryServerInterceptor
}

type inProcessMethod struct {
	impl    any
	handler grpc.MethodHandler
}

func newInProcess(intercept grpc.UnaryServerInterceptor) *inProcess {
	return &inProcess{methods: map[string]inProcessMethod{}, intercept: intercept}
}

// register adds the unary methods of a service, as grpc.Server.RegisterService does.
func (c *inProcess) register(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = inProcessMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke runs a unary method. Outgoing metadata (the gateway's copy of the HTTP
// headers) becomes the handler's incoming metadata, and the header metadata the
// handler sets reaches the caller's grpc.Header option.
func (c *inProcess) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewIncomingContext(ctx, md)
	decode := func(in any) error {
		proto.Merge(in.(proto.Message), args.(proto.Message))
		return nil
	}
	stream := &headerStream{method: method}
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	resp, err := m.handler(m.impl, ctx, decode, c.intercept)
	for _, opt := range opts {
		if h, ok := opt.(grpc.HeaderCallOption); ok {
			*h.HeaderAddr = stream.header
		}
	}
	if err != nil {
		return err
	}
	proto.Merge(reply.(proto.Message), resp.(proto.Message))
	return nil
}

// NewStream is not needed: every RPC is unary.
func (c *inProcess) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "streaming RPCs are not served in process")
}

// headerStream keeps the header metadata a handler sets with grpc.SetHeader.
type headerStream struct {
	method string
	header metadata.MD
}

func (s *headerStream) Method() string { return s.method }

func (s *headerStream) SetHeader(md metadata.MD) error {
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *headerStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *headerStream) SetTrailer(metadata.MD) error { return nil }

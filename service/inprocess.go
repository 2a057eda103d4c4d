package service

import (
	"context"
	"reflect"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inProcess is a grpc.ClientConnInterface that calls the service implementations
// directly, through the same interceptor chain as the gRPC server. The REST
// gateway calls through it, so both transports pass every interceptor without a
// network hop.
type inProcess struct {
	methods   map[string]inProcessMethod
	intercept grpc.UnaryServerInterceptor
}

type inProcessMethod struct {
	impl    any
	handler grpc.MethodHandler
}

func newInProcess(chain []grpc.UnaryServerInterceptor) *inProcess {
	return &inProcess{methods: map[string]inProcessMethod{}, intercept: chainUnary(chain)}
}

// chainUnary runs interceptors in order around the handler, as
// grpc.ChainUnaryInterceptor does for the gRPC server.
func chainUnary(chain []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		next := handler
		for i := len(chain) - 1; i >= 0; i-- {
			intercept, inner := chain[i], next
			next = func(ctx context.Context, req any) (any, error) { return intercept(ctx, req, info, inner) }
		}
		return next(ctx, req)
	}
}

// register adds the unary methods of a service, as grpc.Server.RegisterService does.
func (c *inProcess) register(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = inProcessMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke runs a unary method. Outgoing metadata (the gateway's copy of the HTTP
// headers) becomes the handler's incoming metadata, and the headers and trailers
// the handler sets (grpc.SetHeader) go back to the gateway, which writes those
// restHeaders allows into the HTTP response.
func (c *inProcess) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewIncomingContext(ctx, md)
	stream := &inProcessStream{method: method}
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	decode := func(in any) error {
		proto.Merge(in.(proto.Message), args.(proto.Message))
		return nil
	}
	resp, err := m.handler(m.impl, ctx, decode, c.intercept)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = stream.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = stream.trailer
		}
	}
	if err != nil {
		return err
	}
	// The handler built its answer for this call and keeps no part of it, so the
	// gateway's reply takes it over (its fields, not a deep copy of them).
	reflect.ValueOf(reply).Elem().Set(reflect.ValueOf(resp).Elem())
	return nil
}

// NewStream is not needed: every RPC is unary.
func (c *inProcess) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "streaming RPCs are not served in process")
}

// inProcessStream collects what a handler sets with grpc.SetHeader and
// grpc.SetTrailer during one in-process call.
type inProcessStream struct {
	method          string
	header, trailer metadata.MD
}

func (s *inProcessStream) Method() string { return s.method }

func (s *inProcessStream) SetHeader(md metadata.MD) error {
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *inProcessStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *inProcessStream) SetTrailer(md metadata.MD) error {
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

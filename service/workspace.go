package service

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// withWorkspace carries the request's workspace in ctx: the first
// x-mlflow-workspace metadata value (REST's X-MLFLOW-WORKSPACE header, see
// gatewayHeader), "default" when there is none, refused as MLflow refuses a name.
func withWorkspace(ctx context.Context) (context.Context, error) {
	name, err := workspace.Parse(firstIncoming(ctx, workspace.MetadataKey))
	if err != nil {
		return nil, apiError(codeInvalidParameter, "%s", err.Error())
	}
	return workspace.With(ctx, name), nil
}

// gatewayHeader forwards to the RPC, as gRPC metadata, only the one header it
// reads, the workspace (the gateway forwards Authorization itself; the User-Agent
// and the client address reach the audit trail through logHTTP's requestLog).
// grpc-gateway's default copied two dozen more, Authorization a second time
// among them, on every request for nobody.
func gatewayHeader(key string) (string, bool) {
	if strings.EqualFold(key, workspace.Header) {
		return workspace.MetadataKey, true
	}
	return "", false
}

// httpStatusKey is response metadata by which a handler asks REST for a status
// other than 200 (MLflow answers a few calls with 204).
const httpStatusKey = "x-http-status"

// gatewayStatus applies httpStatusKey; it is no header of the answer (only
// restHeaders are).
func gatewayStatus(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	md, ok := runtime.ServerMetadataFromContext(ctx)
	if !ok {
		return nil
	}
	values := md.HeaderMD.Get(httpStatusKey)
	if len(values) == 0 {
		return nil
	}
	if code, err := strconv.Atoi(values[0]); err == nil {
		w.WriteHeader(code)
	}
	return nil
}

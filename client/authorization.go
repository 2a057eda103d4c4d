package client

import (
	"context"
	"net/http"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// Check asks whether a user may do something to a resource (mlflow-auth only).
func (c *Client) Check(ctx context.Context, req *v1.CheckRequest) (*v1.CheckResponse, error) {
	return invoke[v1.CheckResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/permissions/check", req)
}

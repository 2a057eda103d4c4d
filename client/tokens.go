package client

import (
	"context"
	"net/http"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// CreateToken makes an access token for a user (yourself, or anyone as an
// admin); the response holds it, the only time it is shown (mlflow-auth only).
func (c *Client) CreateToken(ctx context.Context, req *v1.CreateTokenRequest) (*v1.CreateTokenResponse, error) {
	return invoke[v1.CreateTokenResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/users/tokens/create", req)
}

// ListTokens lists a user's tokens, without their secrets.
func (c *Client) ListTokens(ctx context.Context, req *v1.ListTokensRequest) (*v1.ListTokensResponse, error) {
	return invoke[v1.ListTokensResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/users/tokens/list", req)
}

// RotateToken gives a token a new secret, returned once; the old one stops working.
func (c *Client) RotateToken(ctx context.Context, req *v1.RotateTokenRequest) (*v1.RotateTokenResponse, error) {
	return invoke[v1.RotateTokenResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/users/tokens/rotate", req)
}

// RevokeToken deletes a token; it stops working at once.
func (c *Client) RevokeToken(ctx context.Context, req *v1.RevokeTokenRequest) (*v1.RevokeTokenResponse, error) {
	return invoke[v1.RevokeTokenResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/users/tokens/revoke", req)
}

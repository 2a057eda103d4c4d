package client

import (
	"context"
	"net/http"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// CreateServiceAccount makes a user without a password, who signs in only with
// the tokens an admin makes for it (CreateToken). Admins only (mlflow-auth only).
func (c *Client) CreateServiceAccount(ctx context.Context, req *v1.CreateServiceAccountRequest) (*v1.CreateServiceAccountResponse, error) {
	return invoke[v1.CreateServiceAccountResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/service-accounts/create", req)
}

// ListServiceAccounts returns one page of service accounts. Admins only.
func (c *Client) ListServiceAccounts(ctx context.Context, req *v1.ListServiceAccountsRequest) (*v1.ListServiceAccountsResponse, error) {
	return invoke[v1.ListServiceAccountsResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/service-accounts/list", req)
}

// DeleteServiceAccount removes a service account with its grants and tokens;
// a user who is not one is not found. Admins only.
func (c *Client) DeleteServiceAccount(ctx context.Context, req *v1.DeleteServiceAccountRequest) (*v1.DeleteServiceAccountResponse, error) {
	return invoke[v1.DeleteServiceAccountResponse](ctx, c, http.MethodDelete, "/api/2.0/mlflow/service-accounts/delete", req)
}

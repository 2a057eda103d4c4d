package client

import (
	"context"
	"net/http"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// The gateway permission calls of MLflow 3.9 to 3.12's client: the same direct
// grants as GrantPermission with resource types gateway_secret,
// gateway_endpoint and gateway_model_definition.

// CreateGatewaySecretPermission grants a permission on a gateway secret.
func (c *Client) CreateGatewaySecretPermission(ctx context.Context, req *v1.CreateGatewaySecretPermissionRequest) (*v1.CreateGatewaySecretPermissionResponse, error) {
	return invoke[v1.CreateGatewaySecretPermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/gateway/secrets/permissions/create", req)
}

// GetGatewaySecretPermission reads a grant on a gateway secret.
func (c *Client) GetGatewaySecretPermission(ctx context.Context, req *v1.GetGatewaySecretPermissionRequest) (*v1.GetGatewaySecretPermissionResponse, error) {
	return invoke[v1.GetGatewaySecretPermissionResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/gateway/secrets/permissions/get", req)
}

// UpdateGatewaySecretPermission changes a grant on a gateway secret.
func (c *Client) UpdateGatewaySecretPermission(ctx context.Context, req *v1.UpdateGatewaySecretPermissionRequest) (*v1.UpdateGatewaySecretPermissionResponse, error) {
	return invoke[v1.UpdateGatewaySecretPermissionResponse](ctx, c, http.MethodPatch, "/api/3.0/mlflow/gateway/secrets/permissions/update", req)
}

// DeleteGatewaySecretPermission removes a grant on a gateway secret.
func (c *Client) DeleteGatewaySecretPermission(ctx context.Context, req *v1.DeleteGatewaySecretPermissionRequest) (*v1.DeleteGatewaySecretPermissionResponse, error) {
	return invoke[v1.DeleteGatewaySecretPermissionResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/gateway/secrets/permissions/delete", req)
}

// CreateGatewayEndpointPermission grants a permission on a gateway endpoint.
func (c *Client) CreateGatewayEndpointPermission(ctx context.Context, req *v1.CreateGatewayEndpointPermissionRequest) (*v1.CreateGatewayEndpointPermissionResponse, error) {
	return invoke[v1.CreateGatewayEndpointPermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/gateway/endpoints/permissions/create", req)
}

// GetGatewayEndpointPermission reads a grant on a gateway endpoint.
func (c *Client) GetGatewayEndpointPermission(ctx context.Context, req *v1.GetGatewayEndpointPermissionRequest) (*v1.GetGatewayEndpointPermissionResponse, error) {
	return invoke[v1.GetGatewayEndpointPermissionResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/gateway/endpoints/permissions/get", req)
}

// UpdateGatewayEndpointPermission changes a grant on a gateway endpoint.
func (c *Client) UpdateGatewayEndpointPermission(ctx context.Context, req *v1.UpdateGatewayEndpointPermissionRequest) (*v1.UpdateGatewayEndpointPermissionResponse, error) {
	return invoke[v1.UpdateGatewayEndpointPermissionResponse](ctx, c, http.MethodPatch, "/api/3.0/mlflow/gateway/endpoints/permissions/update", req)
}

// DeleteGatewayEndpointPermission removes a grant on a gateway endpoint.
func (c *Client) DeleteGatewayEndpointPermission(ctx context.Context, req *v1.DeleteGatewayEndpointPermissionRequest) (*v1.DeleteGatewayEndpointPermissionResponse, error) {
	return invoke[v1.DeleteGatewayEndpointPermissionResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/gateway/endpoints/permissions/delete", req)
}

// CreateGatewayModelDefinitionPermission grants a permission on a gateway model definition.
func (c *Client) CreateGatewayModelDefinitionPermission(ctx context.Context, req *v1.CreateGatewayModelDefinitionPermissionRequest) (*v1.CreateGatewayModelDefinitionPermissionResponse, error) {
	return invoke[v1.CreateGatewayModelDefinitionPermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/gateway/model-definitions/permissions/create", req)
}

// GetGatewayModelDefinitionPermission reads a grant on a gateway model definition.
func (c *Client) GetGatewayModelDefinitionPermission(ctx context.Context, req *v1.GetGatewayModelDefinitionPermissionRequest) (*v1.GetGatewayModelDefinitionPermissionResponse, error) {
	return invoke[v1.GetGatewayModelDefinitionPermissionResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/gateway/model-definitions/permissions/get", req)
}

// UpdateGatewayModelDefinitionPermission changes a grant on a gateway model definition.
func (c *Client) UpdateGatewayModelDefinitionPermission(ctx context.Context, req *v1.UpdateGatewayModelDefinitionPermissionRequest) (*v1.UpdateGatewayModelDefinitionPermissionResponse, error) {
	return invoke[v1.UpdateGatewayModelDefinitionPermissionResponse](ctx, c, http.MethodPatch, "/api/3.0/mlflow/gateway/model-definitions/permissions/update", req)
}

// DeleteGatewayModelDefinitionPermission removes a grant on a gateway model definition.
func (c *Client) DeleteGatewayModelDefinitionPermission(ctx context.Context, req *v1.DeleteGatewayModelDefinitionPermissionRequest) (*v1.DeleteGatewayModelDefinitionPermissionResponse, error) {
	return invoke[v1.DeleteGatewayModelDefinitionPermissionResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/gateway/model-definitions/permissions/delete", req)
}

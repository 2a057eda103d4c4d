package client

import (
	"context"
	"iter"
	"net/http"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// CreateExperimentPermission grants a permission on an experiment (MLflow up to 3.12, and mlflow-auth).
func (c *Client) CreateExperimentPermission(ctx context.Context, req *v1.CreateExperimentPermissionRequest) (*v1.CreateExperimentPermissionResponse, error) {
	return invoke[v1.CreateExperimentPermissionResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/experiments/permissions/create", req)
}

// GetExperimentPermission reads a grant on an experiment.
func (c *Client) GetExperimentPermission(ctx context.Context, req *v1.GetExperimentPermissionRequest) (*v1.GetExperimentPermissionResponse, error) {
	return invoke[v1.GetExperimentPermissionResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/experiments/permissions/get", req)
}

// UpdateExperimentPermission changes a grant on an experiment.
func (c *Client) UpdateExperimentPermission(ctx context.Context, req *v1.UpdateExperimentPermissionRequest) (*v1.UpdateExperimentPermissionResponse, error) {
	return invoke[v1.UpdateExperimentPermissionResponse](ctx, c, http.MethodPatch, "/api/2.0/mlflow/experiments/permissions/update", req)
}

// DeleteExperimentPermission removes a grant on an experiment.
func (c *Client) DeleteExperimentPermission(ctx context.Context, req *v1.DeleteExperimentPermissionRequest) (*v1.DeleteExperimentPermissionResponse, error) {
	return invoke[v1.DeleteExperimentPermissionResponse](ctx, c, http.MethodDelete, "/api/2.0/mlflow/experiments/permissions/delete", req)
}

// CreateRegisteredModelPermission grants a permission on a registered model (MLflow up to 3.12, and mlflow-auth).
func (c *Client) CreateRegisteredModelPermission(ctx context.Context, req *v1.CreateRegisteredModelPermissionRequest) (*v1.CreateRegisteredModelPermissionResponse, error) {
	return invoke[v1.CreateRegisteredModelPermissionResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/registered-models/permissions/create", req)
}

// GetRegisteredModelPermission reads a grant on a registered model.
func (c *Client) GetRegisteredModelPermission(ctx context.Context, req *v1.GetRegisteredModelPermissionRequest) (*v1.GetRegisteredModelPermissionResponse, error) {
	return invoke[v1.GetRegisteredModelPermissionResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/registered-models/permissions/get", req)
}

// UpdateRegisteredModelPermission changes a grant on a registered model.
func (c *Client) UpdateRegisteredModelPermission(ctx context.Context, req *v1.UpdateRegisteredModelPermissionRequest) (*v1.UpdateRegisteredModelPermissionResponse, error) {
	return invoke[v1.UpdateRegisteredModelPermissionResponse](ctx, c, http.MethodPatch, "/api/2.0/mlflow/registered-models/permissions/update", req)
}

// DeleteRegisteredModelPermission removes a grant on a registered model.
func (c *Client) DeleteRegisteredModelPermission(ctx context.Context, req *v1.DeleteRegisteredModelPermissionRequest) (*v1.DeleteRegisteredModelPermissionResponse, error) {
	return invoke[v1.DeleteRegisteredModelPermissionResponse](ctx, c, http.MethodDelete, "/api/2.0/mlflow/registered-models/permissions/delete", req)
}

// CreateScorerPermission grants a permission on a scorer (MLflow 3.7 to 3.12, and mlflow-auth).
func (c *Client) CreateScorerPermission(ctx context.Context, req *v1.CreateScorerPermissionRequest) (*v1.CreateScorerPermissionResponse, error) {
	return invoke[v1.CreateScorerPermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/scorers/permissions/create", req)
}

// GetScorerPermission reads a grant on a scorer.
func (c *Client) GetScorerPermission(ctx context.Context, req *v1.GetScorerPermissionRequest) (*v1.GetScorerPermissionResponse, error) {
	return invoke[v1.GetScorerPermissionResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/scorers/permissions/get", req)
}

// UpdateScorerPermission changes a grant on a scorer.
func (c *Client) UpdateScorerPermission(ctx context.Context, req *v1.UpdateScorerPermissionRequest) (*v1.UpdateScorerPermissionResponse, error) {
	return invoke[v1.UpdateScorerPermissionResponse](ctx, c, http.MethodPatch, "/api/3.0/mlflow/scorers/permissions/update", req)
}

// DeleteScorerPermission removes a grant on a scorer.
func (c *Client) DeleteScorerPermission(ctx context.Context, req *v1.DeleteScorerPermissionRequest) (*v1.DeleteScorerPermissionResponse, error) {
	return invoke[v1.DeleteScorerPermissionResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/scorers/permissions/delete", req)
}

// GrantPermission grants READ, USE, EDIT or MANAGE on any resource type (MLflow 3.13+, and mlflow-auth).
func (c *Client) GrantPermission(ctx context.Context, req *v1.GrantPermissionRequest) (*v1.GrantPermissionResponse, error) {
	return invoke[v1.GrantPermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/users/permissions/grant", req)
}

// RevokePermission removes a grant (MLflow 3.13+, and mlflow-auth).
func (c *Client) RevokePermission(ctx context.Context, req *v1.RevokePermissionRequest) (*v1.RevokePermissionResponse, error) {
	return invoke[v1.RevokePermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/users/permissions/revoke", req)
}

// GetUserPermission returns a user's effective permission on a resource (MLflow 3.13+, and mlflow-auth).
func (c *Client) GetUserPermission(ctx context.Context, req *v1.GetUserPermissionRequest) (*v1.GetUserPermissionResponse, error) {
	return invoke[v1.GetUserPermissionResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/users/permissions/get", req)
}

// ListUserPermissions lists a user's grants (MLflow 3.13+, and mlflow-auth).
func (c *Client) ListUserPermissions(ctx context.Context, req *v1.ListUserPermissionsRequest) (*v1.ListUserPermissionsResponse, error) {
	return invoke[v1.ListUserPermissionsResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/users/permissions/list", req)
}

// ListCurrentUserPermissions lists the caller's grants (MLflow 3.13+, and mlflow-auth).
func (c *Client) ListCurrentUserPermissions(ctx context.Context, req *v1.ListCurrentUserPermissionsRequest) (*v1.ListCurrentUserPermissionsResponse, error) {
	return invoke[v1.ListCurrentUserPermissionsResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/users/current/permissions", req)
}

// ListResourcePermissions returns one page of the grants on a resource: who has
// access to it (mlflow-auth only).
func (c *Client) ListResourcePermissions(ctx context.Context, req *v1.ListResourcePermissionsRequest) (*v1.ListResourcePermissionsResponse, error) {
	return invoke[v1.ListResourcePermissionsResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/permissions/list", req)
}

// AllResourcePermissions yields every grant on req's resource from req's page
// token on, fetching pages of req.MaxResults grants (all at once when it is 0).
func (c *Client) AllResourcePermissions(ctx context.Context, req *v1.ListResourcePermissionsRequest) iter.Seq2[*v1.ResourcePermission, error] {
	return pages(req.GetPageToken(), func(token string) ([]*v1.ResourcePermission, string, error) {
		r := proto.CloneOf(req)
		r.PageToken = token
		page, err := c.ListResourcePermissions(ctx, r)
		return page.GetPermissions(), page.GetNextPageToken(), err
	})
}

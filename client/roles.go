package client

import (
	"context"
	"iter"
	"net/http"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// Roles are MLflow 3.13+'s: named sets of permissions in a workspace ("default"
// without workspaces), held by users. Admins only, unless noted.

// CreateRole adds a role to a workspace.
func (c *Client) CreateRole(ctx context.Context, req *v1.CreateRoleRequest) (*v1.CreateRoleResponse, error) {
	return invoke[v1.CreateRoleResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/roles/create", req)
}

// GetRole returns a role with its permissions; also to holders of a role in its workspace.
func (c *Client) GetRole(ctx context.Context, req *v1.GetRoleRequest) (*v1.GetRoleResponse, error) {
	return invoke[v1.GetRoleResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/roles/get", req)
}

// ListRoles returns one page of the roles of a workspace (of every workspace,
// admins only, when Workspace is empty); also to holders of a role in it.
// MLflow's server ignores max_results and page_token and answers with every role.
func (c *Client) ListRoles(ctx context.Context, req *v1.ListRolesRequest) (*v1.ListRolesResponse, error) {
	return invoke[v1.ListRolesResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/roles/list", req)
}

// AllRoles yields every role from req's page token on, fetching pages of
// req.MaxResults roles (the server's default when it is 0).
func (c *Client) AllRoles(ctx context.Context, req *v1.ListRolesRequest) iter.Seq2[*v1.Role, error] {
	return pages(req.GetPageToken(), func(token string) ([]*v1.Role, string, error) {
		r := proto.CloneOf(req)
		r.PageToken = token
		page, err := c.ListRoles(ctx, r)
		return page.GetRoles(), page.GetNextPageToken(), err
	})
}

// UpdateRole renames a role and/or changes its description.
func (c *Client) UpdateRole(ctx context.Context, req *v1.UpdateRoleRequest) (*v1.UpdateRoleResponse, error) {
	return invoke[v1.UpdateRoleResponse](ctx, c, http.MethodPatch, "/api/3.0/mlflow/roles/update", req)
}

// DeleteRole removes a role, its permissions and its assignments.
func (c *Client) DeleteRole(ctx context.Context, req *v1.DeleteRoleRequest) (*v1.DeleteRoleResponse, error) {
	return invoke[v1.DeleteRoleResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/roles/delete", req)
}

// AddRolePermission gives a role a permission on one resource or, with the
// pattern "*", on every resource of a type.
func (c *Client) AddRolePermission(ctx context.Context, req *v1.AddRolePermissionRequest) (*v1.AddRolePermissionResponse, error) {
	return invoke[v1.AddRolePermissionResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/roles/permissions/add", req)
}

// RemoveRolePermission removes one permission of a role.
func (c *Client) RemoveRolePermission(ctx context.Context, req *v1.RemoveRolePermissionRequest) (*v1.RemoveRolePermissionResponse, error) {
	return invoke[v1.RemoveRolePermissionResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/roles/permissions/remove", req)
}

// ListRolePermissions lists a role's permissions; also to holders of a role in its workspace.
func (c *Client) ListRolePermissions(ctx context.Context, req *v1.ListRolePermissionsRequest) (*v1.ListRolePermissionsResponse, error) {
	return invoke[v1.ListRolePermissionsResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/roles/permissions/list", req)
}

// UpdateRolePermission changes the level of one permission of a role.
func (c *Client) UpdateRolePermission(ctx context.Context, req *v1.UpdateRolePermissionRequest) (*v1.UpdateRolePermissionResponse, error) {
	return invoke[v1.UpdateRolePermissionResponse](ctx, c, http.MethodPatch, "/api/3.0/mlflow/roles/permissions/update", req)
}

// AssignRole gives a user a role.
func (c *Client) AssignRole(ctx context.Context, req *v1.AssignRoleRequest) (*v1.AssignRoleResponse, error) {
	return invoke[v1.AssignRoleResponse](ctx, c, http.MethodPost, "/api/3.0/mlflow/roles/assign", req)
}

// UnassignRole takes a role from a user.
func (c *Client) UnassignRole(ctx context.Context, req *v1.UnassignRoleRequest) (*v1.UnassignRoleResponse, error) {
	return invoke[v1.UnassignRoleResponse](ctx, c, http.MethodDelete, "/api/3.0/mlflow/roles/unassign", req)
}

// ListUserRoles lists the roles a user holds, their direct grants first as
// MLflow's role __user_<id>__; to the user themself too.
func (c *Client) ListUserRoles(ctx context.Context, req *v1.ListUserRolesRequest) (*v1.ListUserRolesResponse, error) {
	return invoke[v1.ListUserRolesResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/users/roles/list", req)
}

// ListRoleUsers lists who holds a role.
func (c *Client) ListRoleUsers(ctx context.Context, req *v1.ListRoleUsersRequest) (*v1.ListRoleUsersResponse, error) {
	return invoke[v1.ListRoleUsersResponse](ctx, c, http.MethodGet, "/api/3.0/mlflow/roles/users/list", req)
}

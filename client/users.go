package client

import (
	"context"
	"iter"
	"net/http"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// invoke calls one RPC over REST and returns its decoded response.
func invoke[Resp any, PResp interface {
	*Resp
	proto.Message
}](ctx context.Context, c *Client, method, path string, req proto.Message) (PResp, error) {
	resp := PResp(new(Resp))
	if err := c.call(ctx, method, path, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// CreateUser adds a non-admin user. Admins only.
func (c *Client) CreateUser(ctx context.Context, req *v1.CreateUserRequest) (*v1.CreateUserResponse, error) {
	return invoke[v1.CreateUserResponse](ctx, c, http.MethodPost, "/api/2.0/mlflow/users/create", req)
}

// GetUser returns a user with their grants.
func (c *Client) GetUser(ctx context.Context, req *v1.GetUserRequest) (*v1.GetUserResponse, error) {
	return invoke[v1.GetUserResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/users/get", req)
}

// GetCurrentUser returns the caller (MLflow 3.13+ and mlflow-auth).
func (c *Client) GetCurrentUser(ctx context.Context, req *v1.GetCurrentUserRequest) (*v1.GetCurrentUserResponse, error) {
	return invoke[v1.GetCurrentUserResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/users/current", req)
}

// ListUsers returns one page of users. It uses users/list, the path MLflow 3.10+
// also has; MLflow's server ignores max_results and page_token, answers with
// every user, and sends only id and username (3.10 to 3.12), so the other fields
// are then zero.
func (c *Client) ListUsers(ctx context.Context, req *v1.ListUsersRequest) (*v1.ListUsersResponse, error) {
	return invoke[v1.ListUsersResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/users/list", req)
}

// AllUsers yields every user from req's page token on, fetching pages of
// req.MaxResults users (all at once when it is 0).
func (c *Client) AllUsers(ctx context.Context, req *v1.ListUsersRequest) iter.Seq2[*v1.User, error] {
	return pages(req.GetPageToken(), func(token string) ([]*v1.User, string, error) {
		r := proto.CloneOf(req)
		r.PageToken = token
		page, err := c.ListUsers(ctx, r)
		return page.GetUsers(), page.GetNextPageToken(), err
	})
}

// UpdateUserPassword sets a user's password. Changing your own (an admin's
// too) needs req.CurrentPassword, as in MLflow 3.17.2; an admin sets another
// user's password without it.
func (c *Client) UpdateUserPassword(ctx context.Context, req *v1.UpdateUserPasswordRequest) (*v1.UpdateUserPasswordResponse, error) {
	return invoke[v1.UpdateUserPasswordResponse](ctx, c, http.MethodPatch, "/api/2.0/mlflow/users/update-password", req)
}

// UpdateUserAdmin promotes or demotes a user. Admins only.
func (c *Client) UpdateUserAdmin(ctx context.Context, req *v1.UpdateUserAdminRequest) (*v1.UpdateUserAdminResponse, error) {
	return invoke[v1.UpdateUserAdminResponse](ctx, c, http.MethodPatch, "/api/2.0/mlflow/users/update-admin", req)
}

// DeleteUser removes a user. Admins only.
func (c *Client) DeleteUser(ctx context.Context, req *v1.DeleteUserRequest) (*v1.DeleteUserResponse, error) {
	return invoke[v1.DeleteUserResponse](ctx, c, http.MethodDelete, "/api/2.0/mlflow/users/delete", req)
}

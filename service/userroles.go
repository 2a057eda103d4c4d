package service

import (
	"context"
	"strconv"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// directRole shows a user's direct grants the way MLflow 3.13+ stores them: as
// the permissions of a hidden role named __user_<id>__ that only that user
// holds. mlflow-auth keeps direct grants in their own table, so the role is a
// view: its id is the negative of the user id (never a stored role's id) and
// its permissions are numbered -1, -2, ... in grant order. It exists only while
// the user has a direct grant (MLflow keeps the emptied role after the last
// revoke). ok is false when there is none.
func directRole(u storage.User, grants []storage.Grant) (r *v1.Role, ok bool) {
	if len(grants) == 0 {
		return nil, false
	}
	r = &v1.Role{Id: -u.ID, Name: reservedRolePrefix + strconv.Itoa(int(u.ID)) + "__", Workspace: resolve.Workspace}
	for i, g := range grants {
		r.Permissions = append(r.Permissions, &v1.RolePermission{
			Id: int32(-1 - i), RoleId: r.Id,
			ResourceType: string(g.Resource.Type), ResourcePattern: g.Resource.ID, Permission: string(g.Level),
		})
	}
	return r, true
}

// userRoles is every role a user holds, as MLflow 3.17.2 lists them: the
// direct grants' role first, then the stored roles in id order.
func (c *core) userRoles(ctx context.Context, u storage.User, grants []storage.Grant) ([]*v1.Role, error) {
	stored, err := c.roles.RolesOfUser(ctx, u.ID)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	out := make([]*v1.Role, 0, len(stored)+1)
	if r, ok := directRole(u, grants); ok {
		out = append(out, r)
	}
	return append(out, roleMessages(stored)...), nil
}

// userRolesOf reads a user's direct grants and lists their roles.
func (c *core) userRolesOf(ctx context.Context, u storage.User) ([]*v1.Role, error) {
	grants, err := c.store.GrantsOfUsers(ctx, []int32{u.ID})
	if err != nil {
		return nil, internalError(ctx, err)
	}
	return c.userRoles(ctx, u, grants)
}

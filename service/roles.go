package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mlflow-auth/mlflow-auth/decision"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// roleService is MLflow 3.17.2's roles API. What roles grant is decided by the
// one resolver (package resolve).
type roleService struct {
	v1.UnimplementedRoleServiceServer
	*core
}

// reservedRolePrefix names MLflow's synthetic per-user roles (__user_<id>__);
// MLflow keeps the whole prefix out of user-made role names.
const reservedRolePrefix = "__user_"

func roleNotFound(id int32) string { return fmt.Sprintf("Role with id=%d not found", id) }

func rolePermissionNotFound(id int32) string {
	return fmt.Sprintf("Role permission with id=%d not found", id)
}

// checkRoleName applies MLflow's rules for a new role name.
func checkRoleName(name string) error {
	if strings.TrimSpace(name) == "" {
		return apiError(codeInvalidParameter, "Role name cannot be empty.")
	}
	if strings.HasPrefix(name, reservedRolePrefix) {
		return apiError(codeInvalidParameter, "Role name '%s' uses the reserved '__user_' prefix, which is held for the per-user permission representation. Choose a different name.", quoted(name))
	}
	return nil
}

// checkRoleWorkspace applies MLflow's rule for a new role's workspace.
func checkRoleWorkspace(ws string) error {
	if strings.TrimSpace(ws) == "" {
		return apiError(codeInvalidParameter, "Workspace cannot be empty.")
	}
	return nil
}

func roleMessage(r storage.Role) *v1.Role {
	m := &v1.Role{Id: r.ID, Name: r.Name, Workspace: r.Workspace, Permissions: make([]*v1.RolePermission, len(r.Permissions))}
	if r.Description != nil {
		m.Description = wrapperspb.String(*r.Description)
	}
	for i, p := range r.Permissions {
		m.Permissions[i] = rolePermissionMessage(p)
	}
	return m
}

func roleMessages(rs []storage.Role) []*v1.Role {
	out := make([]*v1.Role, len(rs))
	for i, r := range rs {
		out[i] = roleMessage(r)
	}
	return out
}

func rolePermissionMessage(p storage.RolePermission) *v1.RolePermission {
	return &v1.RolePermission{Id: p.ID, RoleId: p.RoleID, ResourceType: p.ResourceType, ResourcePattern: p.Pattern, Permission: string(p.Level)}
}

func assignmentMessage(a storage.RoleAssignment) *v1.RoleAssignment {
	return &v1.RoleAssignment{Id: a.ID, UserId: a.UserID, RoleId: a.RoleID}
}

func (s *roleService) CreateRole(ctx context.Context, req *v1.CreateRoleRequest) (*v1.CreateRoleResponse, error) {
	if err := checkRoleName(req.Name); err != nil {
		return nil, err
	}
	if err := checkRoleWorkspace(req.Workspace); err != nil {
		return nil, err
	}
	after := storage.AuditRole{Name: req.Name, Workspace: req.Workspace, Description: req.Description}
	audited := roleChange(ctx, "role.create", storage.Role{Workspace: req.Workspace}, nil, after)
	r, err := s.roles.CreateRole(audited, req.Workspace, req.Name, req.Description)
	if err != nil {
		return nil, storageError(ctx, err, "", fmt.Sprintf("Role (name=%s, workspace=%s) already exists.", quoted(req.Name), quoted(req.Workspace)))
	}
	return &v1.CreateRoleResponse{Role: roleMessage(r)}, nil
}

func (s *roleService) GetRole(ctx context.Context, req *v1.GetRoleRequest) (*v1.GetRoleResponse, error) {
	r, err := s.roles.Role(ctx, req.RoleId)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), "")
	}
	return &v1.GetRoleResponse{Role: roleMessage(r)}, nil
}

func (s *roleService) ListRoles(ctx context.Context, req *v1.ListRolesRequest) (*v1.ListRolesResponse, error) {
	after, limit, err := pageRequest[int32](req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	roles, err := s.roles.ListRoles(ctx, req.Workspace, after, fetchSize(limit))
	if err != nil {
		return nil, internalError(ctx, err)
	}
	resp := &v1.ListRolesResponse{}
	roles, resp.NextPageToken = trimPage(roles, limit, func(r storage.Role) int32 { return r.ID })
	resp.Roles = roleMessages(roles)
	return resp, nil
}

func (s *roleService) UpdateRole(ctx context.Context, req *v1.UpdateRoleRequest) (*v1.UpdateRoleResponse, error) {
	if req.Name == nil && req.Description == nil {
		return nil, apiError(codeInvalidParameter, "At least one of 'name' or 'description' must be provided to update a role.")
	}
	if req.Name != nil {
		if err := checkRoleName(*req.Name); err != nil {
			return nil, err
		}
	}
	old, err := s.roles.Role(ctx, req.RoleId)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), "")
	}
	before := storage.AuditRole{Name: old.Name, Workspace: old.Workspace, Description: old.Description}
	after := before
	if req.Name != nil {
		after.Name = *req.Name
	}
	if req.Description != nil {
		after.Description = req.Description
	}
	r, err := s.roles.UpdateRole(roleChange(ctx, "role.update", old, before, after), req.RoleId, req.Name, req.Description)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId),
			fmt.Sprintf("Role with name=%s already exists in workspace=%s", quoted(req.GetName()), quoted(old.Workspace)))
	}
	return &v1.UpdateRoleResponse{Role: roleMessage(r)}, nil
}

func (s *roleService) DeleteRole(ctx context.Context, req *v1.DeleteRoleRequest) (*v1.DeleteRoleResponse, error) {
	old, err := s.role(ctx, req.RoleId, roleNotFound(req.RoleId))
	if err != nil {
		return nil, err
	}
	before := storage.AuditRoleOf(old)
	holders, err := s.roles.RoleAssignments(ctx, req.RoleId)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), "")
	}
	for _, a := range holders {
		before.MemberIDs = append(before.MemberIDs, a.UserID)
	}
	if err := s.roles.DeleteRole(roleChange(ctx, "role.delete", old, before, nil), req.RoleId); err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), "")
	}
	return &v1.DeleteRoleResponse{}, nil
}

func (s *roleService) AddRolePermission(ctx context.Context, req *v1.AddRolePermissionRequest) (*v1.AddRolePermissionResponse, error) {
	l, err := permission.CheckRoleLevel(req.ResourceType, req.Permission)
	pattern := req.ResourcePattern
	if err == nil {
		pattern, err = permission.RolePattern(req.ResourceType, req.ResourcePattern)
	}
	if err != nil {
		return nil, apiError(codeInvalidParameter, "%s", err.Error())
	}
	role, err := s.role(ctx, req.RoleId, roleNotFound(req.RoleId))
	if err != nil {
		return nil, err
	}
	after := storage.AuditRolePermission{ResourceType: req.ResourceType, Pattern: pattern, Permission: string(l)}
	p, err := s.roles.AddRolePermission(roleChange(ctx, "role_permission.add", role, nil, after), req.RoleId, req.ResourceType, pattern, l)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), fmt.Sprintf(
			"Role permission (role_id=%d, resource_type=%s, resource_pattern=%s) already exists.",
			req.RoleId, req.ResourceType, quoted(pattern)))
	}
	return &v1.AddRolePermissionResponse{RolePermission: rolePermissionMessage(p)}, nil
}

func (s *roleService) RemoveRolePermission(ctx context.Context, req *v1.RemoveRolePermissionRequest) (*v1.RemoveRolePermissionResponse, error) {
	old, err := s.roles.RolePermission(ctx, req.RolePermissionId)
	if err != nil {
		return nil, storageError(ctx, err, rolePermissionNotFound(req.RolePermissionId), "")
	}
	role, err := s.role(ctx, old.RoleID, rolePermissionNotFound(req.RolePermissionId))
	if err != nil {
		return nil, err
	}
	audited := roleChange(ctx, "role_permission.remove", role, storage.AuditRolePermissionOf(old), nil)
	if err := s.roles.RemoveRolePermission(audited, req.RolePermissionId); err != nil {
		return nil, storageError(ctx, err, rolePermissionNotFound(req.RolePermissionId), "")
	}
	return &v1.RemoveRolePermissionResponse{}, nil
}

func (s *roleService) ListRolePermissions(ctx context.Context, req *v1.ListRolePermissionsRequest) (*v1.ListRolePermissionsResponse, error) {
	ps, err := s.roles.RolePermissions(ctx, req.RoleId)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), "")
	}
	resp := &v1.ListRolePermissionsResponse{RolePermissions: make([]*v1.RolePermission, len(ps))}
	for i, p := range ps {
		resp.RolePermissions[i] = rolePermissionMessage(p)
	}
	return resp, nil
}

func (s *roleService) UpdateRolePermission(ctx context.Context, req *v1.UpdateRolePermissionRequest) (*v1.UpdateRolePermissionResponse, error) {
	// The level allowed depends on the permission's resource type, so read it first, as MLflow does.
	old, err := s.roles.RolePermission(ctx, req.RolePermissionId)
	if err != nil {
		return nil, storageError(ctx, err, rolePermissionNotFound(req.RolePermissionId), "")
	}
	l, err := permission.CheckRoleLevel(old.ResourceType, req.Permission)
	if err != nil {
		return nil, apiError(codeInvalidParameter, "%s", err.Error())
	}
	role, err := s.role(ctx, old.RoleID, rolePermissionNotFound(req.RolePermissionId))
	if err != nil {
		return nil, err
	}
	before, after := storage.AuditRolePermissionOf(old), storage.AuditRolePermissionOf(old)
	after.Permission = string(l)
	p, err := s.roles.UpdateRolePermission(roleChange(ctx, "role_permission.update", role, before, after), req.RolePermissionId, l)
	if err != nil {
		return nil, storageError(ctx, err, rolePermissionNotFound(req.RolePermissionId), "")
	}
	return &v1.UpdateRolePermissionResponse{RolePermission: rolePermissionMessage(p)}, nil
}

// user finds a user by name with MLflow's not-found message.
func (s *roleService) user(ctx context.Context, username string) (storage.User, error) {
	u, err := s.store.UserByName(ctx, username)
	if err != nil {
		return u, storageError(ctx, err, userNotFound(username), "")
	}
	return u, nil
}

// role reads a role, answering notFound when there is none.
func (s *roleService) role(ctx context.Context, id int32, notFound string) (storage.Role, error) {
	r, err := s.roles.Role(ctx, id)
	if err != nil {
		return r, storageError(ctx, err, notFound, "")
	}
	return r, nil
}

func (s *roleService) AssignRole(ctx context.Context, req *v1.AssignRoleRequest) (*v1.AssignRoleResponse, error) {
	u, err := s.user(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	role, err := s.role(ctx, req.RoleId, roleNotFound(req.RoleId))
	if err != nil {
		return nil, err
	}
	after := assignmentValue{Username: u.Username, Role: role.Name}
	a, err := s.roles.AssignRole(roleChange(ctx, "role.assign", role, nil, after), u.ID, req.RoleId)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId),
			fmt.Sprintf("User role assignment (user_id=%d, role_id=%d) already exists", u.ID, req.RoleId))
	}
	return &v1.AssignRoleResponse{Assignment: assignmentMessage(a)}, nil
}

func (s *roleService) UnassignRole(ctx context.Context, req *v1.UnassignRoleRequest) (*v1.UnassignRoleResponse, error) {
	u, err := s.user(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	notHeld := fmt.Sprintf("User role assignment (user_id=%d, role_id=%d) not found", u.ID, req.RoleId)
	role, err := s.role(ctx, req.RoleId, notHeld)
	if err != nil {
		return nil, err
	}
	before := assignmentValue{Username: u.Username, Role: role.Name}
	if err := s.roles.UnassignRole(roleChange(ctx, "role.unassign", role, before, nil), u.ID, req.RoleId); err != nil {
		return nil, storageError(ctx, err, notHeld, "")
	}
	return &v1.UnassignRoleResponse{}, nil
}

func (s *roleService) ListUserRoles(ctx context.Context, req *v1.ListUserRolesRequest) (*v1.ListUserRolesResponse, error) {
	u, err := s.user(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	roles, err := s.userRolesOf(ctx, u)
	if err != nil {
		return nil, err
	}
	return &v1.ListUserRolesResponse{Roles: roles}, nil
}

func (s *roleService) ListRoleUsers(ctx context.Context, req *v1.ListRoleUsersRequest) (*v1.ListRoleUsersResponse, error) {
	as, err := s.roles.RoleAssignments(ctx, req.RoleId)
	if err != nil {
		return nil, storageError(ctx, err, roleNotFound(req.RoleId), "")
	}
	resp := &v1.ListRoleUsersResponse{Assignments: make([]*v1.RoleAssignment, len(as))}
	for i, a := range as {
		resp.Assignments[i] = assignmentMessage(a)
	}
	return resp, nil
}

// roleResource is the role a role request is about, for the role-viewer rule:
// its role (role_id or role_permission_id) in the role's workspace, or the
// workspace it names (no id). ok is false when the role or permission does not
// exist: a non-admin is then refused rather than told whether it exists, as in MLflow.
func (c *core) roleResource(ctx context.Context, req any) (r decision.Resource, ok bool, err error) {
	roleID := int32(0)
	switch m := req.(type) {
	case interface{ GetRoleId() int32 }:
		roleID = m.GetRoleId()
	case interface{ GetRolePermissionId() int32 }:
		p, err := c.roles.RolePermission(ctx, m.GetRolePermissionId())
		if errors.Is(err, storage.ErrNotFound) {
			return r, false, nil
		}
		if err != nil {
			return r, false, internalError(ctx, err)
		}
		roleID = p.RoleID
	case interface{ GetWorkspace() string }:
		return decision.Resource{Type: roleResourceType, Workspace: m.GetWorkspace()}, m.GetWorkspace() != "", nil
	default:
		return r, false, nil
	}
	role, err := c.roles.Role(ctx, roleID)
	if errors.Is(err, storage.ErrNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, internalError(ctx, err)
	}
	return decision.Resource{Type: roleResourceType, ID: strconv.Itoa(int(role.ID)), Workspace: role.Workspace}, true, nil
}

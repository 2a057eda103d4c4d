package storage

import (
	"context"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// The values an audit row keeps (AuditEvent.Before and After) of a user, a
// direct grant, a role and a role permission: one JSON shape for each, whether
// the API or the import wrote the row. None holds a password or a hash.

// AuditUser is a user's audit value.
type AuditUser struct {
	Username       string `json:"username"`
	IsAdmin        *bool  `json:"is_admin,omitempty"`
	Password       string `json:"password,omitempty"` // only ever "changed"
	ServiceAccount bool   `json:"service_account,omitempty"`
}

// AuditUserOf is u's audit value.
func AuditUserOf(u User) AuditUser {
	return AuditUser{Username: u.Username, IsAdmin: &u.IsAdmin, ServiceAccount: u.IsServiceAccount}
}

// AuditGrant is a direct grant's audit value; the row names its resource.
type AuditGrant struct {
	Username   string `json:"username"`
	Permission string `json:"permission"`
}

// AuditRole is a role's audit value: a deleted role's permissions and
// holders, which go with it, and an imported role's members are in it.
type AuditRole struct {
	Name        string                `json:"name"`
	Workspace   string                `json:"workspace"`
	Description *string               `json:"description,omitempty"`
	Permissions []AuditRolePermission `json:"permissions,omitempty"`
	Members     []string              `json:"members,omitempty"`
	// MemberIDs are a deleted role's holders, whose assignments go with it,
	// by user id (as MLflow's assignments name them).
	MemberIDs []int32 `json:"member_ids,omitempty"`
}

// AuditRoleOf is r's audit value.
func AuditRoleOf(r Role) AuditRole {
	v := AuditRole{Name: r.Name, Workspace: r.Workspace, Description: r.Description}
	for _, p := range r.Permissions {
		v.Permissions = append(v.Permissions, AuditRolePermissionOf(p))
	}
	return v
}

// AuditRolePermission is a role permission's audit value; its id is 0, left
// out, until the write has made it.
type AuditRolePermission struct {
	ID           int32  `json:"id,omitempty"`
	ResourceType string `json:"resource_type"`
	Pattern      string `json:"resource_pattern"`
	Permission   string `json:"permission"`
}

// AuditRolePermissionOf is p's audit value.
func AuditRolePermissionOf(p RolePermission) AuditRolePermission {
	return AuditRolePermission{ID: p.ID, ResourceType: p.ResourceType, Pattern: p.Pattern, Permission: string(p.Level)}
}

// AuditGrantsOf is the audit value of grants on one resource (the row names
// it): the grants a bulk delete removed or a move took away.
func AuditGrantsOf(grants []Grant) []AuditGrant {
	v := make([]AuditGrant, len(grants))
	for i, g := range grants {
		v[i] = AuditGrant{Username: g.Username, Permission: string(g.Level)}
	}
	return v
}

// AuditMovedGrants is the value after a move of grants: the resource they went
// to, them, and the grants they replaced there (a user's grant on the new
// resource gives way to theirs from the old one).
type AuditMovedGrants struct {
	ResourceType string       `json:"resource_type"`
	ResourceID   string       `json:"resource_id"`
	Grants       []AuditGrant `json:"grants"`
	Replaced     []AuditGrant `json:"replaced,omitempty"`
}

// AuditGrantsMoved sets ctx's audit values for a move of grants to to: those
// moved before, and where they went with those they replaced after.
func AuditGrantsMoved(ctx context.Context, to permission.Resource, moved, replaced []Grant) error {
	return AuditChanged(ctx, AuditGrantsOf(moved), AuditMovedGrants{ResourceType: string(to.Type), ResourceID: to.ID,
		Grants: AuditGrantsOf(moved), Replaced: AuditGrantsOf(replaced)})
}

package service

import (
	"context"
	"strconv"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// roleValue is what the audit trail keeps of a role; a deleted role's
// permissions, which go with it, are in its value before.
type roleValue struct {
	Name        string                `json:"name"`
	Workspace   string                `json:"workspace"`
	Description *string               `json:"description,omitempty"`
	Permissions []rolePermissionValue `json:"permissions,omitempty"`
}

func roleValueOf(r storage.Role) roleValue {
	v := roleValue{Name: r.Name, Workspace: r.Workspace, Description: r.Description}
	for _, p := range r.Permissions {
		v.Permissions = append(v.Permissions, rolePermissionValueOf(p))
	}
	return v
}

// rolePermissionValue is what the audit trail keeps of a role permission (its
// id is 0, left out, until the add has made it).
type rolePermissionValue struct {
	ID           int32  `json:"id,omitempty"`
	ResourceType string `json:"resource_type"`
	Pattern      string `json:"resource_pattern"`
	Permission   string `json:"permission"`
}

func rolePermissionValueOf(p storage.RolePermission) rolePermissionValue {
	return rolePermissionValue{ID: p.ID, ResourceType: p.ResourceType, Pattern: p.Pattern, Permission: string(p.Level)}
}

// assignmentValue is what the audit trail keeps of a user's holding a role.
type assignmentValue struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// roleChange is userChange for a role r names, or for its permissions and
// assignments: the resource is "role", its id the role's (the store fills in
// a new role's) and the workspace the role's.
func roleChange(ctx context.Context, event string, r storage.Role, before, after any) context.Context {
	ev := auditEvent(ctx, storage.AuditAdmin, event, storage.OutcomeSuccess)
	ev.ResourceType, ev.Workspace = "role", r.Workspace
	if r.ID != 0 {
		ev.ResourceID = strconv.Itoa(int(r.ID))
	}
	ev.Before, ev.After = auditJSON(ctx, before), auditJSON(ctx, after)
	return storage.WithAudit(ctx, ev)
}

package service

import (
	"context"
	"strconv"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// assignmentValue is what the audit trail keeps of a user's holding a role.
type assignmentValue struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// roleResourceType is the resource type of a role's rows and decisions.
const roleResourceType = "role"

// roleChange is userChange for a role r names, or for its permissions and
// assignments: the resource is "role", its id the role's (the store fills in
// a new role's) and the workspace the role's.
func roleChange(ctx context.Context, event string, r storage.Role, before, after any) context.Context {
	ev := auditEvent(ctx, storage.AuditAdmin, event, storage.OutcomeSuccess)
	ev.ResourceType, ev.Workspace = roleResourceType, r.Workspace
	if r.ID != 0 {
		ev.ResourceID = strconv.Itoa(int(r.ID))
	}
	ev.Before, ev.After = auditJSON(ctx, before), auditJSON(ctx, after)
	return storage.WithAudit(ctx, ev)
}

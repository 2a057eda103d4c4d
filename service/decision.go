package service

import (
	"cmp"
	"context"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/decision"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// decisionGroups name each API service's route group, the metrics' label of
// its decisions.
var decisionGroups = map[string]string{
	v1.UserService_ServiceDesc.ServiceName:          "users",
	v1.PermissionService_ServiceDesc.ServiceName:    "permissions",
	v1.AuthorizationService_ServiceDesc.ServiceName: "authorization",
	v1.RoleService_ServiceDesc.ServiceName:          "roles",
	v1.TokenService_ServiceDesc.ServiceName:         "tokens",
	v1.WorkspaceService_ServiceDesc.ServiceName:     "workspaces",
	v1.AuditService_ServiceDesc.ServiceName:         "audit",
}

// groupOf is the route group of an RPC's full name (/package.Service/Method).
func groupOf(method string) string {
	service, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if g, ok := decisionGroups[service]; ok {
		return g
	}
	return "other"
}

// How a caller authenticated, as the audit trail and the log name it.
const (
	methodBasic = "basic" // a password
	methodToken = "token" // an access token, as a Bearer or as the Basic password
)

// authMethod says how p proved who they are.
func authMethod(p Principal) string {
	switch {
	case p.TokenID != 0:
		return methodToken
	case p.BasicAuth:
		return methodBasic
	}
	return ""
}

func principalOf(p Principal) decision.Principal {
	return decision.Principal{UserID: p.User.ID, Username: p.User.Username, AuthMethod: authMethod(p), TokenID: p.TokenID}
}

// decided is where every decision goes, the policy's and the proxy's alike:
// into the request's log line, the decisions counter and, for a refusal, the
// audit trail (folded with its repeats, see authAudit).
func (c *core) decided(ctx context.Context, d decision.Decision) {
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		l.decision = &d
	}
	c.metrics.Decision(d.Group, d.Outcome())
	if d.Allowed {
		return
	}
	ev := auditEvent(ctx, storage.AuditAuth, "permission.denied", storage.OutcomeDenied)
	ev.ActorUserID, ev.ActorUsername, ev.AuthMethod, ev.TokenID = d.Principal.UserID, d.Principal.Username, d.Principal.AuthMethod, d.Principal.TokenID
	r := d.Resource()
	// A refusal is always in a workspace, so the trail's workspace filter finds
	// it: the resource's, else the request's (an admins-only call, a user).
	ev.ResourceType, ev.ResourceID, ev.Workspace = r.Type, r.ID, cmp.Or(r.Workspace, workspace.From(ctx))
	ev.Operation, ev.Reason = d.Action, d.Reason
	ev.Required, ev.Held = d.Levels()
	c.auth.audit.record(ev)
}

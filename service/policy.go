package service

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mlflow-auth/mlflow-auth/decision"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// access says who may call an RPC. The zero value allows nobody.
type access int

const (
	accessDenied     access = iota
	accessPublic            // no credentials needed
	accessAnyUser           // any authenticated user
	accessSelf              // the user named by the request's username, or an admin
	accessManage            // MANAGE on the request's resource, or an admin
	accessAdmin             // admins only
	accessRoleViewer        // holders of any role in the workspace of the request's role, or an admin
	// accessSelfUncapped is accessSelf, refused to a token with a ceiling: a new
	// token made with it could escape the ceiling.
	accessSelfUncapped
	accessWorkspaceManager // MANAGE on the workspace the request names, or an admin
)

// rule is one row of the policy table: who may call, and which request fields
// must be present (checked before access, so a bad request is 400, not 403).
type rule struct {
	access   access
	required []string
}

// policies is the one policy table, enforced for gRPC and REST alike by
// authorizeUnary and authorizeStream. An RPC without a row is refused.
var policies = map[string]rule{
	grpc_health_v1.Health_Check_FullMethodName: {access: accessPublic},
	grpc_health_v1.Health_Watch_FullMethodName: {access: accessPublic},
	// Reflection lists the services, as the .proto files in the repository do (grpcurl, ghz).
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      {access: accessPublic},
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: {access: accessPublic},

	v1.UserService_CreateUser_FullMethodName:         {accessAdmin, []string{"username", "password"}},
	v1.UserService_GetUser_FullMethodName:            {accessSelf, []string{"username"}},
	v1.UserService_GetCurrentUser_FullMethodName:     {accessAnyUser, nil},
	v1.UserService_ListUsers_FullMethodName:          {accessAnyUser, nil}, // ListUsers filters for non-admins
	v1.UserService_UpdateUserPassword_FullMethodName: {accessSelf, []string{"username", "password"}},
	v1.UserService_UpdateUserAdmin_FullMethodName:    {accessAdmin, []string{"username", "is_admin"}},
	v1.UserService_DeleteUser_FullMethodName:         {accessAdmin, []string{"username"}},

	v1.UserService_CreateServiceAccount_FullMethodName: {accessAdmin, []string{"username"}},
	v1.UserService_ListServiceAccounts_FullMethodName:  {accessAdmin, nil},
	v1.UserService_DeleteServiceAccount_FullMethodName: {accessAdmin, []string{"username"}},

	v1.PermissionService_CreateExperimentPermission_FullMethodName: {accessManage, []string{"experiment_id", "username", "permission"}},
	v1.PermissionService_GetExperimentPermission_FullMethodName:    {accessManage, []string{"experiment_id", "username"}},
	v1.PermissionService_UpdateExperimentPermission_FullMethodName: {accessManage, []string{"experiment_id", "username", "permission"}},
	v1.PermissionService_DeleteExperimentPermission_FullMethodName: {accessManage, []string{"experiment_id", "username"}},

	v1.PermissionService_CreateRegisteredModelPermission_FullMethodName: {accessManage, []string{"name", "username", "permission"}},
	v1.PermissionService_GetRegisteredModelPermission_FullMethodName:    {accessManage, []string{"name", "username"}},
	v1.PermissionService_UpdateRegisteredModelPermission_FullMethodName: {accessManage, []string{"name", "username", "permission"}},
	v1.PermissionService_DeleteRegisteredModelPermission_FullMethodName: {accessManage, []string{"name", "username"}},

	v1.PermissionService_CreateScorerPermission_FullMethodName: {accessManage, []string{"experiment_id", "scorer_name", "username", "permission"}},
	v1.PermissionService_GetScorerPermission_FullMethodName:    {accessManage, []string{"experiment_id", "scorer_name", "username"}},
	v1.PermissionService_UpdateScorerPermission_FullMethodName: {accessManage, []string{"experiment_id", "scorer_name", "username", "permission"}},
	v1.PermissionService_DeleteScorerPermission_FullMethodName: {accessManage, []string{"experiment_id", "scorer_name", "username"}},

	v1.PermissionService_CreateGatewaySecretPermission_FullMethodName: {accessManage, []string{"secret_id", "username", "permission"}},
	v1.PermissionService_GetGatewaySecretPermission_FullMethodName:    {accessManage, []string{"secret_id", "username"}},
	v1.PermissionService_UpdateGatewaySecretPermission_FullMethodName: {accessManage, []string{"secret_id", "username", "permission"}},
	v1.PermissionService_DeleteGatewaySecretPermission_FullMethodName: {accessManage, []string{"secret_id", "username"}},

	v1.PermissionService_CreateGatewayEndpointPermission_FullMethodName: {accessManage, []string{"endpoint_id", "username", "permission"}},
	v1.PermissionService_GetGatewayEndpointPermission_FullMethodName:    {accessManage, []string{"endpoint_id", "username"}},
	v1.PermissionService_UpdateGatewayEndpointPermission_FullMethodName: {accessManage, []string{"endpoint_id", "username", "permission"}},
	v1.PermissionService_DeleteGatewayEndpointPermission_FullMethodName: {accessManage, []string{"endpoint_id", "username"}},

	v1.PermissionService_CreateGatewayModelDefinitionPermission_FullMethodName: {accessManage, []string{"model_definition_id", "username", "permission"}},
	v1.PermissionService_GetGatewayModelDefinitionPermission_FullMethodName:    {accessManage, []string{"model_definition_id", "username"}},
	v1.PermissionService_UpdateGatewayModelDefinitionPermission_FullMethodName: {accessManage, []string{"model_definition_id", "username", "permission"}},
	v1.PermissionService_DeleteGatewayModelDefinitionPermission_FullMethodName: {accessManage, []string{"model_definition_id", "username"}},

	v1.PermissionService_GrantPermission_FullMethodName:            {accessManage, []string{"username", "resource_type", "resource_id", "permission"}},
	v1.PermissionService_RevokePermission_FullMethodName:           {accessManage, []string{"username", "resource_type", "resource_id"}},
	v1.PermissionService_GetUserPermission_FullMethodName:          {accessSelf, []string{"username", "resource_type", "resource_id"}},
	v1.PermissionService_ListUserPermissions_FullMethodName:        {accessSelf, []string{"username"}},
	v1.PermissionService_ListCurrentUserPermissions_FullMethodName: {accessAnyUser, nil},
	v1.PermissionService_ListResourcePermissions_FullMethodName:    {accessManage, []string{"resource_type", "resource_id"}},

	// Who may call each as MLflow 3.17.2's validators say (validate_can_manage_roles,
	// _view_roles, _list_roles, _view_user_roles), workspace admins aside.
	v1.RoleService_CreateRole_FullMethodName:           {accessAdmin, []string{"name", "workspace"}},
	v1.RoleService_GetRole_FullMethodName:              {accessRoleViewer, []string{"role_id"}},
	v1.RoleService_ListRoles_FullMethodName:            {accessRoleViewer, nil},
	v1.RoleService_UpdateRole_FullMethodName:           {accessAdmin, []string{"role_id"}},
	v1.RoleService_DeleteRole_FullMethodName:           {accessAdmin, []string{"role_id"}},
	v1.RoleService_AddRolePermission_FullMethodName:    {accessAdmin, []string{"role_id", "resource_type", "resource_pattern", "permission"}},
	v1.RoleService_RemoveRolePermission_FullMethodName: {accessAdmin, []string{"role_permission_id"}},
	v1.RoleService_ListRolePermissions_FullMethodName:  {accessRoleViewer, []string{"role_id"}},
	v1.RoleService_UpdateRolePermission_FullMethodName: {accessAdmin, []string{"role_permission_id", "permission"}},
	v1.RoleService_AssignRole_FullMethodName:           {accessAdmin, []string{"username", "role_id"}},
	v1.RoleService_UnassignRole_FullMethodName:         {accessAdmin, []string{"username", "role_id"}},
	v1.RoleService_ListUserRoles_FullMethodName:        {accessSelf, []string{"username"}},
	v1.RoleService_ListRoleUsers_FullMethodName:        {accessAdmin, []string{"role_id"}},

	v1.TokenService_CreateToken_FullMethodName:     {accessSelfUncapped, []string{"username", "name"}},
	v1.TokenService_ListTokens_FullMethodName:      {accessSelf, []string{"username"}},
	v1.AuditService_ListAuditEvents_FullMethodName: {accessAdmin, nil},
	v1.TokenService_RotateToken_FullMethodName:     {accessSelfUncapped, []string{"username", "name"}},
	v1.TokenService_RevokeToken_FullMethodName:     {accessSelf, []string{"username", "name"}},

	// As MLflow 3.12.0 (validate_can_list/modify_workspace_permission, sender_is_admin);
	// the handlers check their parameters after access, as MLflow does.
	v1.WorkspaceService_ListWorkspacePermissions_FullMethodName:     {accessWorkspaceManager, nil},
	v1.WorkspaceService_SetWorkspacePermission_FullMethodName:       {accessWorkspaceManager, nil},
	v1.WorkspaceService_DeleteWorkspacePermission_FullMethodName:    {accessWorkspaceManager, nil},
	v1.WorkspaceService_ListUserWorkspacePermissions_FullMethodName: {accessAdmin, nil},

	v1.AuthorizationService_Check_FullMethodName: {accessSelf, []string{"username", "capability", "resource_type", "resource_id"}},
}

var errPermissionDenied = apiError(codePermissionDenied, "Permission denied")

// authorizeUnary is the interceptor that enforces policies. The gRPC server runs
// it, and so does the in-process connection the REST gateway calls through.
// It also bounds each call, so a database that stops answering yields
// TEMPORARILY_UNAVAILABLE instead of a request that hangs.
func (c *core) authorizeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, cancel := withCallBound(ctx, c.callTimeout)
	defer cancel()
	ctx, err := c.authorize(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// authorizeStream is authorizeUnary for streaming calls, without the time
// bound (a health Watch lasts). A stream has no one request, so a rule that
// reads the request refuses it; the streams served today are public.
func (c *core) authorizeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := c.authorize(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return err
	}
	return handler(srv, withStreamContext(ss, ctx))
}

// authorize authenticates the caller and applies the method's rule, returning a
// context that carries the Principal.
func (c *core) authorize(ctx context.Context, method string, req any) (context.Context, error) {
	r, ok := policies[method]
	if !ok || r.access == accessDenied {
		slog.WarnContext(ctx, "refused an RPC that has no policy", "method", method)
		return nil, errPermissionDenied
	}
	if r.access == accessPublic {
		return ctx, nil
	}
	p, err := c.auth.authenticateMetadata(ctx)
	if err != nil {
		return nil, err
	}
	setLogUser(ctx, p.User.Username)
	ctx = context.WithValue(ctx, principalKey{}, p)
	if ctx, err = withWorkspace(ctx); err != nil {
		return nil, err
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return nil, errPermissionDenied
	}
	if err := checkRequired(msg, r.required); err != nil {
		return nil, err
	}
	if err := checkFields(msg); err != nil {
		return nil, err
	}
	var res permission.Resource
	if r.access == accessManage {
		if res, err = resourceOf(msg); err != nil {
			return nil, err
		}
	}
	d := decision.Decision{Principal: principalOf(p), Action: method, Group: groupOf(method)}
	allowed, err := c.decide(ctx, p, r.access, msg, res, &d)
	if err != nil {
		return nil, err
	}
	if d.Allowed = allowed; !allowed {
		d.Reason = refusalReasons[r.access]
	}
	c.decided(ctx, d)
	if !allowed {
		return nil, errPermissionDenied
	}
	return ctx, nil
}

// decide applies rule to the authenticated caller p, recording in d what it
// checked and what let them in.
func (c *core) decide(ctx context.Context, p Principal, rule access, msg proto.Message, res permission.Resource, d *decision.Decision) (bool, error) {
	named, hasName := msg.(interface{ GetUsername() string })
	if (rule == accessSelf || rule == accessSelfUncapped) && hasName {
		d.Resources = append(d.Resources, decision.Resource{Type: "user", ID: named.GetUsername()})
	}
	if p.User.IsAdmin {
		if res.Type != "" {
			d.Resources = append(d.Resources, decision.Resource{Type: string(res.Type), ID: res.ID, Workspace: workspace.From(ctx)})
		}
		d.Reason = "admin"
		return true, nil
	}
	switch rule {
	case accessAnyUser:
		d.Reason = "any user"
		return true, nil
	case accessSelf, accessSelfUncapped:
		if rule == accessSelfUncapped && p.Ceiling != "" {
			break
		}
		if hasName && named.GetUsername() == p.User.Username {
			d.Reason = "own user"
			return true, nil
		}
	case accessManage:
		if err := perUser(res); err != nil {
			return false, err // only a revoke gets here with such an id; MLflow's MANAGE check refuses it so
		}
		return c.canManage(ctx, p, res, d)
	case accessWorkspaceManager:
		if ws, ok := msg.(interface{ GetWorkspaceName() string }); ok {
			return c.canManage(workspace.With(ctx, ws.GetWorkspaceName()), p, workspace.Resource, d)
		}
	case accessRoleViewer:
		role, ok, err := c.roleResource(ctx, msg)
		if err != nil {
			return false, err
		}
		if ok {
			d.Resources = append(d.Resources, role)
			holds, err := c.roles.HoldsRoleIn(ctx, p.User.ID, role.Workspace)
			if err != nil {
				return false, internalError(ctx, err)
			}
			if holds {
				d.Reason = "holds a role in the workspace"
				return true, nil
			}
		}
	}
	return false, nil
}

// canManage reports whether p holds MANAGE on res, as the one resolver decides
// it (within p's token ceiling), recording the check in d.
func (c *core) canManage(ctx context.Context, p Principal, res permission.Resource, d *decision.Decision) (bool, error) {
	rd, err := c.resolver.Decision(ctx, p.User, res)
	if err != nil {
		return false, internalError(ctx, err)
	}
	rd.Level = p.capped(rd.Level)
	d.Required = permission.Manage
	d.Checked(res, workspace.From(ctx), rd)
	return rd.Level.CanManage(), nil
}

// refusalReasons say, for the audit trail, what a refused caller lacked.
var refusalReasons = map[access]string{
	accessSelf:             "not their own user",
	accessSelfUncapped:     "not their own user, or a capped token",
	accessManage:           "no MANAGE on the resource",
	accessAdmin:            "not an admin",
	accessRoleViewer:       "holds no role in the workspace",
	accessWorkspaceManager: "no MANAGE on the workspace",
}

// checkRequired fails for the first named field that is absent or empty.
func checkRequired(msg proto.Message, names []string) error {
	m := msg.ProtoReflect()
	for _, name := range names {
		fd := m.Descriptor().Fields().ByTextName(name)
		if fd == nil || !m.Has(fd) {
			return missingParameter(name)
		}
	}
	return nil
}

// resourceOf names the resource a permission request is about, within
// checkResource's bounds. The scorer case comes first: scorer requests also carry
// an experiment id.
func resourceOf(msg proto.Message) (permission.Resource, error) {
	var res permission.Resource
	switch r := msg.(type) {
	case interface{ GetScorerName() string }:
		res = permission.ScorerResource(msg.(interface{ GetExperimentId() string }).GetExperimentId(), r.GetScorerName())
	case interface {
		GetResourceType() string
		GetResourceId() string
	}:
		// MLflow's revoke checks the type only: an id its grain never stores is
		// simply not found. Its get has no lookup for such an id, and says so.
		_, revoke := msg.(*v1.RevokePermissionRequest)
		_, get := msg.(*v1.GetUserPermissionRequest)
		var err error
		if res, err = parseResource(r.GetResourceType(), r.GetResourceId(), !revoke && !get); err != nil {
			return res, err
		}
		if err := perUser(res); get && err != nil {
			return res, err
		}
	default:
		var ok bool
		if res, ok = classicResource(msg); !ok {
			return res, errPermissionDenied // a manage rule on a request with no resource: refuse
		}
	}
	return res, checkResource(res)
}

// classicResource is the resource a classic call names by its one parameter
// (experiment_id, name, secret_id, ...), as permission.Types lists them.
func classicResource(msg proto.Message) (permission.Resource, bool) {
	m := msg.ProtoReflect()
	for _, t := range permission.Types {
		if len(t.Params) != 1 {
			continue
		}
		if fd := m.Descriptor().Fields().ByName(protoreflect.Name(t.Params[0])); fd != nil && fd.Kind() == protoreflect.StringKind {
			id, err := t.Canonical(m.Get(fd).String())
			return permission.Resource{Type: t.Type, ID: id}, err == nil
		}
	}
	return permission.Resource{}, false
}

// perUser is MLflow's refusal of an id on a type whose grants name only "*",
// by the users/permissions calls that look one up; nil for any other resource.
func perUser(res permission.Resource) error {
	if info, _ := permission.Lookup(string(res.Type)); info.PerID || res.ID == permission.Wildcard {
		return nil
	}
	return apiError(codeInvalidParameter, "resource_type '%s' is not supported by the per-user permission convenience APIs.", res.Type)
}

// parseResource validates a (resource_type, resource_id) pair of the 3.x API
// against its type's row (grain when asked, canonical id).
func parseResource(typ, id string, grain bool) (permission.Resource, error) {
	t, err := permission.ParseResourceType(typ)
	if err != nil {
		return permission.Resource{}, apiError(codeInvalidParameter, "%s", err.Error())
	}
	info, _ := permission.Lookup(string(t))
	if err := info.CheckPattern(id); err != nil && grain {
		return permission.Resource{}, apiError(codeInvalidParameter, "%s", err.Error())
	}
	if id, err = info.Canonical(id); err != nil {
		return permission.Resource{}, apiError(codeInvalidParameter, "%s", err.Error())
	}
	return permission.Resource{Type: t, ID: id}, nil
}

// effectiveLevel is u's permission on r, as the one resolver decides it.
func (c *core) effectiveLevel(ctx context.Context, u storage.User, r permission.Resource) (permission.Level, error) {
	l, err := c.resolver.Level(ctx, u, r)
	if err != nil {
		return "", internalError(ctx, err)
	}
	return l, nil
}

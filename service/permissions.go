package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

type permissionService struct {
	v1.UnimplementedPermissionServiceServer
	*core
}

// grantRequest is any request that names a user and (see resourceOf) a resource.
type grantRequest interface {
	proto.Message
	GetUsername() string
}

// leveledRequest also carries a permission level.
type leveledRequest interface {
	grantRequest
	GetPermission() string
}

// grantMessages words the not-found and already-exists errors of a grant as MLflow
// does, registered models naming the request's workspace.
func grantMessages(ctx context.Context, r permission.Resource, username string) (notFound, exists string) {
	id, username := quoted(r.ID), quoted(username)
	if t, _ := permission.Lookup(string(r.Type)); t.Label != "" {
		return fmt.Sprintf("%s permission with %s=%s and username=%s not found", t.Label, t.Params[0], id, username),
			fmt.Sprintf("%s permission (%s=%s, username=%s) already exists.", t.Label, t.Params[0], id, username)
	}
	switch r.Type {
	case permission.RegisteredModel:
		ws := workspace.From(ctx)
		return fmt.Sprintf("Registered model permission with workspace=%s, name=%s and username=%s not found", ws, id, username),
			fmt.Sprintf("Registered model permission (workspace=%s, name=%s, username=%s) already exists.", ws, id, username)
	case permission.Scorer:
		experimentID, name, _ := permission.SplitScorerID(r.ID)
		experimentID, name = quoted(experimentID), quoted(name)
		return fmt.Sprintf("Scorer permission with experiment_id=%s, scorer_name=%s and username=%s not found", experimentID, name, username),
			fmt.Sprintf("Scorer permission (experiment_id=%s, scorer_name=%s, username=%s) already exists.", experimentID, name, username)
	}
	return fmt.Sprintf("Permission on %s '%s' for username=%s not found", r.Type, id, username),
		fmt.Sprintf("Permission on %s '%s' for username=%s already exists.", r.Type, id, username)
}

// parseLevel validates a permission name; the 3.x grant call refuses NO_PERMISSIONS
// (revoke instead), the classic calls accept it.
func parseLevel(name string, allowNone bool) (permission.Level, error) {
	l, err := permission.ParseLevel(name)
	if err == nil && l == permission.NoPermissions && !allowNone {
		err = fmt.Errorf("Invalid permission '%s': grant READ, USE, EDIT or MANAGE, or revoke the grant.", quoted(name))
	}
	if err != nil {
		return "", apiError(codeInvalidParameter, "%s", err.Error())
	}
	return l, nil
}

// target resolves the user and the resource of a grant request.
func (c *core) target(ctx context.Context, req grantRequest) (storage.User, permission.Resource, error) {
	r, err := resourceOf(req)
	if err != nil {
		return storage.User{}, r, err
	}
	u, err := c.store.UserByName(ctx, req.GetUsername())
	if err != nil {
		return u, r, storageError(ctx, err, userNotFound(req.GetUsername()), "")
	}
	return u, r, nil
}

func (c *core) createGrant(ctx context.Context, req leveledRequest, allowNone bool) (storage.Grant, error) {
	l, err := parseLevel(req.GetPermission(), allowNone)
	if err != nil {
		return storage.Grant{}, err
	}
	u, r, err := c.target(ctx, req)
	if err != nil {
		return storage.Grant{}, err
	}
	after := grantValue{Username: u.Username, Permission: string(l)}
	g, err := c.store.CreateGrant(grantChange(ctx, "grant.create", r, nil, after), u.ID, r, l)
	if err != nil {
		_, exists := grantMessages(ctx, r, u.Username)
		return g, storageError(ctx, err, userNotFound(u.Username), exists)
	}
	return g, nil
}

func (c *core) readGrant(ctx context.Context, req grantRequest) (storage.Grant, error) {
	u, r, err := c.target(ctx, req)
	if err != nil {
		return storage.Grant{}, err
	}
	g, err := c.store.Grant(ctx, u.ID, r)
	if err != nil {
		notFound, _ := grantMessages(ctx, r, u.Username)
		return g, storageError(ctx, err, notFound, "")
	}
	return g, nil
}

func (c *core) updateGrant(ctx context.Context, req leveledRequest) error {
	l, err := parseLevel(req.GetPermission(), true)
	if err != nil {
		return err
	}
	u, r, err := c.target(ctx, req)
	if err != nil {
		return err
	}
	notFound, _ := grantMessages(ctx, r, u.Username)
	old, err := c.store.Grant(ctx, u.ID, r)
	if err != nil {
		return storageError(ctx, err, notFound, "")
	}
	before := grantValue{Username: u.Username, Permission: string(old.Level)}
	after := grantValue{Username: u.Username, Permission: string(l)}
	if _, err := c.store.UpdateGrant(grantChange(ctx, "grant.update", r, before, after), u.ID, r, l); err != nil {
		return storageError(ctx, err, notFound, "")
	}
	return nil
}

func (c *core) deleteGrant(ctx context.Context, req grantRequest) error {
	u, r, err := c.target(ctx, req)
	if err != nil {
		return err
	}
	notFound, _ := grantMessages(ctx, r, u.Username)
	if _, revoke := req.(*v1.RevokePermissionRequest); revoke { // 3.13+'s call, 3.13+'s words
		notFound = fmt.Sprintf("Permission for user=%s on resource_type=%s, resource_id=%s not found.", quoted(u.Username), r.Type, quoted(r.ID))
	}
	old, err := c.store.Grant(ctx, u.ID, r)
	if err != nil {
		return storageError(ctx, err, notFound, "")
	}
	before := grantValue{Username: u.Username, Permission: string(old.Level)}
	if err := c.store.DeleteGrant(grantChange(ctx, "grant.delete", r, before, nil), u.ID, r); err != nil {
		return storageError(ctx, err, notFound, "")
	}
	return nil
}

// done answers an update, delete, grant or revoke: MLflow's empty object, or the error.
func done[T any](err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return new(T), nil
}

func experimentPermission(g storage.Grant) *v1.ExperimentPermission {
	return &v1.ExperimentPermission{ExperimentId: g.Resource.ID, UserId: g.UserID, Permission: string(g.Level)}
}

func registeredModelPermission(g storage.Grant) *v1.RegisteredModelPermission {
	return &v1.RegisteredModelPermission{Workspace: "default", Name: g.Resource.ID, UserId: g.UserID, Permission: string(g.Level)}
}

func scorerPermission(g storage.Grant) *v1.ScorerPermission {
	experimentID, name, _ := permission.SplitScorerID(g.Resource.ID)
	return &v1.ScorerPermission{ExperimentId: experimentID, ScorerName: name, UserId: g.UserID, Permission: string(g.Level)}
}

func (s *permissionService) CreateExperimentPermission(ctx context.Context, req *v1.CreateExperimentPermissionRequest) (*v1.CreateExperimentPermissionResponse, error) {
	g, err := s.createGrant(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return &v1.CreateExperimentPermissionResponse{ExperimentPermission: experimentPermission(g)}, nil
}

func (s *permissionService) GetExperimentPermission(ctx context.Context, req *v1.GetExperimentPermissionRequest) (*v1.GetExperimentPermissionResponse, error) {
	g, err := s.readGrant(ctx, req)
	if err != nil {
		return nil, err
	}
	return &v1.GetExperimentPermissionResponse{ExperimentPermission: experimentPermission(g)}, nil
}

func (s *permissionService) UpdateExperimentPermission(ctx context.Context, req *v1.UpdateExperimentPermissionRequest) (*v1.UpdateExperimentPermissionResponse, error) {
	return done[v1.UpdateExperimentPermissionResponse](s.updateGrant(ctx, req))
}

func (s *permissionService) DeleteExperimentPermission(ctx context.Context, req *v1.DeleteExperimentPermissionRequest) (*v1.DeleteExperimentPermissionResponse, error) {
	return done[v1.DeleteExperimentPermissionResponse](s.deleteGrant(ctx, req))
}

func (s *permissionService) CreateRegisteredModelPermission(ctx context.Context, req *v1.CreateRegisteredModelPermissionRequest) (*v1.CreateRegisteredModelPermissionResponse, error) {
	g, err := s.createGrant(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return &v1.CreateRegisteredModelPermissionResponse{RegisteredModelPermission: registeredModelPermission(g)}, nil
}

func (s *permissionService) GetRegisteredModelPermission(ctx context.Context, req *v1.GetRegisteredModelPermissionRequest) (*v1.GetRegisteredModelPermissionResponse, error) {
	g, err := s.readGrant(ctx, req)
	if err != nil {
		return nil, err
	}
	return &v1.GetRegisteredModelPermissionResponse{RegisteredModelPermission: registeredModelPermission(g)}, nil
}

func (s *permissionService) UpdateRegisteredModelPermission(ctx context.Context, req *v1.UpdateRegisteredModelPermissionRequest) (*v1.UpdateRegisteredModelPermissionResponse, error) {
	return done[v1.UpdateRegisteredModelPermissionResponse](s.updateGrant(ctx, req))
}

func (s *permissionService) DeleteRegisteredModelPermission(ctx context.Context, req *v1.DeleteRegisteredModelPermissionRequest) (*v1.DeleteRegisteredModelPermissionResponse, error) {
	return done[v1.DeleteRegisteredModelPermissionResponse](s.deleteGrant(ctx, req))
}

func (s *permissionService) CreateScorerPermission(ctx context.Context, req *v1.CreateScorerPermissionRequest) (*v1.CreateScorerPermissionResponse, error) {
	g, err := s.createGrant(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return &v1.CreateScorerPermissionResponse{ScorerPermission: scorerPermission(g)}, nil
}

func (s *permissionService) GetScorerPermission(ctx context.Context, req *v1.GetScorerPermissionRequest) (*v1.GetScorerPermissionResponse, error) {
	g, err := s.readGrant(ctx, req)
	if err != nil {
		return nil, err
	}
	return &v1.GetScorerPermissionResponse{ScorerPermission: scorerPermission(g)}, nil
}

func (s *permissionService) UpdateScorerPermission(ctx context.Context, req *v1.UpdateScorerPermissionRequest) (*v1.UpdateScorerPermissionResponse, error) {
	return done[v1.UpdateScorerPermissionResponse](s.updateGrant(ctx, req))
}

func (s *permissionService) DeleteScorerPermission(ctx context.Context, req *v1.DeleteScorerPermissionRequest) (*v1.DeleteScorerPermissionResponse, error) {
	return done[v1.DeleteScorerPermissionResponse](s.deleteGrant(ctx, req))
}

func (s *permissionService) GrantPermission(ctx context.Context, req *v1.GrantPermissionRequest) (*v1.GrantPermissionResponse, error) {
	_, err := s.createGrant(ctx, req, false)
	return done[v1.GrantPermissionResponse](err)
}

func (s *permissionService) RevokePermission(ctx context.Context, req *v1.RevokePermissionRequest) (*v1.RevokePermissionResponse, error) {
	return done[v1.RevokePermissionResponse](s.deleteGrant(ctx, req))
}

func (s *permissionService) GetUserPermission(ctx context.Context, req *v1.GetUserPermissionRequest) (*v1.GetUserPermissionResponse, error) {
	u, r, err := s.target(ctx, req)
	if err != nil {
		return nil, err
	}
	l, err := s.effectiveLevel(ctx, u, r)
	if err != nil {
		return nil, err
	}
	return &v1.GetUserPermissionResponse{Allowed: l.CanUse(), Permission: string(l)}, nil
}

func (s *permissionService) ListUserPermissions(ctx context.Context, req *v1.ListUserPermissionsRequest) (*v1.ListUserPermissionsResponse, error) {
	u, err := s.store.UserByName(ctx, req.Username)
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	rows, err := s.userPermissions(ctx, u)
	if err != nil {
		return nil, err
	}
	return &v1.ListUserPermissionsResponse{IsAdmin: u.IsAdmin, Permissions: rows}, nil
}

func (s *permissionService) ListCurrentUserPermissions(ctx context.Context, _ *v1.ListCurrentUserPermissionsRequest) (*v1.ListCurrentUserPermissionsResponse, error) {
	u := principalFrom(ctx).User
	rows, err := s.userPermissions(ctx, u)
	if err != nil {
		return nil, err
	}
	return &v1.ListCurrentUserPermissionsResponse{IsAdmin: u.IsAdmin, Permissions: rows}, nil
}

// userPermissions lists the permissions of every role a user holds, direct
// grants included, in MLflow 3.17.2's row shape.
func (c *core) userPermissions(ctx context.Context, u storage.User) ([]*v1.UserPermission, error) {
	roles, err := c.userRolesOf(ctx, u)
	if err != nil {
		return nil, err
	}
	rows := []*v1.UserPermission{}
	for _, r := range roles {
		for _, p := range r.Permissions {
			rows = append(rows, &v1.UserPermission{RoleId: r.Id, RoleName: r.Name, Workspace: r.Workspace, ResourceType: p.ResourceType, ResourcePattern: p.ResourcePattern, Permission: p.Permission})
		}
	}
	return rows, nil
}

func (s *permissionService) ListResourcePermissions(ctx context.Context, req *v1.ListResourcePermissionsRequest) (*v1.ListResourcePermissionsResponse, error) {
	r, err := resourceOf(req)
	if err != nil {
		return nil, err
	}
	after, limit, err := pageRequest[int32](req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	grants, err := s.store.GrantsOnResource(ctx, r, after, fetchSize(limit))
	if err != nil {
		return nil, internalError(ctx, err)
	}
	var everyOne []storage.Grant // direct grants on all of r's type
	if r.ID != permission.Wildcard {
		if everyOne, err = s.store.GrantsOnResource(ctx, permission.Resource{Type: r.Type, ID: permission.Wildcard}, after, fetchSize(limit)); err != nil {
			return nil, internalError(ctx, err)
		}
	}
	holders, err := s.roles.RoleHoldersOf(ctx, workspace.From(ctx), r, after, fetchSize(limit))
	if err != nil {
		return nil, internalError(ctx, err)
	}
	// Each list is in user id order and holds at least the first limit+1 users
	// of its kind, so sorted together their first limit users are the page's. A
	// user's direct grant comes before their grant on "*", then their roles'.
	rows := make([]*v1.ResourcePermission, 0, len(grants)+len(everyOne)+len(holders))
	for _, g := range append(grants, everyOne...) {
		rows = append(rows, &v1.ResourcePermission{UserId: g.UserID, Username: g.Username, Permission: string(g.Level), ResourcePattern: g.Resource.ID})
	}
	for _, h := range holders {
		rows = append(rows, &v1.ResourcePermission{UserId: h.UserID, Username: h.Username, Permission: string(h.Level), Role: h.RoleName, RoleId: h.RoleID, ResourcePattern: h.Pattern})
	}
	slices.SortStableFunc(rows, func(a, b *v1.ResourcePermission) int { return cmp.Compare(a.UserId, b.UserId) })
	resp := &v1.ListResourcePermissionsResponse{Permissions: rows}
	for k, users := 0, 0; k < len(rows); k++ {
		if k > 0 && rows[k].UserId == rows[k-1].UserId {
			continue
		}
		if users++; users > limit {
			resp.Permissions, resp.NextPageToken = rows[:k], pageToken(rows[k-1].UserId)
			break
		}
	}
	return resp, nil
}

package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// workspaceService is MLflow 3.12.0's workspace permission API. A workspace
// permission is the user's direct grant on workspace.Resource inside that
// workspace, so the resolver reads it like any other grant.
type workspaceService struct {
	v1.UnimplementedWorkspaceServiceServer
	*core
}

// user finds a user by name with MLflow's not-found message.
func (s *workspaceService) user(ctx context.Context, username string) (storage.User, error) {
	return (&roleService{core: s.core}).user(ctx, username)
}

func workspaceMessage(name string, g storage.Grant) *v1.WorkspacePermission {
	return &v1.WorkspacePermission{Workspace: name, UserId: g.UserID, Permission: string(g.Level), CanUse: g.Level.CanUse()}
}

func (s *workspaceService) ListWorkspacePermissions(ctx context.Context, req *v1.ListWorkspacePermissionsRequest) (*v1.ListWorkspacePermissionsResponse, error) {
	grants, err := s.store.GrantsOnResource(workspace.With(ctx, req.WorkspaceName), workspace.Resource, 0, 0)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	resp := &v1.ListWorkspacePermissionsResponse{Permissions: []*v1.WorkspacePermission{}}
	for _, g := range grants {
		resp.Permissions = append(resp.Permissions, workspaceMessage(req.WorkspaceName, g))
	}
	return resp, nil
}

// SetWorkspacePermission checks the payload as MLflow 3.12 does, after access
// (its validator runs first), with its own wording for missing keys.
func (s *workspaceService) SetWorkspacePermission(ctx context.Context, req *v1.SetWorkspacePermissionRequest) (*v1.SetWorkspacePermissionResponse, error) {
	var missing []string
	if req.Permission == "" {
		missing = append(missing, "permission")
	}
	if req.Username == "" {
		missing = append(missing, "username")
	}
	if len(missing) > 0 {
		return nil, apiError(codeInvalidParameter, "Workspace permission payload missing keys: %s", strings.Join(missing, ", "))
	}
	level, err := permission.ParseLevel(req.Permission)
	if err != nil {
		return nil, apiError(codeInvalidParameter, "%s", err.Error())
	}
	u, err := s.user(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	in := workspace.With(ctx, req.WorkspaceName)
	after := grantValue{Username: u.Username, Permission: string(level)}
	// Read first: an update's audit row keeps the level before.
	old, err := s.store.Grant(in, u.ID, workspace.Resource)
	var g storage.Grant
	if err == nil {
		before := grantValue{Username: u.Username, Permission: string(old.Level)}
		g, err = s.store.UpdateGrant(grantChange(in, "workspace_permission.update", workspace.Resource, before, after), u.ID, workspace.Resource, level)
	}
	if errors.Is(err, storage.ErrNotFound) {
		g, err = s.store.CreateGrant(grantChange(in, "workspace_permission.create", workspace.Resource, nil, after), u.ID, workspace.Resource, level)
	}
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	return &v1.SetWorkspacePermissionResponse{Permission: workspaceMessage(req.WorkspaceName, g)}, nil
}

// DeleteWorkspacePermission answers REST with 204 and no body, as MLflow does
// (see gatewayStatus).
func (s *workspaceService) DeleteWorkspacePermission(ctx context.Context, req *v1.DeleteWorkspacePermissionRequest) (*v1.DeleteWorkspacePermissionResponse, error) {
	if req.Username == "" {
		return nil, missingParameter("username")
	}
	u, err := s.user(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	in := workspace.With(ctx, req.WorkspaceName)
	missing := fmt.Sprintf("Workspace permission does not exist for workspace='%s', username='%s'", req.WorkspaceName, req.Username)
	old, err := s.store.Grant(in, u.ID, workspace.Resource)
	if err != nil {
		return nil, storageError(ctx, err, missing, "")
	}
	before := grantValue{Username: u.Username, Permission: string(old.Level)}
	if err := s.store.DeleteGrant(grantChange(in, "workspace_permission.delete", workspace.Resource, before, nil), u.ID, workspace.Resource); err != nil {
		return nil, storageError(ctx, err, missing, "")
	}
	grpc.SetHeader(ctx, metadata.Pairs(httpStatusKey, "204"))
	return &v1.DeleteWorkspacePermissionResponse{}, nil
}

func (s *workspaceService) ListUserWorkspacePermissions(ctx context.Context, req *v1.ListUserWorkspacePermissionsRequest) (*v1.ListUserWorkspacePermissionsResponse, error) {
	if req.Username == "" {
		return nil, missingParameter("username")
	}
	u, err := s.user(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	grants, err := s.store.GrantsInEveryWorkspace(ctx, u.ID, workspace.Resource)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	resp := &v1.ListUserWorkspacePermissionsResponse{Permissions: []*v1.WorkspacePermission{}}
	for _, g := range grants {
		resp.Permissions = append(resp.Permissions, workspaceMessage(cmp.Or(g.Workspace, workspace.Default), g))
	}
	return resp, nil
}

package service

import (
	"context"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// MLflow 3.12's gateway permission calls: the same direct grants as the unified
// calls on gateway_secret, gateway_endpoint and gateway_model_definition.

func gatewaySecretPermission(g storage.Grant) *v1.GatewaySecretPermission {
	return &v1.GatewaySecretPermission{SecretId: g.Resource.ID, UserId: g.UserID, Permission: string(g.Level)}
}

func (s *permissionService) CreateGatewaySecretPermission(ctx context.Context, req *v1.CreateGatewaySecretPermissionRequest) (*v1.CreateGatewaySecretPermissionResponse, error) {
	g, err := s.createGrant(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return &v1.CreateGatewaySecretPermissionResponse{GatewaySecretPermission: gatewaySecretPermission(g)}, nil
}

func (s *permissionService) GetGatewaySecretPermission(ctx context.Context, req *v1.GetGatewaySecretPermissionRequest) (*v1.GetGatewaySecretPermissionResponse, error) {
	g, err := s.readGrant(ctx, req)
	if err != nil {
		return nil, err
	}
	return &v1.GetGatewaySecretPermissionResponse{GatewaySecretPermission: gatewaySecretPermission(g)}, nil
}

func (s *permissionService) UpdateGatewaySecretPermission(ctx context.Context, req *v1.UpdateGatewaySecretPermissionRequest) (*v1.UpdateGatewaySecretPermissionResponse, error) {
	return done[v1.UpdateGatewaySecretPermissionResponse](s.updateGrant(ctx, req))
}

func (s *permissionService) DeleteGatewaySecretPermission(ctx context.Context, req *v1.DeleteGatewaySecretPermissionRequest) (*v1.DeleteGatewaySecretPermissionResponse, error) {
	return done[v1.DeleteGatewaySecretPermissionResponse](s.deleteGrant(ctx, req))
}

func gatewayEndpointPermission(g storage.Grant) *v1.GatewayEndpointPermission {
	return &v1.GatewayEndpointPermission{EndpointId: g.Resource.ID, UserId: g.UserID, Permission: string(g.Level)}
}

func (s *permissionService) CreateGatewayEndpointPermission(ctx context.Context, req *v1.CreateGatewayEndpointPermissionRequest) (*v1.CreateGatewayEndpointPermissionResponse, error) {
	g, err := s.createGrant(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return &v1.CreateGatewayEndpointPermissionResponse{GatewayEndpointPermission: gatewayEndpointPermission(g)}, nil
}

func (s *permissionService) GetGatewayEndpointPermission(ctx context.Context, req *v1.GetGatewayEndpointPermissionRequest) (*v1.GetGatewayEndpointPermissionResponse, error) {
	g, err := s.readGrant(ctx, req)
	if err != nil {
		return nil, err
	}
	return &v1.GetGatewayEndpointPermissionResponse{GatewayEndpointPermission: gatewayEndpointPermission(g)}, nil
}

func (s *permissionService) UpdateGatewayEndpointPermission(ctx context.Context, req *v1.UpdateGatewayEndpointPermissionRequest) (*v1.UpdateGatewayEndpointPermissionResponse, error) {
	return done[v1.UpdateGatewayEndpointPermissionResponse](s.updateGrant(ctx, req))
}

func (s *permissionService) DeleteGatewayEndpointPermission(ctx context.Context, req *v1.DeleteGatewayEndpointPermissionRequest) (*v1.DeleteGatewayEndpointPermissionResponse, error) {
	return done[v1.DeleteGatewayEndpointPermissionResponse](s.deleteGrant(ctx, req))
}

func gatewayModelDefinitionPermission(g storage.Grant) *v1.GatewayModelDefinitionPermission {
	return &v1.GatewayModelDefinitionPermission{ModelDefinitionId: g.Resource.ID, UserId: g.UserID, Permission: string(g.Level)}
}

func (s *permissionService) CreateGatewayModelDefinitionPermission(ctx context.Context, req *v1.CreateGatewayModelDefinitionPermissionRequest) (*v1.CreateGatewayModelDefinitionPermissionResponse, error) {
	g, err := s.createGrant(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return &v1.CreateGatewayModelDefinitionPermissionResponse{GatewayModelDefinitionPermission: gatewayModelDefinitionPermission(g)}, nil
}

func (s *permissionService) GetGatewayModelDefinitionPermission(ctx context.Context, req *v1.GetGatewayModelDefinitionPermissionRequest) (*v1.GetGatewayModelDefinitionPermissionResponse, error) {
	g, err := s.readGrant(ctx, req)
	if err != nil {
		return nil, err
	}
	return &v1.GetGatewayModelDefinitionPermissionResponse{GatewayModelDefinitionPermission: gatewayModelDefinitionPermission(g)}, nil
}

func (s *permissionService) UpdateGatewayModelDefinitionPermission(ctx context.Context, req *v1.UpdateGatewayModelDefinitionPermissionRequest) (*v1.UpdateGatewayModelDefinitionPermissionResponse, error) {
	return done[v1.UpdateGatewayModelDefinitionPermissionResponse](s.updateGrant(ctx, req))
}

func (s *permissionService) DeleteGatewayModelDefinitionPermission(ctx context.Context, req *v1.DeleteGatewayModelDefinitionPermissionRequest) (*v1.DeleteGatewayModelDefinitionPermissionResponse, error) {
	return done[v1.DeleteGatewayModelDefinitionPermissionResponse](s.deleteGrant(ctx, req))
}

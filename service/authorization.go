package service

import (
	"context"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

type authorizationService struct {
	v1.UnimplementedAuthorizationServiceServer
	*core
}

func (s *authorizationService) Check(ctx context.Context, req *v1.CheckRequest) (*v1.CheckResponse, error) {
	capability, err := permission.ParseCapability(req.Capability)
	if err != nil {
		return nil, apiError(codeInvalidParameter, "%s", err.Error())
	}
	u, r, err := s.target(ctx, req)
	if err != nil {
		return nil, err
	}
	d, err := s.resolver.Decision(ctx, u, r)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	return &v1.CheckResponse{Allowed: d.Level.Allows(capability), Permission: string(d.Level), DecidedBy: string(d.By), Role: d.Role}, nil
}

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
	l, err := s.effectiveLevel(ctx, u, r)
	if err != nil {
		return nil, err
	}
	return &v1.CheckResponse{Allowed: l.Allows(capability), Permission: string(l)}, nil
}

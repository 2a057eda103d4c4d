package service

import (
	"context"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Service accounts are users without a password: they sign in only with the
// tokens an admin makes for them (TokenService), and their grants and roles are
// any user's. The RPCs are UserService's, admins only (policy.go).

const msgServiceAccountPassword = "Service accounts have no password: they sign in with access tokens."

func serviceAccountNotFound(username string) string {
	return "Service account with username=" + quoted(username) + " not found"
}

func (s *userService) CreateServiceAccount(ctx context.Context, req *v1.CreateServiceAccountRequest) (*v1.CreateServiceAccountResponse, error) {
	if err := validateUsername(req.Username); err != nil {
		return nil, err
	}
	after := userValue{Username: req.Username, ServiceAccount: true}
	u, err := s.store.CreateServiceAccount(userChange(ctx, "service_account.create", req.Username, nil, after), req.Username)
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "User (username="+quoted(req.Username)+") already exists.")
	}
	return &v1.CreateServiceAccountResponse{User: userMessage(u, nil)}, nil
}

func (s *userService) ListServiceAccounts(ctx context.Context, req *v1.ListServiceAccountsRequest) (*v1.ListServiceAccountsResponse, error) {
	after, limit, err := pageRequest[int32](req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	users, err := s.store.ListServiceAccounts(ctx, after, fetchSize(limit))
	if err != nil {
		return nil, internalError(ctx, err)
	}
	resp := &v1.ListServiceAccountsResponse{Users: []*v1.User{}}
	users, resp.NextPageToken = trimPage(users, limit, func(u storage.User) int32 { return u.ID })
	byUser, err := s.grantsByUser(ctx, users)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		m := userMessage(u, byUser[u.ID])
		if m.Roles, err = s.userRoles(ctx, u, byUser[u.ID]); err != nil {
			return nil, err
		}
		resp.Users = append(resp.Users, m)
	}
	return resp, nil
}

func (s *userService) DeleteServiceAccount(ctx context.Context, req *v1.DeleteServiceAccountRequest) (*v1.DeleteServiceAccountResponse, error) {
	// A user's kind never changes, so the check holds for the delete.
	u, err := s.store.UserByName(ctx, req.Username)
	if err == nil && !u.IsServiceAccount {
		err = storage.ErrNotFound
	}
	var before deletedUserValue
	if err == nil {
		before, err = s.deletedUser(ctx, u)
	}
	if err == nil {
		err = s.store.DeleteUser(userChange(ctx, "service_account.delete", req.Username, before, nil), req.Username)
	}
	if err != nil {
		return nil, storageError(ctx, err, serviceAccountNotFound(req.Username), "")
	}
	return &v1.DeleteServiceAccountResponse{}, nil
}

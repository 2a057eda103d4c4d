package service

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/metrics"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// core is what both services share: the store, the authenticator and the settings.
type core struct {
	store  storage.Store
	roles  storage.Roles
	tokens storage.Tokens
	audit  storage.Audit
	auth   *authenticator
	// tokenMaxLifetime is the longest a token may live.
	tokenMaxLifetime time.Duration
	// callTimeout bounds one RPC, database round trips included.
	callTimeout time.Duration
	resolver    *resolve.Resolver
	metrics     *metrics.Metrics
}

type userService struct {
	v1.UnimplementedUserServiceServer
	*core
}

const (
	minPasswordLen    = 12
	maxPageSize       = 1000
	msgPasswordLength = "Password must be a string longer than 12 characters."
)

func userNotFound(username string) string {
	return "User with username=" + quoted(username) + " not found"
}

// validateUsername allows any printable name that checkText allows without ':'
// (which would make HTTP Basic credentials ambiguous).
func validateUsername(name string) error {
	if err := checkText("username", name, maxIDChars); err != nil {
		return err
	}
	if strings.ContainsRune(name, ':') {
		return apiError(codeInvalidParameter, "Username cannot contain ':'.")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return apiError(codeInvalidParameter, "Username cannot contain control characters.")
	}
	return nil
}

func validatePassword(pw string) error {
	if len([]rune(pw)) < minPasswordLen {
		return apiError(codeInvalidParameter, msgPasswordLength)
	}
	return nil
}

func (s *userService) CreateUser(ctx context.Context, req *v1.CreateUserRequest) (*v1.CreateUserResponse, error) {
	if err := validateUsername(req.Username); err != nil {
		return nil, err
	}
	if err := validatePassword(req.Password); err != nil {
		return nil, err
	}
	hash, err := s.auth.hash(ctx, req.Password)
	if err != nil {
		return nil, cmp.Or(kdfError(ctx, err), internalError(ctx, err))
	}
	no := false
	u, err := s.store.CreateUser(userChange(ctx, "user.create", req.Username, nil, userValue{Username: req.Username, IsAdmin: &no}),
		req.Username, hash, false)
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "User (username="+quoted(req.Username)+") already exists.")
	}
	return &v1.CreateUserResponse{User: userMessage(u, nil)}, nil
}

func (s *userService) GetUser(ctx context.Context, req *v1.GetUserRequest) (*v1.GetUserResponse, error) {
	u, err := s.userWithGrants(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	return &v1.GetUserResponse{User: u}, nil
}

func (s *userService) GetCurrentUser(ctx context.Context, _ *v1.GetCurrentUserRequest) (*v1.GetCurrentUserResponse, error) {
	p := principalFrom(ctx)
	u, err := s.userWithGrants(ctx, p.User.Username)
	if err != nil {
		return nil, err
	}
	return &v1.GetCurrentUserResponse{User: u, IsBasicAuth: p.BasicAuth}, nil
}

func (s *userService) userWithGrants(ctx context.Context, username string) (*v1.User, error) {
	u, err := s.store.UserByName(ctx, username)
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(username), "")
	}
	grants, err := s.store.GrantsOfUsers(ctx, []int32{u.ID})
	if err != nil {
		return nil, internalError(ctx, err)
	}
	m := userMessage(u, grants)
	if m.Roles, err = s.userRoles(ctx, u, grants); err != nil {
		return nil, err
	}
	return m, nil
}

func (s *userService) ListUsers(ctx context.Context, req *v1.ListUsersRequest) (*v1.ListUsersResponse, error) {
	after, limit, err := pageRequest[int32](req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	caller := principalFrom(ctx).User
	roster, err := s.seesRoster(ctx, caller)
	if err != nil {
		return nil, err
	}
	var users []storage.User
	if roster {
		users, err = s.store.ListUsers(ctx, after, fetchSize(limit))
	} else {
		users, err = s.roles.UsersSharingWorkspaces(ctx, caller.ID, after, fetchSize(limit))
	}
	if err != nil {
		return nil, internalError(ctx, err)
	}
	resp := &v1.ListUsersResponse{Users: []*v1.User{}}
	users, resp.NextPageToken = trimPage(users, limit, func(u storage.User) int32 { return u.ID })
	byUser, err := s.grantsByUser(ctx, users)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if !caller.IsAdmin && u.ID != caller.ID {
			// Another's grants and roles stay theirs and the admins'.
			resp.Users = append(resp.Users, userMessage(u, nil))
			continue
		}
		m := userMessage(u, byUser[u.ID])
		if m.Roles, err = s.userRoles(ctx, u, byUser[u.ID]); err != nil {
			return nil, err
		}
		resp.Users = append(resp.Users, m)
	}
	return resp, nil
}

// seesRoster reports whether u lists every user: admins do, and so do the
// managers of the request's workspace, who onboard users into it (MLflow 3.18).
// Anyone else lists the admins, themself and the members of their workspaces,
// as MLflow 3.18 lists a workspace's users to its members.
func (c *core) seesRoster(ctx context.Context, u storage.User) (bool, error) {
	if u.IsAdmin {
		return true, nil
	}
	l, err := c.effectiveLevel(ctx, u, workspace.Resource)
	return l.CanManage(), err
}

func (s *userService) UpdateUserPassword(ctx context.Context, req *v1.UpdateUserPasswordRequest) (*v1.UpdateUserPasswordResponse, error) {
	// Asked first, so a service account's own call is refused as one too. The
	// store's write below still answers for a user deleted in between.
	switch target, err := s.store.UserByName(ctx, req.Username); {
	case err == nil && target.IsServiceAccount:
		return nil, apiError(codeInvalidParameter, msgServiceAccountPassword)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return nil, internalError(ctx, err)
	}
	// As in MLflow 3.17.2, your own password (admin or not) changes only with
	// the present one, checked before the new one.
	if p := principalFrom(ctx); p.User.Username == req.Username {
		if err := s.checkCurrentPassword(ctx, p, req.CurrentPassword); err != nil {
			return nil, err
		}
		if req.Password == req.CurrentPassword {
			return nil, apiError(codeInvalidParameter, "New password must differ from the current password.")
		}
	}
	if err := validatePassword(req.Password); err != nil {
		return nil, err
	}
	hash, err := s.auth.hash(ctx, req.Password)
	if err != nil {
		return nil, cmp.Or(kdfError(ctx, err), internalError(ctx, err))
	}
	// Before names the user only: neither password is ever kept.
	changed := userValue{Username: req.Username, Password: "changed"}
	audited := userChange(ctx, "user.password", req.Username, userValue{Username: req.Username}, changed)
	if err := s.store.SetPasswordHash(audited, req.Username, hash); err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	s.auth.clearThrottle(req.Username) // a new password is a fresh start
	return &v1.UpdateUserPasswordResponse{}, nil
}

// checkCurrentPassword guards a change of one's own password. A wrong
// current_password counts as a failed login and is throttled as one, so that a
// stolen session or token cannot be used to guess the password.
func (s *userService) checkCurrentPassword(ctx context.Context, p Principal, current string) error {
	if current == "" {
		return apiError(codeInvalidParameter, "Current password is required when changing your own password.")
	}
	address, attempt := clientAddress(ctx), loginAttempt{p.User.Username, authMethod(p), p.User.ID, p.TokenID}
	if wait, reason := s.auth.throttled(p.User.Username, address); wait > 0 {
		s.auth.refusedLogin(ctx, attempt, address, reason)
		return tooManyFailures(wait)
	}
	ok, err := s.auth.gatedVerify(ctx, p.User.PasswordHash, current)
	if kdfErr := kdfError(ctx, err); kdfErr != nil {
		return kdfErr
	}
	if !ok {
		s.auth.failed(p.User.Username, address)
		s.auth.refusedLogin(ctx, attempt, address, "wrong current password")
		return apiError(codeInvalidParameter, "Current password does not match.")
	}
	return nil
}

func (s *userService) UpdateUserAdmin(ctx context.Context, req *v1.UpdateUserAdminRequest) (*v1.UpdateUserAdminResponse, error) {
	isAdmin := req.GetIsAdmin()
	old, err := s.store.UserByName(ctx, req.Username)
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	audited := userChange(ctx, "user.admin", req.Username, storage.AuditUserOf(old), userValue{Username: req.Username, IsAdmin: &isAdmin})
	if err := s.store.SetAdmin(audited, req.Username, isAdmin); err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	return &v1.UpdateUserAdminResponse{}, nil
}

func (s *userService) DeleteUser(ctx context.Context, req *v1.DeleteUserRequest) (*v1.DeleteUserResponse, error) {
	if principalFrom(ctx).User.Username == req.Username {
		return nil, apiError(codeBadRequest, "Users cannot delete their own account. Ask another admin to delete this user instead.")
	}
	old, err := s.store.UserByName(ctx, req.Username)
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	before, err := s.deletedUser(ctx, old)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteUser(userChange(ctx, "user.delete", req.Username, before, nil), req.Username); err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username), "")
	}
	return &v1.DeleteUserResponse{}, nil
}

// deletedUserValue is the audit value of a user before their delete, with what
// goes with them: their direct grants in every workspace, the roles they hold
// and their tokens, so that the trail answers who took a grant away by
// deleting its holder.
type deletedUserValue struct {
	storage.AuditUser
	Grants []heldGrantValue `json:"grants,omitempty"`
	Roles  []heldRoleValue  `json:"roles,omitempty"`
	Tokens []string         `json:"tokens,omitempty"` // their names
}

type heldGrantValue struct {
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
	Workspace    string `json:"workspace"`
	Permission   string `json:"permission"`
}

type heldRoleValue struct {
	ID        int32  `json:"id"`
	Name      string `json:"name"`
	Workspace string `json:"workspace"`
}

// deletedUser is u's value before a delete, as read just before it (as every
// value before is).
func (c *core) deletedUser(ctx context.Context, u storage.User) (deletedUserValue, error) {
	v := deletedUserValue{AuditUser: storage.AuditUserOf(u)}
	grants, err := c.store.AllGrantsOfUser(ctx, u.ID)
	if err != nil {
		return v, internalError(ctx, err)
	}
	for _, g := range grants {
		ws := cmp.Or(g.Workspace, workspace.Default) // a grant of the default workspace holds ""
		v.Grants = append(v.Grants, heldGrantValue{ResourceType: string(g.Resource.Type), ResourceID: g.Resource.ID,
			Workspace: ws, Permission: string(g.Level)})
	}
	roles, err := c.roles.RolesOfUser(ctx, u.ID)
	if err != nil {
		return v, internalError(ctx, err)
	}
	for _, r := range roles {
		v.Roles = append(v.Roles, heldRoleValue{ID: r.ID, Name: r.Name, Workspace: r.Workspace})
	}
	tokens, err := c.tokens.TokensOfUser(ctx, u.ID)
	if err != nil {
		return v, internalError(ctx, err)
	}
	for _, t := range tokens {
		v.Tokens = append(v.Tokens, t.Name)
	}
	return v, nil
}

// userMessage is MLflow's User JSON: the three permission lists are never null.
func userMessage(u storage.User, grants []storage.Grant) *v1.User {
	m := &v1.User{
		Id:                         u.ID,
		Username:                   u.Username,
		IsAdmin:                    u.IsAdmin,
		ExperimentPermissions:      []*v1.ExperimentPermission{},
		RegisteredModelPermissions: []*v1.RegisteredModelPermission{},
		ScorerPermissions:          []*v1.ScorerPermission{},
	}
	if u.IsServiceAccount {
		m.IsServiceAccount = &u.IsServiceAccount
	}
	for _, g := range grants {
		switch g.Resource.Type {
		case permission.Experiment:
			m.ExperimentPermissions = append(m.ExperimentPermissions, experimentPermission(g))
		case permission.RegisteredModel:
			m.RegisteredModelPermissions = append(m.RegisteredModelPermissions, registeredModelPermission(g))
		case permission.Scorer:
			m.ScorerPermissions = append(m.ScorerPermissions, scorerPermission(g))
		}
	}
	return m
}

// grantsByUser reads the direct grants of a page of users in one query.
func (s *userService) grantsByUser(ctx context.Context, users []storage.User) (map[int32][]storage.Grant, error) {
	ids := make([]int32, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	grants, err := s.store.GrantsOfUsers(ctx, ids)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	byUser := map[int32][]storage.Grant{}
	for _, g := range grants {
		byUser[g.UserID] = append(byUser[g.UserID], g)
	}
	return byUser, nil
}

// Package resolve decides a user's effective permission on a resource. It is the
// one place of that rule: the API's policy, Check and GetUserPermission, and the
// MLflow proxy's decisions and search filters all ask it.
package resolve

import (
	"context"
	"errors"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// Grants is what the resolver reads of the store: direct grants and the
// permissions a user holds through roles.
type Grants interface {
	Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error)
	GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error)
	RoleGrantsOfUser(ctx context.Context, userID int32, workspace, resourceType, resourceID string) ([]storage.RoleGrant, error)
}

// Workspace is where roles and grants live for a request that names no
// workspace; a request's own is workspace.From(ctx), and decisions are made in it.
const Workspace = workspace.Default

// Resolver applies MLflow 3.17.2's rule (see decide).
type Resolver struct {
	grants       Grants
	defaultLevel permission.Level
}

func New(grants Grants, defaultLevel permission.Level) *Resolver {
	return &Resolver{grants: grants, defaultLevel: defaultLevel}
}

// Level is u's effective permission on r. Errors are the store's.
func (r *Resolver) Level(ctx context.Context, u storage.User, res permission.Resource) (permission.Level, error) {
	return r.Session(ctx, u).Level(res)
}

// Decision is u's effective permission on r and what decided it.
func (r *Resolver) Decision(ctx context.Context, u storage.User, res permission.Resource) (Decision, error) {
	return r.Session(ctx, u).Decision(res)
}

// Decision is an effective permission and what decided it.
type Decision struct {
	Level permission.Level
	By    Source
	Role  string // the role's name when By is ByRole
}

// Source is what decided a permission.
type Source string

const (
	ByAdmin   Source = "admin"
	ByGrant   Source = "grant" // the user's direct grant
	ByRole    Source = "role"
	ByDefault Source = "default"
)

// decide is MLflow 3.17.2's rule for a non-admin user (resolve_permissions,
// fold_grants_for_key, floor_positive_permission), given the user's direct
// grants on res and on every resource of its type ("*"; MLflow keeps both as
// permissions of the user's own role) and their role grants on res's type. A
// workspace MANAGE role makes the user the workspace's admin, above any DENY.
// Otherwise every grant that names res or "*" counts, the direct grant among
// them (MLflow keeps it as a permission of the user's own role): one DENY
// denies; else the highest decides (on a tie the first counted), never below
// the default, except NO_PERMISSIONS, which stays a restriction (MLflow
// exempts it from the floor); with no grant at all, the default.
func decide(direct []permission.Level, roles []storage.RoleGrant, res permission.Resource, defaultLevel permission.Level) Decision {
	var deny, best *Decision
	count := func(d Decision) {
		switch {
		case d.Level == permission.Deny:
			if deny == nil {
				deny = &d
			}
		case best == nil || permission.Max(best.Level, d.Level) != best.Level:
			best = &d
		}
	}
	for _, l := range direct {
		count(Decision{Level: l, By: ByGrant})
	}
	for _, g := range roles {
		if g.ResourceType == string(permission.Workspace) {
			if g.Pattern == permission.Wildcard && g.Level == permission.Manage {
				return Decision{Level: permission.Manage, By: ByRole, Role: g.RoleName}
			}
			continue
		}
		if g.ResourceType == string(res.Type) && (g.Pattern == permission.Wildcard || g.Pattern == res.ID) {
			count(Decision{Level: g.Level, By: ByRole, Role: g.RoleName})
		}
	}
	switch {
	case deny != nil:
		return *deny
	case best == nil || best.Level != permission.NoPermissions && permission.Max(best.Level, defaultLevel) != best.Level:
		return Decision{Level: defaultLevel, By: ByDefault}
	}
	return *best
}

// PointLookups is how many resources a Session looks up one by one before it
// loads all the user's direct grants, and all their role grants of a type, at once.
const PointLookups = 8

// Session answers for one request, remembering what it read. Most requests name
// one or two resources, so each direct grant is looked up alone (a user may hold
// thousands, one per experiment they created); a request that asks about many, a
// search being filtered, loads all the user's direct grants once instead. Role
// grants go the same way: those that name each of the first few resources, then
// all of a type once. A Session is not safe for concurrent use.
type Session struct {
	ctx         context.Context
	r           *Resolver
	user        storage.User
	known       map[permission.Resource]Decision
	direct      map[permission.Resource]permission.Level // every direct grant, once loaded (nil before)
	lookups     int
	roleGrants  map[permission.ResourceType][]storage.RoleGrant // a type's, once loaded whole
	roleLookups int
	workspace   *permission.Level                             // the user's direct grant on workspace.Resource, once read ("" for none)
	wildcards   map[permission.ResourceType]*permission.Level // the user's direct grant on all of a type, once read (nil for none)
}

// workspaceGrant is the user's direct level on the request's workspace itself
// ("" when none), read once per session.
func (s *Session) workspaceGrant() (permission.Level, error) {
	if s.workspace == nil {
		var l permission.Level
		g, err := s.loadedOrPoint(workspace.Resource)
		if err != nil {
			return "", err
		}
		if g != nil {
			l = *g
		}
		s.workspace = &l
	}
	return *s.workspace, nil
}

// rolesFor reads the user's role grants that can decide res: for the first few
// resources only those that name it (a user may hold roles of thousands of
// permissions), then, for a request that asks about many, all of its type once.
func (s *Session) rolesFor(res permission.Resource) ([]storage.RoleGrant, error) {
	if roles, ok := s.roleGrants[res.Type]; ok {
		return roles, nil
	}
	if s.roleLookups++; s.roleLookups <= PointLookups {
		return s.r.grants.RoleGrantsOfUser(s.ctx, s.user.ID, workspace.From(s.ctx), string(res.Type), res.ID)
	}
	roles, err := s.r.grants.RoleGrantsOfUser(s.ctx, s.user.ID, workspace.From(s.ctx), string(res.Type), "")
	if err == nil {
		s.roleGrants[res.Type] = roles
	}
	return roles, err
}

func (r *Resolver) Session(ctx context.Context, u storage.User) *Session {
	return &Session{ctx: ctx, r: r, user: u, known: map[permission.Resource]Decision{},
		roleGrants: map[permission.ResourceType][]storage.RoleGrant{}, wildcards: map[permission.ResourceType]*permission.Level{}}
}

// Level is the session user's effective permission on res.
func (s *Session) Level(res permission.Resource) (permission.Level, error) {
	d, err := s.Decision(res)
	return d.Level, err
}

// Decision is the session user's effective permission on res and what decided it.
func (s *Session) Decision(res permission.Resource) (Decision, error) {
	if s.user.IsAdmin {
		return Decision{Level: permission.Manage, By: ByAdmin}, nil
	}
	if d, ok := s.known[res]; ok {
		return d, nil
	}
	none := Decision{Level: permission.NoPermissions}
	roles, err := s.rolesFor(res)
	if err != nil {
		return none, err
	}
	direct, err := s.directGrants(res)
	if err != nil {
		return none, err
	}
	if res.Type != workspace.Resource.Type {
		// A direct workspace MANAGE (MLflow 3.12's workspace permission) makes
		// the user the workspace's admin, as a role's does in decide.
		switch ws, err := s.workspaceGrant(); {
		case err != nil:
			return none, err
		case ws == permission.Manage:
			d := Decision{Level: permission.Manage, By: ByGrant}
			s.known[res] = d
			return d, nil
		}
	}
	d := decide(direct, roles, res, s.r.defaultLevel)
	s.known[res] = d
	return d, nil
}

// directGrants are the user's direct grants on res and on all of its type
// ("*"), the latter read once per type.
func (s *Session) directGrants(res permission.Resource) ([]permission.Level, error) {
	var levels []permission.Level
	exact, err := s.directGrant(res)
	if err != nil {
		return nil, err
	}
	if exact != nil {
		levels = append(levels, *exact)
	}
	if res.ID == permission.Wildcard {
		return levels, nil
	}
	all, ok := s.wildcards[res.Type]
	if !ok {
		if all, err = s.loadedOrPoint(permission.Resource{Type: res.Type, ID: permission.Wildcard}); err != nil {
			return nil, err
		}
		s.wildcards[res.Type] = all
	}
	if all != nil {
		levels = append(levels, *all)
	}
	return levels, nil
}

// loadedOrPoint is the user's direct grant on res (nil when none) from the
// loaded grants, else looked up alone. It is for the grants a session reads once
// (the workspace's, a type's "*"), which do not count as PointLookups.
func (s *Session) loadedOrPoint(res permission.Resource) (*permission.Level, error) {
	if s.direct != nil {
		if l, ok := s.direct[res]; ok {
			return &l, nil
		}
		return nil, nil
	}
	switch g, err := s.r.grants.Grant(s.ctx, s.user.ID, res); {
	case err == nil:
		return &g.Level, nil
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	default:
		return nil, err
	}
}

// directGrant is the user's direct grant on res, nil when none.
func (s *Session) directGrant(res permission.Resource) (*permission.Level, error) {
	if s.direct == nil {
		if s.lookups++; s.lookups <= PointLookups {
			return s.loadedOrPoint(res)
		}
		grants, err := s.r.grants.GrantsOfUsers(s.ctx, []int32{s.user.ID})
		if err != nil {
			return nil, err
		}
		s.direct = make(map[permission.Resource]permission.Level, len(grants))
		for _, g := range grants {
			s.direct[g.Resource] = g.Level
		}
	}
	if l, ok := s.direct[res]; ok {
		return &l, nil
	}
	return nil, nil
}

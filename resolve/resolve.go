// Package resolve decides a user's effective permission on a resource. It is the
// one place of that rule: the API's policy, Check and GetUserPermission, and the
// MLflow proxy's decisions and search filters all ask it.
package resolve

import (
	"context"
	"errors"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Grants is what the resolver reads of the store: direct grants and the
// permissions a user holds through roles.
type Grants interface {
	Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error)
	GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error)
	RoleGrantsOfUser(ctx context.Context, userID int32, workspace, resourceType string) ([]storage.RoleGrant, error)
}

// Workspace is where every role and grant lives until workspaces exist.
const Workspace = "default"

// Resolver applies MLflow 3.17.2's rule (see Decide).
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

// Decide is MLflow 3.17.2's rule for a non-admin user (resolve_permissions,
// fold_grants_for_key, floor_positive_permission), given the user's direct
// grant on res (nil when none) and their role grants on res's type. A
// workspace MANAGE role makes the user the workspace's admin, above any DENY.
// Otherwise every grant that names res or "*" counts, the direct grant among
// them (MLflow keeps it as a permission of the user's own role): one DENY
// denies; else the highest decides, never below the default, except
// NO_PERMISSIONS, which stays a restriction (MLflow exempts it from the floor);
// with no grant at all, the default.
func Decide(direct *permission.Level, roles []storage.RoleGrant, res permission.Resource, defaultLevel permission.Level) permission.Level {
	var denied, found bool
	var best permission.Level
	count := func(l permission.Level) {
		switch {
		case l == permission.Deny:
			denied = true
		case !found:
			best, found = l, true
		default:
			best = permission.Max(best, l)
		}
	}
	for _, g := range roles {
		if g.ResourceType == "workspace" {
			if g.Pattern == permission.Wildcard && g.Level == permission.Manage {
				return permission.Manage
			}
			continue
		}
		if g.ResourceType == string(res.Type) && (g.Pattern == permission.Wildcard || g.Pattern == res.ID) {
			count(g.Level)
		}
	}
	if direct != nil {
		count(*direct)
	}
	switch {
	case denied:
		return permission.Deny
	case !found:
		return defaultLevel
	case best == permission.NoPermissions:
		return best
	}
	return permission.Max(best, defaultLevel)
}

// PointLookups is how many resources a Session looks up one by one before it
// loads all the user's direct grants at once.
const PointLookups = 8

// Session answers for one request, remembering what it read. Most requests name
// one or two resources, so each direct grant is looked up alone (a user may hold
// thousands, one per experiment they created); a request that asks about many, a
// search being filtered, loads all the user's direct grants once instead. Role
// grants are read once per resource type the request asks about. A Session is
// not safe for concurrent use.
type Session struct {
	ctx        context.Context
	r          *Resolver
	user       storage.User
	known      map[permission.Resource]permission.Level
	direct     map[permission.Resource]permission.Level // every direct grant, once loadedAll
	loadedAll  bool
	lookups    int
	roleGrants map[permission.ResourceType][]storage.RoleGrant
}

func (r *Resolver) Session(ctx context.Context, u storage.User) *Session {
	return &Session{ctx: ctx, r: r, user: u, known: map[permission.Resource]permission.Level{},
		roleGrants: map[permission.ResourceType][]storage.RoleGrant{}}
}

// Level is the session user's effective permission on res.
func (s *Session) Level(res permission.Resource) (permission.Level, error) {
	if s.user.IsAdmin {
		return permission.Manage, nil
	}
	if l, ok := s.known[res]; ok {
		return l, nil
	}
	roles, ok := s.roleGrants[res.Type]
	if !ok {
		var err error
		if roles, err = s.r.grants.RoleGrantsOfUser(s.ctx, s.user.ID, Workspace, string(res.Type)); err != nil {
			return permission.NoPermissions, err
		}
		s.roleGrants[res.Type] = roles
	}
	direct, err := s.directGrant(res)
	if err != nil {
		return permission.NoPermissions, err
	}
	l := Decide(direct, roles, res, s.r.defaultLevel)
	s.known[res] = l
	return l, nil
}

// directGrant is the user's direct grant on res, nil when none.
func (s *Session) directGrant(res permission.Resource) (*permission.Level, error) {
	if !s.loadedAll {
		if s.lookups++; s.lookups <= PointLookups {
			switch g, err := s.r.grants.Grant(s.ctx, s.user.ID, res); {
			case err == nil:
				return &g.Level, nil
			case errors.Is(err, storage.ErrNotFound):
				return nil, nil
			default:
				return nil, err
			}
		}
		grants, err := s.r.grants.GrantsOfUsers(s.ctx, []int32{s.user.ID})
		if err != nil {
			return nil, err
		}
		s.direct = make(map[permission.Resource]permission.Level, len(grants))
		for _, g := range grants {
			s.direct[g.Resource] = g.Level
		}
		s.loadedAll = true
	}
	if l, ok := s.direct[res]; ok {
		return &l, nil
	}
	return nil, nil
}

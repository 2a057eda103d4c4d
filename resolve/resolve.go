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

// Grants is what the resolver reads of the store.
type Grants interface {
	Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error)
	GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error)
}

// Resolver applies MLflow's classic rule: admins manage everything; else the
// user's direct grant on the resource, even when it is below the default; else
// the default permission.
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

// PointLookups is how many resources a Session looks up one by one before it
// loads all the user's grants at once.
const PointLookups = 8

// Session answers for one request, remembering what it read. Most requests name
// one or two resources, so each is looked up alone (a user may hold thousands of
// grants, one per experiment they created); a request that asks about many, a
// search being filtered, loads all the user's grants once instead. A Session is
// not safe for concurrent use.
type Session struct {
	ctx       context.Context
	r         *Resolver
	user      storage.User
	known     map[permission.Resource]permission.Level
	loadedAll bool
	lookups   int
}

func (r *Resolver) Session(ctx context.Context, u storage.User) *Session {
	return &Session{ctx: ctx, r: r, user: u, known: map[permission.Resource]permission.Level{}}
}

// Level is the session user's effective permission on res.
func (s *Session) Level(res permission.Resource) (permission.Level, error) {
	if s.user.IsAdmin {
		return permission.Manage, nil
	}
	if l, ok := s.known[res]; ok {
		return l, nil
	}
	if s.loadedAll {
		return s.r.defaultLevel, nil
	}
	if s.lookups++; s.lookups > PointLookups {
		grants, err := s.r.grants.GrantsOfUsers(s.ctx, []int32{s.user.ID})
		if err != nil {
			return permission.NoPermissions, err
		}
		for _, g := range grants {
			s.known[g.Resource] = g.Level
		}
		s.loadedAll = true
		return s.Level(res)
	}
	l := s.r.defaultLevel
	switch g, err := s.r.grants.Grant(s.ctx, s.user.ID, res); {
	case err == nil:
		l = g.Level
	case !errors.Is(err, storage.ErrNotFound):
		return permission.NoPermissions, err
	}
	s.known[res] = l
	return l, nil
}

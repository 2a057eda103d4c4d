// Package permcache keeps the permission lookups of requests for a while (a
// user's direct grant on a resource, all their direct grants, the role grants
// that can decide a resource, whether they hold a role of a workspace, the
// roles they hold), so that a decision on a recent request's resources needs
// no database round trip. The resolver reads through it, and stays the one
// place that decides.
//
// Invalidation is coarse on purpose: any write that can change a grant or a
// role (grants, roles, role permissions, assignments) forgets every lookup of
// every user, on this replica at once and on the others through the Notifier,
// and so does every notification heard, whatever it names. A role change
// touches every holder and a resource's deletion or rename every grantee, so
// narrower keys would have to know who they are; such writes are rare next to
// reads, and a flush costs each active user one round trip. A user's deletion
// or admin flag is the user cache's to announce (usercache.Store, on the same
// Notifier, which tells this replica's listeners before it returns): this
// cache forgets on hearing it, with no notification of its own. A TTL bounds
// what a missed notification leaves stale.
package permcache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/usercache"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// notification is what the cache's writes tell the notifier. It names no user (a
// user of that name would only see their cached user forgotten more often).
const notification = "(permissions)"

// maxEntries bounds the memory of the lookups of many users: each lookup
// counts one, and one more for each grant it holds (a user's every grant may be
// thousands).
const maxEntries = 200_000

// Cache holds the lookups; Store and Roles read and write through it.
type Cache struct {
	notifier usercache.Notifier
	ttl      time.Duration
	now      func() time.Time
	max      int // size before all is forgotten

	mu     sync.Mutex
	gen    uint64 // counts flushes, so a read that raced one is not kept
	size   int    // lookups and the grants they hold
	grants map[grantKey]entry[storage.Grant]
	all    map[userKey]entry[[]storage.Grant]
	roles  map[roleKey]entry[[]storage.RoleGrant]
	holds  map[userKey]entry[bool]
	of     map[int32]entry[[]storage.Role] // a user's roles, by user id
}

type grantKey struct {
	workspace string
	userID    int32
	resource  permission.Resource
}

type userKey struct {
	workspace string
	userID    int32
}

type roleKey struct {
	userID                              int32
	workspace, resourceType, resourceID string
}

// entry is a lookup's answer: a value, or ErrNotFound (a missing grant is the
// most common answer of all).
type entry[V any] struct {
	v       V
	err     error
	expires time.Time
}

// New makes a cache whose entries live for ttl (positive) and which flushes on
// every notification of n.
func New(ttl time.Duration, n usercache.Notifier) *Cache {
	c := &Cache{notifier: n, ttl: ttl, now: time.Now, max: maxEntries, grants: map[grantKey]entry[storage.Grant]{},
		all: map[userKey]entry[[]storage.Grant]{}, roles: map[roleKey]entry[[]storage.RoleGrant]{}, holds: map[userKey]entry[bool]{},
		of: map[int32]entry[[]storage.Role]{}}
	n.Listen(c.flush)
	return c
}

func (c *Cache) flush(string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
}

// clear forgets everything; c.mu is held.
func (c *Cache) clear() {
	c.gen++
	c.size = 0
	clear(c.grants)
	clear(c.all)
	clear(c.roles)
	clear(c.holds)
	clear(c.of)
}

// changed tells every replica's cache, this one's first, that permissions changed.
func (c *Cache) changed(ctx context.Context) { c.notifier.Changed(ctx, notification) }

// cached answers k from m, one of c's maps, while its entry lives, else reads
// it; size is what an answer counts towards c.max.
func cached[K comparable, V any](c *Cache, m map[K]entry[V], k K, size func(V) int, read func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := m[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.v, e.err
	}
	v, err := read()
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if c.size >= c.max {
			c.clear()
		}
		if old, had := m[k]; had {
			c.size -= size(old.v)
		}
		c.size += size(v)
		m[k] = entry[V]{v, err, c.now().Add(c.ttl)}
	}
	return v, err
}

func one[V any](V) int { return 1 }

func sizeOf[S ~[]E, E any](s S) int { return 1 + len(s) }

// Store is a storage.Store whose grant reads go through the cache and whose
// writes that change grants flush it.
type Store struct {
	storage.Store
	c *Cache
}

// Store wraps s.
func (c *Cache) Store(s storage.Store) *Store { return &Store{Store: s, c: c} }

// Grant implements storage.Store.
func (s *Store) Grant(ctx context.Context, userID int32, r permission.Resource) (storage.Grant, error) {
	return cached(s.c, s.c.grants, grantKey{workspace.From(ctx), userID, r}, one,
		func() (storage.Grant, error) { return s.Store.Grant(ctx, userID, r) })
}

// GrantsOfUsers implements storage.Store; the grants of one user are kept.
func (s *Store) GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error) {
	if len(userIDs) != 1 {
		return s.Store.GrantsOfUsers(ctx, userIDs)
	}
	grants, err := cached(s.c, s.c.all, userKey{workspace.From(ctx), userIDs[0]}, sizeOf,
		func() ([]storage.Grant, error) { return s.Store.GrantsOfUsers(ctx, userIDs) })
	return slices.Clone(grants), err // callers may sort or change theirs
}

// The writes that change grants: each flushes, even when it fails, since a
// failure (a lost connection at COMMIT) does not prove nothing changed.

func (s *Store) CreateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	defer s.c.changed(ctx)
	return s.Store.CreateGrant(ctx, userID, r, l)
}

func (s *Store) UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	defer s.c.changed(ctx)
	return s.Store.UpdateGrant(ctx, userID, r, l)
}

func (s *Store) DeleteGrant(ctx context.Context, userID int32, r permission.Resource) error {
	defer s.c.changed(ctx)
	return s.Store.DeleteGrant(ctx, userID, r)
}

func (s *Store) DeleteResourceGrants(ctx context.Context, r permission.Resource) error {
	defer s.c.changed(ctx)
	return s.Store.DeleteResourceGrants(ctx, r)
}

func (s *Store) MoveGrants(ctx context.Context, grants []storage.Grant, to permission.Resource) error {
	defer s.c.changed(ctx)
	return s.Store.MoveGrants(ctx, grants, to)
}

func (s *Store) CreateBatch(ctx context.Context, b storage.Batch) error {
	defer s.c.changed(ctx)
	return s.Store.CreateBatch(ctx, b)
}

// Roles is a storage.Roles whose reads of a user's role grants go through the
// cache and whose writes flush it.
type Roles struct {
	storage.Roles
	c *Cache
}

// Roles wraps r.
func (c *Cache) Roles(r storage.Roles) *Roles { return &Roles{Roles: r, c: c} }

// RoleGrantsOfUser implements storage.Roles.
func (r *Roles) RoleGrantsOfUser(ctx context.Context, userID int32, ws, resourceType, resourceID string) ([]storage.RoleGrant, error) {
	grants, err := cached(r.c, r.c.roles, roleKey{userID, ws, resourceType, resourceID}, sizeOf,
		func() ([]storage.RoleGrant, error) {
			return r.Roles.RoleGrantsOfUser(ctx, userID, ws, resourceType, resourceID)
		})
	return slices.Clone(grants), err
}

// HoldsRoleIn implements storage.Roles.
func (r *Roles) HoldsRoleIn(ctx context.Context, userID int32, ws string) (bool, error) {
	return cached(r.c, r.c.holds, userKey{ws, userID}, one,
		func() (bool, error) { return r.Roles.HoldsRoleIn(ctx, userID, ws) })
}

// RolesOfUser implements storage.Roles (users/get shows them on every call).
func (r *Roles) RolesOfUser(ctx context.Context, userID int32) ([]storage.Role, error) {
	roles, err := cached(r.c, r.c.of, userID, sizeOf,
		func() ([]storage.Role, error) { return r.Roles.RolesOfUser(ctx, userID) })
	return slices.Clone(roles), err
}

// Every write of roles flushes: a role's name is part of a decision, and its
// permissions and assignments are all of it.

func (r *Roles) CreateRole(ctx context.Context, ws, name string, description *string) (storage.Role, error) {
	defer r.c.changed(ctx)
	return r.Roles.CreateRole(ctx, ws, name, description)
}

func (r *Roles) UpdateRole(ctx context.Context, id int32, name, description *string) (storage.Role, error) {
	defer r.c.changed(ctx)
	return r.Roles.UpdateRole(ctx, id, name, description)
}

func (r *Roles) DeleteRole(ctx context.Context, id int32) error {
	defer r.c.changed(ctx)
	return r.Roles.DeleteRole(ctx, id)
}

func (r *Roles) AddRolePermission(ctx context.Context, roleID int32, resourceType, pattern string, l permission.Level) (storage.RolePermission, error) {
	defer r.c.changed(ctx)
	return r.Roles.AddRolePermission(ctx, roleID, resourceType, pattern, l)
}

func (r *Roles) UpdateRolePermission(ctx context.Context, id int32, l permission.Level) (storage.RolePermission, error) {
	defer r.c.changed(ctx)
	return r.Roles.UpdateRolePermission(ctx, id, l)
}

func (r *Roles) RemoveRolePermission(ctx context.Context, id int32) error {
	defer r.c.changed(ctx)
	return r.Roles.RemoveRolePermission(ctx, id)
}

func (r *Roles) AssignRole(ctx context.Context, userID, roleID int32) (storage.RoleAssignment, error) {
	defer r.c.changed(ctx)
	return r.Roles.AssignRole(ctx, userID, roleID)
}

func (r *Roles) UnassignRole(ctx context.Context, userID, roleID int32) error {
	defer r.c.changed(ctx)
	return r.Roles.UnassignRole(ctx, userID, roleID)
}

package usercache

import (
	"context"
	"slices"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// A user's grants (in one workspace) and roles are remembered as the user is:
// users/get reads both on every call. Every write of a grant or a role tells
// the notifier, and any notification forgets all of them, on every replica.

type grantsKey struct {
	userID    int32
	workspace string
}

type grantsEntry struct {
	grants  []storage.Grant
	expires time.Time
}

type rolesEntry struct {
	roles   []storage.Role
	expires time.Time
}

// GrantsOfUsers implements storage.Store; one user's grants come from memory.
func (c *Store) GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error) {
	if len(userIDs) != 1 {
		return c.Store.GrantsOfUsers(ctx, userIDs)
	}
	key := grantsKey{userIDs[0], workspace.From(ctx)}
	c.mu.Lock()
	e, ok := c.grants[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return slices.Clone(e.grants), nil
	}
	grants, err := c.Store.GrantsOfUsers(ctx, userIDs)
	if err != nil {
		return grants, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.grants) >= maxUsers {
			clear(c.grants)
		}
		c.grants[key] = grantsEntry{slices.Clone(grants), c.now().Add(c.ttl)}
	}
	return grants, nil
}

// CreateGrant implements storage.Store.
func (c *Store) CreateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	defer c.changed(ctx, userID)
	return c.Store.CreateGrant(ctx, userID, r, l)
}

// UpdateGrant implements storage.Store.
func (c *Store) UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (storage.Grant, error) {
	defer c.changed(ctx, userID)
	return c.Store.UpdateGrant(ctx, userID, r, l)
}

// DeleteGrant implements storage.Store.
func (c *Store) DeleteGrant(ctx context.Context, userID int32, r permission.Resource) error {
	defer c.changed(ctx, userID)
	return c.Store.DeleteGrant(ctx, userID, r)
}

// DeleteResourceGrants implements storage.Store; it may change any user's grants.
func (c *Store) DeleteResourceGrants(ctx context.Context, r permission.Resource) error {
	defer c.notifier.Changed(ctx, "")
	return c.Store.DeleteResourceGrants(ctx, r)
}

// MoveGrants implements storage.Store; it may change any user's grants.
func (c *Store) MoveGrants(ctx context.Context, grants []storage.Grant, to permission.Resource) error {
	defer c.notifier.Changed(ctx, "")
	return c.Store.MoveGrants(ctx, grants, to)
}

// CreateBatch implements storage.Store; it may change any user's grants and roles.
func (c *Store) CreateBatch(ctx context.Context, b storage.Batch) error {
	defer c.notifier.Changed(ctx, "")
	return c.Store.CreateBatch(ctx, b)
}

// changed tells the notifier that the user with that id changed. Notifications
// name users, so the name is read; if that fails, every user is named.
func (c *Store) changed(ctx context.Context, userID int32) {
	username := ""
	if us, err := c.Store.ListUsers(ctx, userID-1, 1); err == nil && len(us) == 1 && us[0].ID == userID {
		username = us[0].Username
	}
	c.notifier.Changed(ctx, username)
}

// Roles is a storage.Roles whose RolesOfUser answers from the cache of c for up
// to its TTL; every role write is told to c's Notifier.
type Roles struct {
	storage.Roles
	c *Store
}

// Roles wraps r so that its users' roles share c's cache and notifier.
func (c *Store) Roles(r storage.Roles) *Roles { return &Roles{Roles: r, c: c} }

// RolesOfUser implements storage.Roles.
func (r *Roles) RolesOfUser(ctx context.Context, userID int32) ([]storage.Role, error) {
	c := r.c
	c.mu.Lock()
	e, ok := c.roles[userID]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return cloneRoles(e.roles), nil
	}
	roles, err := r.Roles.RolesOfUser(ctx, userID)
	if err != nil {
		return roles, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.roles) >= maxUsers {
			clear(c.roles)
		}
		c.roles[userID] = rolesEntry{cloneRoles(roles), c.now().Add(c.ttl)}
	}
	return roles, nil
}

// cloneRoles copies roles and their permissions, so that no caller shares the remembered ones.
func cloneRoles(roles []storage.Role) []storage.Role {
	out := slices.Clone(roles)
	for i := range out {
		out[i].Permissions = slices.Clone(out[i].Permissions)
	}
	return out
}

// The role writes change what RolesOfUser answers for every holder of the role.

// CreateRole implements storage.Roles.
func (r *Roles) CreateRole(ctx context.Context, workspace, name string, description *string) (storage.Role, error) {
	defer r.c.notifier.Changed(ctx, "")
	return r.Roles.CreateRole(ctx, workspace, name, description)
}

// UpdateRole implements storage.Roles.
func (r *Roles) UpdateRole(ctx context.Context, id int32, name, description *string) (storage.Role, error) {
	defer r.c.notifier.Changed(ctx, "")
	return r.Roles.UpdateRole(ctx, id, name, description)
}

// DeleteRole implements storage.Roles.
func (r *Roles) DeleteRole(ctx context.Context, id int32) error {
	defer r.c.notifier.Changed(ctx, "")
	return r.Roles.DeleteRole(ctx, id)
}

// AddRolePermission implements storage.Roles.
func (r *Roles) AddRolePermission(ctx context.Context, roleID int32, resourceType, pattern string, l permission.Level) (storage.RolePermission, error) {
	defer r.c.notifier.Changed(ctx, "")
	return r.Roles.AddRolePermission(ctx, roleID, resourceType, pattern, l)
}

// UpdateRolePermission implements storage.Roles.
func (r *Roles) UpdateRolePermission(ctx context.Context, id int32, l permission.Level) (storage.RolePermission, error) {
	defer r.c.notifier.Changed(ctx, "")
	return r.Roles.UpdateRolePermission(ctx, id, l)
}

// RemoveRolePermission implements storage.Roles.
func (r *Roles) RemoveRolePermission(ctx context.Context, id int32) error {
	defer r.c.notifier.Changed(ctx, "")
	return r.Roles.RemoveRolePermission(ctx, id)
}

// AssignRole implements storage.Roles.
func (r *Roles) AssignRole(ctx context.Context, userID, roleID int32) (storage.RoleAssignment, error) {
	defer r.c.changed(ctx, userID)
	return r.Roles.AssignRole(ctx, userID, roleID)
}

// UnassignRole implements storage.Roles.
func (r *Roles) UnassignRole(ctx context.Context, userID, roleID int32) error {
	defer r.c.changed(ctx, userID)
	return r.Roles.UnassignRole(ctx, userID, roleID)
}

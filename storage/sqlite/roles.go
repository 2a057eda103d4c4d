package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

var _ storage.Roles = (*Store)(nil)

const (
	roleColumns           = "id, name, workspace, description"
	rolePermissionColumns = "id, role_id, resource_type, resource_pattern, permission"
	assignmentColumns     = "id, user_id, role_id"
)

func scanRole(row scanner) (storage.Role, error) {
	var r storage.Role
	err := row.Scan(&r.ID, &r.Name, &r.Workspace, &r.Description)
	return r, err
}

func scanRolePermission(row scanner) (storage.RolePermission, error) {
	var p storage.RolePermission
	err := row.Scan(&p.ID, &p.RoleID, &p.ResourceType, &p.Pattern, &p.Level)
	return p, err
}

func scanAssignment(row scanner) (storage.RoleAssignment, error) {
	var a storage.RoleAssignment
	err := row.Scan(&a.ID, &a.UserID, &a.RoleID)
	return a, err
}

const permissionsOfRolesQuery = "SELECT " + rolePermissionColumns +
	" FROM role_permissions WHERE role_id IN (SELECT value FROM json_each(?)) ORDER BY id"

// withPermissions fills in the permissions of roles with one query.
func (s *Store) withPermissions(ctx context.Context, roles []storage.Role) ([]storage.Role, error) {
	if len(roles) == 0 {
		return roles, nil
	}
	ids := make([]string, len(roles))
	at := make(map[int32]int, len(roles))
	for i, r := range roles {
		ids[i] = fmt.Sprint(r.ID)
		at[r.ID] = i
		roles[i].Permissions = []storage.RolePermission{}
	}
	perms, err := queryAll(ctx, s.read, scanRolePermission, permissionsOfRolesQuery, "["+strings.Join(ids, ",")+"]")
	if err != nil {
		return nil, err
	}
	for _, p := range perms {
		roles[at[p.RoleID]].Permissions = append(roles[at[p.RoleID]].Permissions, p)
	}
	return roles, nil
}

// CreateRole implements storage.Roles.
func (s *Store) CreateRole(ctx context.Context, workspace, name string, description *string) (storage.Role, error) {
	var r storage.Role
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		r, err = scanRole(tx.QueryRowContext(ctx,
			"INSERT INTO roles (workspace, name, description) VALUES (?, ?, ?) RETURNING "+roleColumns,
			workspace, name, description))
		if err != nil {
			return err
		}
		return audited(storage.AuditCreated(ctx, strconv.Itoa(int(r.ID))), tx)
	})
	r.Permissions = []storage.RolePermission{}
	return r, err
}

// Role implements storage.Roles.
func (s *Store) Role(ctx context.Context, id int32) (storage.Role, error) {
	r, err := scanRole(s.read.QueryRowContext(ctx, "SELECT "+roleColumns+" FROM roles WHERE id = ?", id))
	if err != nil {
		return r, classify(err)
	}
	roles, err := s.withPermissions(ctx, []storage.Role{r})
	if err != nil {
		return storage.Role{}, err
	}
	return roles[0], nil
}

// ListRoles implements storage.Roles.
func (s *Store) ListRoles(ctx context.Context, workspace string, afterID int32, limit int) ([]storage.Role, error) {
	roles, err := queryAll(ctx, s.read, scanRole, "SELECT "+roleColumns+
		" FROM roles WHERE (? = '' OR workspace = ?) AND id > ? ORDER BY id LIMIT ?",
		workspace, workspace, afterID, sqlLimit(limit))
	if err != nil {
		return nil, err
	}
	return s.withPermissions(ctx, roles)
}

// UpdateRole implements storage.Roles.
func (s *Store) UpdateRole(ctx context.Context, id int32, name, description *string) (storage.Role, error) {
	err := s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx,
			"UPDATE roles SET name = coalesce(?, name), description = coalesce(?, description) WHERE id = ?",
			name, description, id)
		return oneRow(res, err)
	})
	if err != nil {
		return storage.Role{}, err
	}
	return s.Role(ctx, id)
}

// DeleteRole implements storage.Roles.
func (s *Store) DeleteRole(ctx context.Context, id int32) error {
	return s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx, "DELETE FROM roles WHERE id = ?", id)
		return oneRow(res, err)
	})
}

// AddRolePermission implements storage.Roles. A missing role fails the foreign key.
func (s *Store) AddRolePermission(ctx context.Context, roleID int32, resourceType, pattern string, l permission.Level) (storage.RolePermission, error) {
	var p storage.RolePermission
	err := s.change(ctx, func(w writer) (err error) {
		p, err = scanRolePermission(w.QueryRowContext(ctx,
			"INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?) RETURNING "+rolePermissionColumns,
			roleID, resourceType, pattern, l))
		return err
	})
	return p, err
}

// RolePermission implements storage.Roles.
func (s *Store) RolePermission(ctx context.Context, id int32) (storage.RolePermission, error) {
	p, err := scanRolePermission(s.read.QueryRowContext(ctx, "SELECT "+rolePermissionColumns+" FROM role_permissions WHERE id = ?", id))
	return p, classify(err)
}

// UpdateRolePermission implements storage.Roles.
func (s *Store) UpdateRolePermission(ctx context.Context, id int32, l permission.Level) (storage.RolePermission, error) {
	var p storage.RolePermission
	err := s.change(ctx, func(w writer) (err error) {
		p, err = scanRolePermission(w.QueryRowContext(ctx,
			"UPDATE role_permissions SET permission = ? WHERE id = ? RETURNING "+rolePermissionColumns, l, id))
		return err
	})
	return p, err
}

// RemoveRolePermission implements storage.Roles.
func (s *Store) RemoveRolePermission(ctx context.Context, id int32) error {
	return s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx, "DELETE FROM role_permissions WHERE id = ?", id)
		return oneRow(res, err)
	})
}

// roleExists answers ErrNotFound for a missing role, so that listing the
// permissions or users of a role that does not exist is not an empty success.
func (s *Store) roleExists(ctx context.Context, id int32) error {
	var one int
	return classify(s.read.QueryRowContext(ctx, "SELECT 1 FROM roles WHERE id = ?", id).Scan(&one))
}

// RolePermissions implements storage.Roles.
func (s *Store) RolePermissions(ctx context.Context, roleID int32) ([]storage.RolePermission, error) {
	if err := s.roleExists(ctx, roleID); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.read, scanRolePermission, "SELECT "+rolePermissionColumns+" FROM role_permissions WHERE role_id = ? ORDER BY id", roleID)
}

// AssignRole implements storage.Roles.
func (s *Store) AssignRole(ctx context.Context, userID, roleID int32) (storage.RoleAssignment, error) {
	var a storage.RoleAssignment
	err := s.change(ctx, func(w writer) (err error) {
		a, err = scanAssignment(w.QueryRowContext(ctx,
			"INSERT INTO user_role_assignments (user_id, role_id) VALUES (?, ?) RETURNING "+assignmentColumns, userID, roleID))
		return err
	})
	return a, err
}

// UnassignRole implements storage.Roles.
func (s *Store) UnassignRole(ctx context.Context, userID, roleID int32) error {
	return s.change(ctx, func(w writer) error {
		res, err := w.ExecContext(ctx, "DELETE FROM user_role_assignments WHERE user_id = ? AND role_id = ?", userID, roleID)
		return oneRow(res, err)
	})
}

// RolesOfUser implements storage.Roles.
func (s *Store) RolesOfUser(ctx context.Context, userID int32) ([]storage.Role, error) {
	roles, err := queryAll(ctx, s.read, scanRole, rolesOfUserQuery, userID)
	if err != nil {
		return nil, err
	}
	return s.withPermissions(ctx, roles)
}

const rolesOfUserQuery = "SELECT r.id, r.name, r.workspace, r.description FROM roles r" +
	" JOIN user_role_assignments a ON a.role_id = r.id WHERE a.user_id = ? ORDER BY r.id"

// RoleAssignments implements storage.Roles.
func (s *Store) RoleAssignments(ctx context.Context, roleID int32) ([]storage.RoleAssignment, error) {
	if err := s.roleExists(ctx, roleID); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.read, scanAssignment, "SELECT "+assignmentColumns+" FROM user_role_assignments WHERE role_id = ? ORDER BY id", roleID)
}

// HoldsRoleIn implements storage.Roles.
func (s *Store) HoldsRoleIn(ctx context.Context, userID int32, workspace string) (bool, error) {
	var holds bool
	err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM user_role_assignments a
		JOIN roles r ON r.id = a.role_id WHERE a.user_id = ? AND r.workspace = ?)`, userID, workspace).Scan(&holds)
	return holds, classify(err)
}

// UsersSharingWorkspaces implements storage.Roles.
func (s *Store) UsersSharingWorkspaces(ctx context.Context, userID, afterID int32, limit int) ([]storage.User, error) {
	return queryAll(ctx, s.read, scanUser, `WITH mine AS (
		SELECT r.workspace FROM user_role_assignments a JOIN roles r ON r.id = a.role_id WHERE a.user_id = ?1
		UNION SELECT workspace FROM grants WHERE user_id = ?1)
	SELECT u.id, u.username, u.password_hash, u.is_admin, u.is_service_account FROM users u WHERE u.id > ?2 AND (u.is_admin AND EXISTS (SELECT 1 FROM mine) OR u.id = ?1
		OR EXISTS (SELECT 1 FROM user_role_assignments a JOIN roles r ON r.id = a.role_id
			WHERE a.user_id = u.id AND r.workspace IN (SELECT workspace FROM mine))
		OR EXISTS (SELECT 1 FROM grants g WHERE g.user_id = u.id AND g.workspace IN (SELECT workspace FROM mine)))
	ORDER BY u.id LIMIT ?3`, userID, afterID, sqlLimit(limit))
}

// roleGrantsQuery walks user_role_assignments by its (user_id, role_id) key
// and role_permissions by its (role_id, resource_type, ...) key.
const roleGrantsQuery = `SELECT r.id, r.name, p.resource_type, p.resource_pattern, p.permission
	FROM user_role_assignments a JOIN roles r ON r.id = a.role_id
	JOIN role_permissions p ON p.role_id = r.id
	WHERE a.user_id = ?1 AND r.workspace = ?2 AND p.resource_type IN (?3, 'workspace')
		AND (p.resource_type = 'workspace' OR ?4 = '' OR p.resource_pattern IN (?4, '*'))
	ORDER BY r.id, p.id`

func scanRoleGrant(row scanner) (storage.RoleGrant, error) {
	var g storage.RoleGrant
	err := row.Scan(&g.RoleID, &g.RoleName, &g.ResourceType, &g.Pattern, &g.Level)
	return g, err
}

// roleGrantsOnQuery is roleGrantsQuery for one resource id, the resolver's
// question on every request. Each arm probes role_permissions' key with its
// whole prefix, where the OR above reads every permission of the type of each
// role (1,000 rows for 20 roles of 50); CROSS JOIN keeps SQLite walking from
// the user's assignments, not from the workspace's roles.
const roleGrantsOnQuery = `SELECT id, name, resource_type, resource_pattern, permission FROM (
		SELECT r.id, r.name, p.id AS permission_id, p.resource_type, p.resource_pattern, p.permission
		FROM user_role_assignments a CROSS JOIN roles r ON r.id = a.role_id
		CROSS JOIN role_permissions p ON p.role_id = r.id
		WHERE a.user_id = ?1 AND r.workspace = ?2 AND p.resource_type = ?3 AND p.resource_pattern IN (?4, '*')
		UNION ALL
		SELECT r.id, r.name, p.id, p.resource_type, p.resource_pattern, p.permission
		FROM user_role_assignments a CROSS JOIN roles r ON r.id = a.role_id
		CROSS JOIN role_permissions p ON p.role_id = r.id
		WHERE a.user_id = ?1 AND r.workspace = ?2 AND p.resource_type = 'workspace')
	ORDER BY id, permission_id`

// RoleGrantsOfUser implements storage.Roles.
func (s *Store) RoleGrantsOfUser(ctx context.Context, userID int32, workspace, resourceType, resourceID string) ([]storage.RoleGrant, error) {
	query := roleGrantsQuery
	if resourceID != "" {
		query = roleGrantsOnQuery
	}
	return queryAll(ctx, s.read, scanRoleGrant, query, userID, workspace, resourceType, resourceID)
}

// RoleHoldersOf implements storage.Roles.
func (s *Store) RoleHoldersOf(ctx context.Context, workspace string, r permission.Resource, afterUserID int32, limit int) ([]storage.RoleHolder, error) {
	return queryAll(ctx, s.read, func(row scanner) (storage.RoleHolder, error) {
		var h storage.RoleHolder
		err := row.Scan(&h.UserID, &h.Username, &h.RoleID, &h.RoleName, &h.ResourceType, &h.Pattern, &h.Level)
		return h, err
	}, `WITH held AS (
		SELECT a.user_id, u.username, r.id AS role_id, r.name, p.id AS permission_id, p.resource_type, p.resource_pattern, p.permission
		FROM role_permissions p JOIN roles r ON r.id = p.role_id
		JOIN user_role_assignments a ON a.role_id = r.id JOIN users u ON u.id = a.user_id
		WHERE r.workspace = ? AND a.user_id > ? AND (p.resource_type = ? AND p.resource_pattern IN (?, '*')
			OR p.resource_type = 'workspace' AND p.resource_pattern = '*' AND p.permission = 'MANAGE'))
	SELECT user_id, username, role_id, name, resource_type, resource_pattern, permission FROM held
	WHERE user_id IN (SELECT DISTINCT user_id FROM held ORDER BY user_id LIMIT ?)
	ORDER BY user_id, role_id, permission_id`, workspace, afterUserID, string(r.Type), r.ID, sqlLimit(limit))
}

// Package storage defines what mlflow-auth keeps: users and their direct grants.
// Backends (postgres, sqlite) implement Store and pass the storagetest suite.
package storage

import (
	"context"
	"errors"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Sentinel errors. Backends return them (possibly wrapped); the service maps them
// to MLflow error codes. Any other error is internal and its text is never shown.
var (
	// ErrNotFound: the user or grant does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique constraint refused the write.
	ErrAlreadyExists = errors.New("already exists")
	// ErrLastAdmin: the write would leave no admin.
	ErrLastAdmin = errors.New("last admin")
	// ErrUnavailable: the database cannot be reached; retrying later may work.
	ErrUnavailable = errors.New("database unavailable")
)

// User is an account. PasswordHash is in werkzeug's "method$salt$hash" format.
type User struct {
	ID           int32
	Username     string
	PasswordHash string
	IsAdmin      bool
	// IsServiceAccount marks an account without a password (PasswordHash is
	// ""), which signs in only with its tokens. A user's kind never changes.
	IsServiceAccount bool
}

// Grant is a user's direct permission on one resource in a workspace.
// Workspace "" is workspace.Default, so grants of a server without workspaces
// read as they always have.
type Grant struct {
	UserID    int32
	Username  string
	Resource  permission.Resource
	Level     permission.Level
	Workspace string
}

// Batch is a set of new users and new grants, written all or nothing by
// Store.CreateBatch. Grants name their user by Username (UserID is ignored), so
// a batch can grant to the users it creates.
type Batch struct {
	Users  []User  // ID is ignored
	Grants []Grant // UserID is ignored
	Roles  []BatchRole
	// Audit are rows of the audit trail written in the batch's transaction, so
	// they exist exactly when the batch does.
	Audit []AuditEvent
}

// BatchRole is a role a Batch creates, with its permissions, given to its
// members by username (users of the batch or existing ones).
type BatchRole struct {
	Role             // ID is ignored, and so are its permissions' ID and RoleID
	Members []string // usernames
	// Audit is the role's audit row, if any: written after the batch's Audit,
	// naming as its resource id the id the batch made for the role.
	Audit *AuditEvent
}

// Store is the whole persistence API. Methods are safe for concurrent use; each
// write is one transaction.
type Store interface {
	// CreateUser inserts a user; ErrAlreadyExists when the name is taken.
	CreateUser(ctx context.Context, username, passwordHash string, isAdmin bool) (User, error)
	// UserByName returns the user or ErrNotFound.
	UserByName(ctx context.Context, username string) (User, error)
	// ListUsers returns users with id > afterID in id order, at most limit (all when limit <= 0).
	ListUsers(ctx context.Context, afterID int32, limit int) ([]User, error)
	// CreateServiceAccount inserts a non-admin service account; ErrAlreadyExists
	// when the name is taken by any user.
	CreateServiceAccount(ctx context.Context, username string) (User, error)
	// ListServiceAccounts is ListUsers of the service accounts only.
	ListServiceAccounts(ctx context.Context, afterID int32, limit int) ([]User, error)
	// SetPasswordHash replaces a user's hash; ErrNotFound.
	SetPasswordHash(ctx context.Context, username, passwordHash string) error
	// SetAdmin sets the admin flag; ErrNotFound, or ErrLastAdmin when it would demote the last admin.
	SetAdmin(ctx context.Context, username string, isAdmin bool) error
	// DeleteUser removes the user and their grants; ErrNotFound, or ErrLastAdmin.
	DeleteUser(ctx context.Context, username string) error
	// CountAdmins returns the number of admins.
	CountAdmins(ctx context.Context) (int, error)

	// The grant methods act in the context's workspace (workspace.From): a grant
	// made in one workspace is not seen, changed or removed from another.
	// CreateBatch alone takes each grant's own Workspace.

	// CreateGrant inserts a grant; ErrNotFound when the user is gone, ErrAlreadyExists.
	CreateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (Grant, error)
	// Grant returns the grant or ErrNotFound.
	Grant(ctx context.Context, userID int32, r permission.Resource) (Grant, error)
	// UpdateGrant changes a grant's level; ErrNotFound.
	UpdateGrant(ctx context.Context, userID int32, r permission.Resource, l permission.Level) (Grant, error)
	// DeleteGrant removes a grant; ErrNotFound.
	DeleteGrant(ctx context.Context, userID int32, r permission.Resource) error
	// GrantsOfUsers returns every grant of the given users, ordered by user, type and id.
	GrantsOfUsers(ctx context.Context, userIDs []int32) ([]Grant, error)
	// GrantsOnResource returns grants on r with user id > afterUserID in user id
	// order, at most limit (all when limit <= 0).
	GrantsOnResource(ctx context.Context, r permission.Resource, afterUserID int32, limit int) ([]Grant, error)

	// GrantsInEveryWorkspace returns a user's grants on r in every workspace, by
	// workspace (MLflow 3.12's list of a user's workspace permissions).
	GrantsInEveryWorkspace(ctx context.Context, userID int32, r permission.Resource) ([]Grant, error)

	// AllGrantsOfUser returns every direct grant of a user, in every
	// workspace, by workspace, type and id: what deleting the user deletes.
	AllGrantsOfUser(ctx context.Context, userID int32) ([]Grant, error)

	// DeleteResourceGrants removes every grant on r (none is not an error).
	DeleteResourceGrants(ctx context.Context, r permission.Resource) error
	// MoveGrants re-points each of grants (read earlier, all of to's type) to to
	// (a renamed model), if it is still as read: a grant changed or removed since
	// stays where it is. A user with a grant on to keeps the one that moved.
	MoveGrants(ctx context.Context, grants []Grant, to permission.Resource) error

	// CreateBatch creates every user, grant and role (with its permissions and
	// assignments) of b in one transaction. When one of them exists already
	// (ErrAlreadyExists) or a grant's or assignment's user does not exist
	// (ErrNotFound), it writes nothing: a bulk import either lands whole or not at all.
	CreateBatch(ctx context.Context, b Batch) error

	// Ping checks that the database answers a query; ErrUnavailable when it cannot be reached.
	Ping(ctx context.Context) error

	// Close releases the database.
	Close() error
}

// Migrator applies the embedded schema migrations.
type Migrator interface {
	// Migrate applies every pending migration; safe to run from several processes at once.
	Migrate(ctx context.Context) error
	// MigrationStatus lists every known migration and whether it is applied.
	MigrationStatus(ctx context.Context) ([]MigrationState, error)
}

// MigrationState is one migration and whether the database has it.
type MigrationState struct {
	Version int
	Name    string
	Applied bool
}

// Role is a named set of permissions in a workspace ("default" until workspaces
// exist), which users hold through assignments. Description is nil when unset.
type Role struct {
	ID          int32
	Name        string
	Workspace   string
	Description *string
	Permissions []RolePermission // in id order
}

// RolePermission is one permission of a role on resources of one type: Pattern
// is "*" (every resource of the type) or one resource id. Level may be DENY.
type RolePermission struct {
	ID           int32
	RoleID       int32
	ResourceType string
	Pattern      string
	Level        permission.Level
}

// RoleAssignment says that a user holds a role.
type RoleAssignment struct {
	ID     int32
	UserID int32
	RoleID int32
}

// RoleGrant is one permission a user holds through one of their roles.
type RoleGrant struct {
	RoleID       int32
	RoleName     string
	ResourceType string
	Pattern      string
	Level        permission.Level
}

// RoleHolder is a user who holds a role permission.
type RoleHolder struct {
	UserID   int32
	Username string
	RoleGrant
}

// Roles keeps roles, their permissions and who holds them. Deleting a role or a
// user deletes its permissions and assignments. Every method that names a role
// by id answers ErrNotFound when there is none.
type Roles interface {
	// CreateRole inserts a role; ErrAlreadyExists when the workspace has one of that name.
	CreateRole(ctx context.Context, workspace, name string, description *string) (Role, error)
	// Role returns a role with its permissions.
	Role(ctx context.Context, id int32) (Role, error)
	// ListRoles returns roles (with permissions) with id > afterID in id order, at
	// most limit (all when limit <= 0); workspace "" means every workspace.
	ListRoles(ctx context.Context, workspace string, afterID int32, limit int) ([]Role, error)
	// UpdateRole changes the name and/or the description, each when not nil; ErrAlreadyExists.
	UpdateRole(ctx context.Context, id int32, name, description *string) (Role, error)
	// DeleteRole removes the role, its permissions and its assignments.
	DeleteRole(ctx context.Context, id int32) error

	// AddRolePermission adds a permission to a role; ErrAlreadyExists when the
	// role has one on the same type and pattern.
	AddRolePermission(ctx context.Context, roleID int32, resourceType, pattern string, l permission.Level) (RolePermission, error)
	// RolePermission returns one role permission; ErrNotFound.
	RolePermission(ctx context.Context, id int32) (RolePermission, error)
	// UpdateRolePermission changes a role permission's level; ErrNotFound.
	UpdateRolePermission(ctx context.Context, id int32, l permission.Level) (RolePermission, error)
	// RemoveRolePermission removes a role permission; ErrNotFound.
	RemoveRolePermission(ctx context.Context, id int32) error
	// RolePermissions returns a role's permissions in id order.
	RolePermissions(ctx context.Context, roleID int32) ([]RolePermission, error)

	// AssignRole gives a user a role; ErrNotFound when either is gone, ErrAlreadyExists.
	AssignRole(ctx context.Context, userID, roleID int32) (RoleAssignment, error)
	// UnassignRole takes a role from a user; ErrNotFound when the user does not hold it.
	UnassignRole(ctx context.Context, userID, roleID int32) error
	// RolesOfUser returns the roles (with permissions) a user holds, in id order.
	RolesOfUser(ctx context.Context, userID int32) ([]Role, error)
	// RoleAssignments returns who holds a role, in assignment id order.
	RoleAssignments(ctx context.Context, roleID int32) ([]RoleAssignment, error)
	// HoldsRoleIn reports whether a user holds any role of the workspace.
	HoldsRoleIn(ctx context.Context, userID int32, workspace string) (bool, error)
	// UsersSharingWorkspaces returns the users a non-admin may list: the user,
	// and, when the user holds a role or a direct grant in any workspace (MLflow
	// keeps a direct grant as a role of its workspace), the admins and every
	// user who holds either in one of those workspaces; with id > afterID in id
	// order, at most limit (all when limit <= 0). One query, however many
	// workspaces the user is in.
	UsersSharingWorkspaces(ctx context.Context, userID, afterID int32, limit int) ([]User, error)
	// RoleGrantsOfUser returns the permissions on resourceType and on the
	// workspace slot of the roles a user holds in workspace, by role and
	// permission id; with a resourceID, only those whose pattern is that id or
	// "*". It reads only that user's rows: the resolver asks it on every request,
	// so it must not cost more with more roles in the store.
	RoleGrantsOfUser(ctx context.Context, userID int32, workspace, resourceType, resourceID string) ([]RoleGrant, error)
	// RoleHoldersOf returns who holds, through roles of workspace, a permission
	// that names r (its id or "*") or that makes them the workspace's admin: for
	// users with id > afterUserID in user id order, at most limit users (all
	// when limit <= 0), each user's rows by role and permission id.
	RoleHoldersOf(ctx context.Context, workspace string, r permission.Resource, afterUserID int32, limit int) ([]RoleHolder, error)
}

// Token is a user's access token. Only Hash, SHA-256 of the secret, is kept.
// Ceiling caps what the token may do ("" means none; READ means at most READ).
type Token struct {
	ID         int32
	UserID     int32
	Name       string
	Hash       []byte
	Ceiling    permission.Level
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time // nil until first used
}

// Tokens keeps access tokens. Deleting a user deletes their tokens. Times are
// kept to the microsecond.
type Tokens interface {
	// CreateToken inserts t (ID and LastUsedAt ignored); ErrNotFound when the
	// user is gone, ErrAlreadyExists when the user has a token of that name.
	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenByHash returns the token with that hash and its user; ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, User, error)
	// TokensOfUser returns a user's tokens in id order.
	TokensOfUser(ctx context.Context, userID int32) ([]Token, error)
	// RotateToken gives a token a new hash, creation and expiry time, and
	// forgets when it was last used; name and ceiling stay. ErrNotFound.
	RotateToken(ctx context.Context, userID int32, name string, hash []byte, createdAt, expiresAt time.Time) (Token, error)
	// RevokeToken deletes a token; ErrNotFound.
	RevokeToken(ctx context.Context, userID int32, name string) error
	// TouchToken sets last_used_at to at unless it is notBefore or later
	// (so replicas write it at most once per interval).
	TouchToken(ctx context.Context, id int32, at, notBefore time.Time) error
}

// PoolStats is the state of a backend's database connections, for the metrics.
type PoolStats struct {
	Open, InUse, Idle, Max int
	Waits                  int64         // connections that had to be waited for, since start
	WaitTime               time.Duration // the total of those waits
}

// Pool is what a backend tells of its connections.
type Pool interface {
	PoolStats() PoolStats
}

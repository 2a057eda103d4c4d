// Package mlflowimport brings the users and grants of an MLflow basic-auth
// database into mlflow-auth. It reads the MLflow database (Read), maps MLflow's
// permission model onto mlflow-auth's direct grants (Source), and compares the
// result with an mlflow-auth store (NewPlan): what to create, what is already
// there, what conflicts. The plan's Batch is written by Store.CreateBatch in one
// transaction; nothing here writes.
//
// Which tables hold the grants (Source.Model):
//
//   - Classic (MLflow 2.5 to 3.12): experiment_permissions,
//     registered_model_permissions, scorer_permissions and the gateway tables,
//     one row per user and resource. In 3.12 the preview role tables add to them:
//     MLflow takes the higher of the direct and the role level.
//   - Roles (MLflow 3.13 and later): role_permissions on roles assigned through
//     user_role_assignments; a user's own grants sit on the hidden role
//     "__user_<id>__". MLflow 3.13 copied the classic rows into these tables
//     (revision e5f6a7b8c9d0) and left the classic tables behind unread, so
//     their rows may be stale and are ignored.
//
// The alembic revision in alembic_version_auth decides: a revision up to
// c3d4e5f6a7b8 (3.12) means Classic, any other means Roles. Without that table
// (a hand-made or pre-3.6 database) the role tables count only when they hold
// per-user roles, which only the 3.13 copy creates.
//
// Direct grants come from the classic tables, or in 3.13+ from each user's own
// role where a direct grant can hold the row (one resource, a classic level, the
// default workspace). Every other role is imported as a role, with its workspace,
// its permissions (DENY and wildcards included) and its imported members; what
// a user's own role holds beyond direct grants is kept as a role of that user
// alone. Nothing is folded here: mlflow-auth's resolver (package resolve) decides
// from the same rows as MLflow 3.17.2 does. A classic NO_PERMISSIONS row is a
// real grant and is kept. Rows mlflow-auth refuses (classic grants and
// workspace grants of other workspaces, levels or types MLflow's role API
// refuses) are reported as skipped, as are rows that a source without MLflow's
// keys repeats (the first is kept; users sharing a name or an id are all
// skipped); roles of other workspaces are kept with a note, since the resolver
// decides in "default" until workspaces exist.
package mlflowimport

import (
	"fmt"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Model says where a source database keeps its grants.
type Model string

const (
	// Classic is one permission table per resource type (MLflow 2.5 to 3.12).
	Classic Model = "classic"
	// Roles is roles, role_permissions and user_role_assignments (MLflow 3.13 and later).
	Roles Model = "roles"
)

// Source is what an MLflow auth database holds, in mlflow-auth's terms.
type Source struct {
	Model    Model
	Revision string // the auth schema's alembic revision, "" when the database has none
	Why      string // why Model was chosen
	Notes    []string
	Users    []storage.User // ID is unset
	Grants   []Grant        // sorted by user, type and resource id
	Roles    []Role         // in the source's role id order
	Skipped  []Skip
}

// Grant is a grant to import and the MLflow rows it was resolved from.
type Grant struct {
	storage.Grant        // by Username; UserID is unset
	From          string // e.g. "experiment_permissions, role team"
}

// Role is a role to import, with its permissions and imported members.
type Role struct {
	storage.BatchRole
	From string // what it keeps when it is not one of the source's roles
}

// Skip is something in the source that mlflow-auth cannot hold, and why.
type Skip struct {
	User bool // a user (and so all their grants); else one permission row
	What string
	Why  string
}

// Describe says in one line which model was read and why.
func (s *Source) Describe() string {
	where := "the classic permission tables (MLflow 3.12 or older)"
	if s.Model == Roles {
		where = "the role tables (MLflow 3.13 or newer)"
	}
	rev := "no alembic_version_auth"
	if s.Revision != "" {
		rev = "revision " + s.Revision
	}
	return fmt.Sprintf("grants read from %s; %s: %s", where, rev, s.Why)
}

func (g Grant) String() string {
	owner := userOwner(g.Username)
	if g.Workspace != "" {
		owner += fmt.Sprintf(" in workspace %q", g.Workspace)
	}
	return describeRow(g.Resource.Type, g.Resource.ID, string(g.Level), owner)
}

// describeRow names a grant for the report: `experiment "1" EDIT for user "alice"`.
func describeRow(typ any, id, level, owner string) string {
	return fmt.Sprintf("%s %q %s for %s", typ, id, level, owner)
}

func userOwner(username string) string { return fmt.Sprintf("user %q", username) }

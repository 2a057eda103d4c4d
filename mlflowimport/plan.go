package mlflowimport

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/terminal"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// Action is what an import does with one user or grant.
type Action string

// The actions. A conflict is never written: mlflow-auth keeps what it has.
const (
	Create    Action = "create"
	Unchanged Action = "unchanged"
	Conflict  Action = "conflict"
	Skipped   Action = "skip"
)

// UserStep is one source user and what the import does with it.
type UserStep struct {
	storage.User
	Action Action
	Detail string // why it conflicts
}

// GrantStep is one source grant and what the import does with it.
type GrantStep struct {
	Grant
	Action Action
	Detail string // why it conflicts or is skipped
}

// RoleStep is one source role and what the import does with it.
type RoleStep struct {
	Role
	Action Action
	Detail string // why it conflicts, or which members are left out
}

// Plan compares a Source with an mlflow-auth store. It is the one place that
// decides what is new, what is already there and what conflicts.
type Plan struct {
	Source *Source
	Users  []UserStep
	Grants []GrantStep
	Roles  []RoleStep
}

// Target is what a plan reads of the mlflow-auth store; storage.Store and
// storage.Roles have it.
type Target interface {
	ListUsers(ctx context.Context, afterID int32, limit int) ([]storage.User, error)
	GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error)
	ListRoles(ctx context.Context, workspace string, afterID int32, limit int) ([]storage.Role, error)
	RoleAssignments(ctx context.Context, roleID int32) ([]storage.RoleAssignment, error)
}

// NewPlan compares src with target; a nil target is an empty database.
//
// A user that exists with another password hash or admin flag conflicts, and
// their grants are skipped (the account may be someone else's). A grant that
// exists with another level conflicts. Conflicts are reported, never overwritten.
func NewPlan(ctx context.Context, src *Source, target Target) (*Plan, error) {
	existing := map[string]storage.User{}
	if target != nil {
		users, err := target.ListUsers(ctx, 0, 0)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			existing[u.Username] = u
		}
	}
	p := &Plan{Source: src}
	conflicting := map[string]bool{}
	var keptIDs []int32
	for _, u := range src.Users {
		step := UserStep{User: u, Action: Create}
		if t, ok := existing[u.Username]; ok {
			var diffs []string
			switch {
			case t.PasswordHash == u.PasswordHash:
			case password.Default.NeedsRehash(u.PasswordHash) && !password.Default.NeedsRehash(t.PasswordHash):
				// The server rehashes such hashes at the first login, so the password may be the same.
				diffs = append(diffs, "another password hash (perhaps the same password, rehashed at a login)")
			default:
				diffs = append(diffs, "another password hash")
			}
			if t.IsAdmin != u.IsAdmin {
				diffs = append(diffs, fmt.Sprintf("is_admin %t (MLflow: %t)", t.IsAdmin, u.IsAdmin))
			}
			if len(diffs) > 0 {
				step.Action, step.Detail = Conflict, "mlflow-auth has "+strings.Join(diffs, " and ")
				conflicting[u.Username] = true
			} else {
				step.Action = Unchanged
				keptIDs = append(keptIDs, t.ID)
			}
		}
		p.Users = append(p.Users, step)
	}
	have := map[grantKey]permission.Level{}
	if len(keptIDs) > 0 {
		read := map[string]bool{} // the workspaces whose grants are read
		for _, g := range src.Grants {
			if read[g.Workspace] {
				continue
			}
			read[g.Workspace] = true
			grants, err := target.GrantsOfUsers(workspace.With(ctx, cmp.Or(g.Workspace, workspace.Default)), keptIDs)
			if err != nil {
				return nil, err
			}
			for _, g2 := range grants {
				have[grantKey{g2.Username, g.Workspace, g2.Resource}] = g2.Level
			}
		}
	}
	for _, g := range src.Grants {
		step := GrantStep{Grant: g, Action: Create}
		if conflicting[g.Username] {
			step.Action, step.Detail = Skipped, "its user conflicts"
		} else if l, ok := have[g.key()]; ok && l == g.Level {
			step.Action = Unchanged
		} else if ok {
			step.Action, step.Detail = Conflict, fmt.Sprintf("mlflow-auth has %s", l)
		}
		p.Grants = append(p.Grants, step)
	}
	if err := p.planRoles(ctx, target, existing, conflicting); err != nil {
		return nil, err
	}
	return p, nil
}

// planRoles compares the source's roles with the store's by (workspace, name):
// a role there with the same permissions and members is unchanged, one with
// others conflicts. A member whose user conflicts is left out (of the role and
// of the comparison): the account may be someone else's.
func (p *Plan) planRoles(ctx context.Context, target Target, users map[string]storage.User, conflicting map[string]bool) error {
	have := map[[2]string]storage.Role{}
	if target != nil && len(p.Source.Roles) > 0 {
		roles, err := target.ListRoles(ctx, "", 0, 0)
		if err != nil {
			return err
		}
		for _, r := range roles {
			have[[2]string{r.Workspace, r.Name}] = r
		}
	}
	names := map[int32]string{}
	for _, u := range users {
		names[u.ID] = u.Username
	}
	for _, r := range p.Source.Roles {
		step := RoleStep{Role: r, Action: Create}
		var left []string
		step.Members = nil
		for _, m := range r.Members {
			if conflicting[m] {
				left = append(left, m)
			} else {
				step.Members = append(step.Members, m)
			}
		}
		t, ok := have[[2]string{r.Workspace, r.Name}]
		if !ok {
			if len(left) > 0 {
				step.Detail = fmt.Sprintf("not given to %s: those users conflict", quotedNames(left))
			}
			p.Roles = append(p.Roles, step)
			continue
		}
		as, err := target.RoleAssignments(ctx, t.ID)
		if err != nil {
			return err
		}
		var members []string
		for _, a := range as {
			members = append(members, names[a.UserID])
		}
		if permissionSet(t.Permissions) == permissionSet(r.Permissions) && memberSet(members) == memberSet(step.Members) {
			step.Action = Unchanged
		} else {
			step.Action, step.Detail = Conflict, "mlflow-auth has a role of that name with other permissions or members"
		}
		p.Roles = append(p.Roles, step)
	}
	return nil
}

func permissionSet(ps []storage.RolePermission) string {
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = p.ResourceType + "\x00" + p.Pattern + "\x00" + string(p.Level)
	}
	slices.Sort(keys)
	return strings.Join(keys, "\x01")
}

func memberSet(names []string) string {
	names = slices.Clone(names)
	slices.Sort(names)
	return strings.Join(names, "\x01")
}

// Batch is what the import writes: the users and grants to create.
func (p *Plan) Batch() storage.Batch {
	var b storage.Batch
	for _, u := range p.Users {
		if u.Action == Create {
			b.Users = append(b.Users, u.User)
		}
	}
	for _, g := range p.Grants {
		if g.Action == Create {
			b.Grants = append(b.Grants, g.Grant.Grant)
		}
	}
	for _, r := range p.Roles {
		if r.Action == Create {
			b.Roles = append(b.Roles, r.BatchRole)
		}
	}
	return b
}

// Counts is how many users, grants or roles get each action.
type Counts struct{ Create, Unchanged, Conflict, Skipped int }

// Counts returns the users' and the grants' counts. Skipped includes what the
// source holds that mlflow-auth cannot represent.
func (p *Plan) Counts() (users, grants Counts) {
	count := func(c *Counts, a Action) {
		switch a {
		case Create:
			c.Create++
		case Unchanged:
			c.Unchanged++
		case Conflict:
			c.Conflict++
		case Skipped:
			c.Skipped++
		}
	}
	for _, u := range p.Users {
		count(&users, u.Action)
	}
	for _, g := range p.Grants {
		count(&grants, g.Action)
	}
	for _, s := range p.Source.Skipped {
		if s.User {
			users.Skipped++
		} else {
			grants.Skipped++
		}
	}
	return users, grants
}

// RoleCounts is how many roles get each action.
func (p *Plan) RoleCounts() Counts {
	var c Counts
	for _, r := range p.Roles {
		switch r.Action {
		case Create:
			c.Create++
		case Unchanged:
			c.Unchanged++
		case Conflict:
			c.Conflict++
		}
	}
	return c
}

// describeRole names a role with its permissions and members for the report.
func describeRole(r Role) string {
	perms := make([]string, len(r.Permissions))
	for i, p := range r.Permissions {
		perms[i] = fmt.Sprintf("%s %q %s", p.ResourceType, p.Pattern, p.Level)
	}
	from := ""
	if r.From != "" {
		from = " (" + r.From + ")"
	}
	return fmt.Sprintf("role %q in workspace %q%s: permissions [%s], members [%s]",
		r.Name, r.Workspace, from, strings.Join(perms, ", "), quotedNames(r.Members))
}

// quotedNames lists usernames for the report, each quoted as a user's name is
// elsewhere in it: a name may hold ", " or what a terminal shows otherwise.
func quotedNames(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

// Report writes what the plan does (dryRun: would do): each creation, conflict
// and skip, then the counts. It never shows a password hash.
func (p *Plan) Report(w io.Writer, dryRun bool) {
	created, create := "created", "create"
	if dryRun {
		created, create = "to create", "would create"
	}
	for _, n := range p.Source.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, u := range p.Users {
		admin := ""
		if u.IsAdmin {
			admin = " (admin)"
		}
		switch u.Action {
		case Create:
			fmt.Fprintf(w, "%s user %q%s\n", create, u.Username, admin)
		case Conflict:
			fmt.Fprintf(w, "conflict: user %q: %s; left as it is\n", u.Username, u.Detail)
		}
	}
	for _, g := range p.Grants {
		switch g.Action {
		case Create:
			fmt.Fprintf(w, "%s grant %s (from %s)\n", create, g, g.From)
		case Conflict:
			fmt.Fprintf(w, "conflict: grant %s: %s; left as it is\n", g, g.Detail)
		case Skipped:
			fmt.Fprintf(w, "skipped: grant %s: %s\n", g, g.Detail)
		}
	}
	for _, r := range p.Roles {
		switch r.Action {
		case Create:
			fmt.Fprintf(w, "%s %s\n", create, describeRole(r.Role))
			if r.Detail != "" {
				fmt.Fprintf(w, "  %s\n", r.Detail)
			}
		case Conflict:
			fmt.Fprintf(w, "conflict: %s: %s; left as it is\n", describeRole(r.Role), r.Detail)
		}
	}
	for _, s := range p.Source.Skipped {
		fmt.Fprintf(w, "skipped: %s: %s\n", terminal.Safe(s.What), terminal.Safe(s.Why))
	}
	users, grants := p.Counts()
	roles := p.RoleCounts()
	fmt.Fprintf(w, "users:  %d %s, %d unchanged, %d conflicting, %d skipped\n", users.Create, created, users.Unchanged, users.Conflict, users.Skipped)
	fmt.Fprintf(w, "grants: %d %s, %d unchanged, %d conflicting, %d skipped\n", grants.Create, created, grants.Unchanged, grants.Conflict, grants.Skipped)
	if len(p.Roles) > 0 {
		fmt.Fprintf(w, "roles:  %d %s, %d unchanged, %d conflicting\n", roles.Create, created, roles.Unchanged, roles.Conflict)
	}
	switch {
	case dryRun:
		fmt.Fprintln(w, "dry run: nothing was written")
	case users.Create+grants.Create+roles.Create == 0:
		fmt.Fprintln(w, "nothing to import: mlflow-auth already has everything it can take from this database")
	case len(p.Roles) > 0:
		fmt.Fprintf(w, "imported %d users, %d grants and %d roles in one transaction\n", users.Create, grants.Create, roles.Create)
	default:
		fmt.Fprintf(w, "imported %d users and %d grants in one transaction\n", users.Create, grants.Create)
	}
	if n := users.Conflict + grants.Conflict + roles.Conflict; n > 0 {
		fmt.Fprintf(w, "%d conflicts were left as they are in mlflow-auth: resolve them through the API and run the import again if needed\n", n)
	}
}

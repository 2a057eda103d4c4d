package mlflowimport

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
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

// Plan compares a Source with an mlflow-auth store. It is the one place that
// decides what is new, what is already there and what conflicts.
type Plan struct {
	Source *Source
	Users  []UserStep
	Grants []GrantStep
}

// Target is what a plan reads of the mlflow-auth store; storage.Store has it.
type Target interface {
	ListUsers(ctx context.Context, afterID int32, limit int) ([]storage.User, error)
	GrantsOfUsers(ctx context.Context, userIDs []int32) ([]storage.Grant, error)
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
	type key struct {
		username string
		resource permission.Resource
	}
	have := map[key]permission.Level{}
	if len(keptIDs) > 0 {
		grants, err := target.GrantsOfUsers(ctx, keptIDs)
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			have[key{g.Username, g.Resource}] = g.Level
		}
	}
	for _, g := range src.Grants {
		step := GrantStep{Grant: g, Action: Create}
		if conflicting[g.Username] {
			step.Action, step.Detail = Skipped, "its user conflicts"
		} else if l, ok := have[key{g.Username, g.Resource}]; ok && l == g.Level {
			step.Action = Unchanged
		} else if ok {
			step.Action, step.Detail = Conflict, fmt.Sprintf("mlflow-auth has %s", l)
		}
		p.Grants = append(p.Grants, step)
	}
	return p, nil
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
	return b
}

// Counts is how many users or grants get each action.
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
	for _, s := range p.Source.Skipped {
		fmt.Fprintf(w, "skipped: %s: %s\n", s.What, s.Why)
	}
	users, grants := p.Counts()
	fmt.Fprintf(w, "users:  %d %s, %d unchanged, %d conflicting, %d skipped\n", users.Create, created, users.Unchanged, users.Conflict, users.Skipped)
	fmt.Fprintf(w, "grants: %d %s, %d unchanged, %d conflicting, %d skipped\n", grants.Create, created, grants.Unchanged, grants.Conflict, grants.Skipped)
	switch {
	case dryRun:
		fmt.Fprintln(w, "dry run: nothing was written")
	case users.Create+grants.Create == 0:
		fmt.Fprintln(w, "nothing to import: mlflow-auth already has everything it can take from this database")
	default:
		fmt.Fprintf(w, "imported %d users and %d grants in one transaction\n", users.Create, grants.Create)
	}
	if n := users.Conflict + grants.Conflict; n > 0 {
		fmt.Fprintf(w, "%d conflicts were left as they are in mlflow-auth: resolve them through the API and run the import again if needed\n", n)
	}
}

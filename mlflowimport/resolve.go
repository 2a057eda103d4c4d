package mlflowimport

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// classicRevisions are the auth schema revisions before MLflow 3.13 moved the
// grants into the role tables (e5f6a7b8c9d0).
var classicRevisions = map[string]bool{
	"8606fa83a998": true, // 2.5: users, experiment and registered-model permissions
	"0965eb92f5f0": true, // 3.7: scorer permissions
	"a1b2c3d4e5f6": true, // 3.9: gateway permissions
	"2ed73881770d": true, // 3.10: workspaces
	"c3d4e5f6a7b8": true, // 3.12: role tables (a preview that adds to the classic grants)
}

// syntheticRole is the name of the hidden role holding one user's own grants (3.13+).
var syntheticRole = regexp.MustCompile(`^__user_(\d+)__$`)

// classicVersion is the last MLflow of the Classic model: a type it did not
// guard means nothing in its database.
const classicVersion = "3.12"

const (
	defaultWorkspace = "default"
	workspaceType    = "workspace" // MLflow's workspace-wide rows: pattern '*', every type
	deny             = "DENY"      // MLflow 3.13+: an absolute deny
)

// rank is MLflow's PERMISSION_PRIORITY: the higher level wins.
var rank = map[string]int{"NO_PERMISSIONS": 0, "READ": 1, "USE": 2, "EDIT": 3, "MANAGE": 4}

func higher(a, b string) string {
	if a == "" || rank[b] > rank[a] {
		return b
	}
	return a
}

// row is one MLflow permission row that applies to one user.
type row struct {
	typ, pattern string // a role row's pattern "*" means every resource of typ
	level        string
	direct       bool // from a classic table, not through a role: never a wildcard
	from         string
}

// concrete reports whether the row names a single resource.
func (r row) concrete() bool { return r.direct || (r.pattern != "*" && r.typ != workspaceType) }

// builder turns a raw source into a Source.
type builder struct {
	*Source
	raw   *raw
	users map[int64]string // imported users by MLflow id
	rows  map[int64][]row  // every row that applies to each imported user
}

func build(r *raw) *Source {
	b := &builder{Source: &Source{Revision: r.revision}, raw: r, users: map[int64]string{}, rows: map[int64][]row{}}
	b.Model, b.Why = detect(r)
	b.addUsers()
	if b.Model == Classic {
		b.addClassicRows()
	} else if n := len(r.direct) + len(r.workspaces); n > 0 {
		b.Notes = append(b.Notes, fmt.Sprintf("the classic permission tables hold %d row(s), which were not read: MLflow 3.13 copied them into the role tables and no longer uses them.", n))
	}
	if r.hasRoleTables() {
		b.addRoleRows()
	}
	if b.Model == Roles {
		b.Notes = append(b.Notes, "MLflow 3.13+ treats its default_permission as a floor; mlflow-auth, like MLflow 3.12, lets a grant below the default restrict its user. Review imported grants below your default permission.")
	}
	for _, u := range r.users {
		if name, ok := b.users[u.id]; ok {
			b.resolve(name, b.rows[u.id])
		}
	}
	slices.SortFunc(b.Grants, func(x, y Grant) int {
		return strings.Compare(x.Username+"\x00"+string(x.Resource.Type)+"\x00"+x.Resource.ID,
			y.Username+"\x00"+string(y.Resource.Type)+"\x00"+y.Resource.ID)
	})
	return b.Source
}

// detect decides which tables hold the grants; see the package comment.
func detect(r *raw) (Model, string) {
	switch {
	case !r.hasRoleTables():
		return Classic, "the database has no role tables"
	case classicRevisions[r.revision]:
		return Classic, "this revision predates MLflow 3.13, which moved the grants into the role tables"
	case r.revision != "":
		return Roles, "MLflow 3.13 and later keep the grants only in the role tables"
	}
	for id, role := range r.roles {
		if syntheticRole.MatchString(role.name) && len(r.members[id]) > 0 {
			return Roles, "per-user roles (__user_<id>__) exist, which only MLflow 3.13 and later create"
		}
	}
	return Classic, "no per-user roles (__user_<id>__) exist, so MLflow 3.13 never converted this database"
}

func (b *builder) skip(user bool, what, why string, args ...any) {
	b.Skipped = append(b.Skipped, Skip{User: user, What: what, Why: fmt.Sprintf(why, args...)})
}

func (b *builder) addUsers() {
	for _, u := range b.raw.users {
		name := u.name.String
		what := fmt.Sprintf("user %q", name)
		refusal := service.UsernameRefusal(name) // a ':' never worked in HTTP Basic anyway
		switch {
		case !u.name.Valid || name == "":
			b.skip(true, fmt.Sprintf("user id %d", u.id), "it has no username")
		case refusal != "":
			b.skip(true, what, "mlflow-auth refuses it: %s Their grants are not imported either.", refusal)
		case !u.hash.Valid || u.hash.String == "":
			b.skip(true, what, "it has no password hash; their grants are not imported either")
		default:
			b.users[u.id] = name
			b.Users = append(b.Users, storage.User{Username: name, PasswordHash: u.hash.String, IsAdmin: u.admin.Valid && u.admin.Bool})
		}
	}
}

// addClassicRows takes the per-resource tables as MLflow 3.12 and older read them.
func (b *builder) addClassicRows() {
	for _, d := range b.raw.direct {
		name, ok := b.users[d.userID]
		what := describeRow(d.typ, d.key, d.level.String, userOwner(name))
		_, known := rank[d.level.String]
		switch {
		case !ok:
			continue // a user reported as skipped, with all their grants
		case d.workspace != defaultWorkspace:
			b.skip(false, what, "it is in workspace %q; mlflow-auth has no workspaces and imports only the default one", d.workspace)
		case !known:
			b.skip(false, what, "unknown permission %q", d.level.String)
		default:
			b.rows[d.userID] = append(b.rows[d.userID], row{typ: d.typ, pattern: d.key, level: d.level.String, direct: true, from: d.table})
		}
	}
	for _, w := range b.raw.workspaces {
		if name, ok := b.users[w.userID]; ok {
			b.skip(false, describeRow("workspace", w.key, w.level.String, userOwner(name)), "mlflow-auth has no workspaces")
		}
	}
}

// addRoleRows gives each role's rows to the role's imported members.
func (b *builder) addRoleRows() {
	for _, p := range b.raw.rolePerms {
		role, ok := b.raw.roles[p.roleID]
		members := b.raw.members[p.roleID]
		if !ok || len(members) == 0 {
			continue // grants nobody, in MLflow too
		}
		level := p.level.String
		owner, from := b.roleOwner(role, members)
		what := describeRow(p.typ, p.pattern, level, owner)
		r := row{typ: p.typ, pattern: p.pattern, level: level, from: from}
		info, typeErr := permission.Lookup(p.typ)
		knownType := typeErr == nil && (b.Model == Roles || info.GuardedBy(classicVersion))
		_, knownLevel := rank[level]
		switch {
		case role.workspace != defaultWorkspace:
			b.skip(false, what, "mlflow-auth has no workspaces and imports only the default one")
			continue
		case p.typ == workspaceType && (p.pattern != "*" || !b.workspaceRowCounts(level)):
			b.skip(false, what, "workspace access has no counterpart in mlflow-auth")
			continue
		case p.typ == workspaceType:
			b.skip(false, what, "a workspace-wide grant cannot be represented; it still raised its members' grants on single resources")
		case !knownType:
			b.skip(false, what, "mlflow-auth has no resource type %q", p.typ)
			continue
		case level == "NO_PERMISSIONS":
			b.skip(false, what, "NO_PERMISSIONS on a role changes nothing in MLflow")
			continue
		case !knownLevel && !(b.Model == Roles && level == deny):
			b.skip(false, what, "unknown permission %q", level)
			continue
		case p.pattern == "*":
			b.skip(false, what, "a wildcard grant cannot be represented; it still counted towards its members' grants on single resources of that type")
		}
		for _, id := range members {
			if _, ok := b.users[id]; ok {
				b.rows[id] = append(b.rows[id], r)
			}
		}
	}
}

// workspaceRowCounts reports whether a workspace-wide role row affects the level
// on single resources: any level in 3.12's preview, only MANAGE (a workspace admin) in 3.13+.
func (b *builder) workspaceRowCounts(level string) bool {
	if b.Model == Roles {
		return level == "MANAGE"
	}
	_, ok := rank[level]
	return ok && level != "NO_PERMISSIONS"
}

// roleOwner names a role for the report ("user x" for a user's own hidden role)
// and for a grant's provenance.
func (b *builder) roleOwner(role rawRole, members []int64) (owner, from string) {
	owner, from = fmt.Sprintf("role %q", role.name), "role "+role.name
	if m := syntheticRole.FindStringSubmatch(role.name); m != nil && len(members) == 1 && fmt.Sprint(members[0]) == m[1] {
		owner, from = userOwner(b.users[members[0]]), "own grant"
	}
	if role.workspace != defaultWorkspace {
		owner += fmt.Sprintf(" in workspace %q", role.workspace)
	}
	return owner, from
}

// resolve computes one user's level on every single resource their rows name,
// as MLflow would from all of them. Rows are indexed so that a user with many
// grants costs linear time.
func (b *builder) resolve(username string, rows []row) {
	type key struct{ typ, id string }
	var keys []key
	exact := map[key][]row{}
	wildcards := map[string][]row{} // by type
	var workspaceWide []row
	for _, r := range rows {
		switch k := (key{r.typ, r.pattern}); {
		case r.concrete():
			if _, seen := exact[k]; !seen {
				keys = append(keys, k)
			}
			exact[k] = append(exact[k], r)
		case r.typ == workspaceType:
			workspaceWide = append(workspaceWide, r)
		default:
			wildcards[r.typ] = append(wildcards[r.typ], r)
		}
	}
	for _, k := range keys {
		level, from := b.fold(slices.Concat(exact[k], wildcards[k.typ], workspaceWide))
		res, err := b.resource(k.typ, k.id)
		if refusal := service.ResourceRefusal(res); err == nil && refusal != "" {
			err = errors.New("mlflow-auth refuses it: " + refusal)
		}
		if err != nil {
			b.skip(false, describeRow(k.typ, k.id, level, userOwner(username)), "%v", err)
			continue
		}
		l := permission.Level(level)
		if level == deny {
			l = permission.NoPermissions // a direct NO_PERMISSIONS grant denies whatever the default
		}
		b.Grants = append(b.Grants, Grant{Grant: storage.Grant{Username: username, Resource: res, Level: l}, From: from})
	}
}

// fold is MLflow's resolution over the rows that match one resource.
func (b *builder) fold(rows []row) (level, from string) {
	var froms []string
	for _, r := range rows {
		if !slices.Contains(froms, r.from) {
			froms = append(froms, r.from)
		}
	}
	from = strings.Join(froms, ", ")
	if b.Model == Classic {
		// 3.12: the higher of the direct level (NO_PERMISSIONS included) and the
		// best role level.
		var direct, role string
		for _, r := range rows {
			if r.direct {
				direct = r.level
			} else {
				role = higher(role, r.level)
			}
		}
		return higher(direct, role), from
	}
	// 3.13+: the best level; a DENY wins unless the user is a workspace admin.
	var best string
	var denied, admin bool
	for _, r := range rows {
		switch {
		case r.typ == workspaceType: // only MANAGE rows get this far
			admin = true
		case r.level == deny:
			denied = true
		default:
			best = higher(best, r.level)
		}
	}
	switch {
	case admin:
		return "MANAGE", from
	case denied:
		return deny, from
	}
	return best, from
}

// resource turns MLflow's resource key into mlflow-auth's resource.
func (b *builder) resource(typ, key string) (permission.Resource, error) {
	t := permission.ResourceType(typ)
	if t != permission.Scorer {
		return permission.Resource{Type: t, ID: key}, nil
	}
	if b.Model == Classic {
		// "<experiment id>/<scorer name>", the name as it is: ids have no '/'.
		experimentID, name, _ := strings.Cut(key, "/")
		return permission.ScorerResource(experimentID, name), nil
	}
	experimentID, name, err := permission.SplitScorerID(key) // 3.13+ quotes the name
	if err != nil {
		return permission.Resource{}, err
	}
	return permission.ScorerResource(experimentID, name), nil
}

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
	"github.com/mlflow-auth/mlflow-auth/workspace"
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

// directType reports whether a direct grant can hold a row of typ: a type
// that names one resource and that the source's MLflow guards.
func (b *builder) directType(typ string) bool {
	info, err := permission.Lookup(typ)
	return err == nil && info.PerID && (b.Model != Classic || info.GuardedBy(classicVersion))
}

const (
	defaultWorkspace = "default"
)

// directLevels are the levels a direct grant holds; NO_PERMISSIONS is a
// classic grant that restricts (MLflow 3.13+ still reads one).
var directLevels = map[string]bool{"NO_PERMISSIONS": true, "READ": true, "USE": true, "EDIT": true, "MANAGE": true}

// builder turns a raw source into a Source.
type builder struct {
	*Source
	raw     *raw
	users   map[int64]string // imported users by MLflow id
	ids     map[int64]int    // how many users of the source have each id
	granted map[grantKey]Grant
}

func build(r *raw) *Source {
	b := &builder{Source: &Source{Revision: r.revision}, raw: r, users: map[int64]string{}, granted: map[grantKey]Grant{}}
	b.Model, b.Why = detect(r)
	b.addUsers()
	if b.Model == Classic {
		b.addClassicRows()
	} else if n := len(r.direct) + len(r.workspaces); n > 0 {
		b.Notes = append(b.Notes, fmt.Sprintf("the classic permission tables hold %d row(s), which were not read: MLflow 3.13 copied them into the role tables and no longer uses them.", n))
	}
	if r.hasRoleTables() {
		b.addRoles()
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
	// MLflow's keys make both unique; a source that repeats one leaves it
	// ambiguous whose password logs in and whose rows the grants are.
	names, ids := map[string]int{}, map[int64]int{}
	for _, u := range b.raw.users {
		names[u.name.String]++
		ids[u.id]++
	}
	b.ids = ids
	for _, u := range b.raw.users {
		name := u.name.String
		what := fmt.Sprintf("user %q", name)
		refusal := service.UsernameRefusal(name) // a ':' never worked in HTTP Basic anyway
		hashRefusal := service.PasswordHashRefusal(u.hash.String)
		switch {
		case !u.name.Valid || name == "":
			b.skip(true, userIDOwner(u.id), "it has no username")
		case refusal != "":
			b.skip(true, what, "mlflow-auth refuses it: %s Their grants are not imported either.", refusal)
		case names[name] > 1:
			b.skip(true, what, "the source holds %d users of that name; none of them nor their grants are imported", names[name])
		case ids[u.id] > 1:
			b.skip(true, what, "the source holds %d users with its id %d; none of them nor their grants are imported", ids[u.id], u.id)
		case !u.hash.Valid || u.hash.String == "":
			b.skip(true, what, "it has no password hash; their grants are not imported either")
		case hashRefusal != "":
			b.skip(true, what, "mlflow-auth refuses its password hash: %s Their grants are not imported either.", hashRefusal)
		default:
			b.users[u.id] = name
			b.Users = append(b.Users, storage.User{Username: name, PasswordHash: u.hash.String, IsAdmin: u.admin.Valid && u.admin.Bool})
		}
	}
}

// addClassicRows takes the per-resource tables as MLflow 3.12 and older read them.
func (b *builder) addClassicRows() {
	for _, d := range b.raw.direct {
		name, ok := b.userOf(d.userID, describeRow(d.typ, d.key, d.level.String, userIDOwner(d.userID)))
		what := describeRow(d.typ, d.key, d.level.String, userOwner(name))
		known := directLevels[d.level.String]
		switch {
		case !ok:
			continue // reported, with its user or by userOf
		case !known:
			b.skip(false, what, "unknown permission %q", d.level.String)
		default:
			b.addGrant(name, d.workspace, d.typ, d.key, d.level.String, d.table)
		}
	}
	// A workspace permission (3.10-3.12) is the user's direct grant on the
	// workspace itself, in that workspace, as the workspace permission calls keep it.
	for _, w := range b.raw.workspaces {
		name, ok := b.userOf(w.userID, describeRow("workspace", w.key, w.level.String, userIDOwner(w.userID)))
		switch {
		case !ok:
		case !directLevels[w.level.String]:
			b.skip(false, describeRow("workspace", w.key, w.level.String, userOwner(name)), "unknown permission %q", w.level.String)
		default:
			b.addGrant(name, w.key, string(workspace.Resource.Type), workspace.Resource.ID, w.level.String, "workspace_permissions")
		}
	}
}

// userOf is the imported user a row of the source names. A row naming no user
// of the source (SQLite does not enforce MLflow's foreign keys) is reported as
// what; one of a skipped user goes unsaid, as their skip says it.
func (b *builder) userOf(id int64, what string) (string, bool) {
	name, ok := b.users[id]
	if !ok && b.ids[id] == 0 {
		b.skip(false, what, "no user of the source has the id %d", id)
	}
	return name, ok
}

func userIDOwner(id int64) string { return fmt.Sprintf("user id %d", id) }

// addGrant adds a direct grant in workspace ws, or reports why mlflow-auth refuses it.
func (b *builder) addGrant(username, ws, typ, key, level, from string) {
	res, err := b.resource(typ, key)
	if refusal := service.ResourceRefusal(res); err == nil && refusal != "" {
		err = errors.New("mlflow-auth refuses it: " + refusal)
	}
	if name, wsErr := workspace.Parse(ws); err == nil && (wsErr != nil || name != ws) {
		if wsErr == nil {
			wsErr = errors.New("a workspace name has no spaces around it")
		}
		err = fmt.Errorf("mlflow-auth refuses its workspace: %v", wsErr)
	}
	if err != nil {
		b.skip(false, describeRow(typ, key, level, userOwner(username)), "%v", err)
		return
	}
	if ws == defaultWorkspace {
		ws = "" // storage.Grant's name for it
	}
	g := Grant{Grant: storage.Grant{Username: username, Resource: res, Level: permission.Level(level), Workspace: ws}, From: from}
	if first, ok := b.granted[g.key()]; ok { // MLflow's keys allow one row; a grant holds one level
		b.skip(false, describeRow(typ, key, level, userOwner(username)), "the source grants it already: %s (from %s) is imported", first, first.From)
		return
	}
	b.granted[g.key()] = g
	b.Grants = append(b.Grants, g)
}

// grantKey is what makes a grant unique in the store.
type grantKey struct {
	username, workspace string
	resource            permission.Resource
}

func (g Grant) key() grantKey { return grantKey{g.Username, g.Workspace, g.Resource} }

// addRoles imports MLflow's roles as roles, with their workspace, permissions
// (DENY and wildcards included) and imported members, so that mlflow-auth's
// resolver decides from the same rows as MLflow's. A user's own hidden role
// (__user_<id>__, 3.13+) becomes their direct grants where a direct grant can
// hold the row (one resource of a type mlflow-auth grants directly, a classic
// level, the default workspace); the rest of it (DENY, wildcards, workspace
// rows, other workspaces) is kept as a role that only that user holds.
func (b *builder) addRoles() {
	perms := map[int64][]rawRolePerm{}
	for _, p := range b.raw.rolePerms {
		perms[p.roleID] = append(perms[p.roleID], p)
	}
	taken := map[[2]string]bool{} // (workspace, name) of the source's roles
	ids := make([]int64, 0, len(b.raw.roles))
	for id, role := range b.raw.roles {
		ids = append(ids, id)
		taken[[2]string{role.workspace, role.name}] = true
	}
	slices.Sort(ids)
	made := map[[2]string]bool{} // (workspace, name) of the roles imported
	for _, id := range ids {
		role, members := b.raw.roles[id], b.raw.members[id]
		owner := b.roleOwner(role, members)
		own := b.ownRole(role, members)
		r := Role{BatchRole: storage.BatchRole{Role: storage.Role{Workspace: role.workspace, Name: role.name, Description: role.description}}}
		for _, m := range members {
			if name, ok := b.userOf(m, fmt.Sprintf("assignment of %s to %s", owner, userIDOwner(m))); ok {
				r.Members = append(r.Members, name)
			}
		}
		if own != "" {
			r.Name, r.From = ownRoleName(own), "own grants that a direct grant cannot hold"
			desc := fmt.Sprintf("Imported from MLflow: %s's own grants (%s) that a direct grant cannot hold", own, role.name)
			r.Description = &desc
		}
		if n := b.raw.roleCopies[id]; n > 1 { // whose permissions and members the rows are is ambiguous
			b.skip(false, fmt.Sprintf("role id %d", id), "the source holds %d roles with this id (%q among them); none of them nor their permissions and members are imported", n, role.name)
			continue
		}
		refusal := service.RoleRefusal(r.Workspace, r.Name, r.Description)
		if refusal != "" && own == "" { // an own role's direct grants need no role
			b.skip(false, owner, "mlflow-auth refuses it: %s Its permissions and members are not imported either.", refusal)
			continue
		}
		if made[[2]string{r.Workspace, r.Name}] {
			b.skip(false, owner, "another role %q of its workspace comes first in the source and is imported; this one, its permissions and members are not", r.Name)
			continue
		}
		held := map[[2]string]string{} // (type, pattern) → level: the store keeps one
		for _, p := range perms[id] {
			level := p.level.String
			what := describeRow(p.typ, p.pattern, level, owner)
			if own != "" && p.pattern != permission.Wildcard && b.directType(p.typ) && directLevels[level] {
				b.addGrant(own, role.workspace, p.typ, p.pattern, level, "own grant")
				continue
			}
			if _, err := permission.RolePattern(p.typ, p.pattern); err != nil { // kept as MLflow stored it
				b.skip(false, what, "mlflow-auth refuses it: %v", err)
				continue
			}
			if refusal := service.RolePatternRefusal(p.pattern); refusal != "" {
				b.skip(false, what, "mlflow-auth refuses it: %s", refusal)
				continue
			}
			l, err := permission.CheckRoleLevel(p.typ, level)
			if err != nil {
				b.skip(false, what, "mlflow-auth refuses it: %v", err)
				continue
			}
			if first, ok := held[[2]string{p.typ, p.pattern}]; ok {
				b.skip(false, what, "the source gives the role %s on it already, which is imported", first)
				continue
			}
			held[[2]string{p.typ, p.pattern}] = level
			r.Permissions = append(r.Permissions, storage.RolePermission{ResourceType: p.typ, Pattern: p.pattern, Level: l})
		}
		switch {
		case own != "" && len(r.Permissions) == 0:
			continue // all of it became direct grants
		case own != "" && refusal != "":
			for _, p := range r.Permissions {
				b.skip(false, describeRow(p.ResourceType, p.Pattern, string(p.Level), owner),
					"a direct grant cannot hold it, and mlflow-auth refuses the role %q that would keep it: %s", r.Name, refusal)
			}
			continue
		case own != "" && taken[[2]string{r.Workspace, r.Name}]:
			for _, p := range r.Permissions {
				b.skip(false, describeRow(p.ResourceType, p.Pattern, string(p.Level), owner),
					"a direct grant cannot hold it, and the role %q that would keep it exists in the source already", r.Name)
			}
			continue
		case own == "" && syntheticRole.MatchString(role.name):
			b.skip(false, fmt.Sprintf("role %q", role.name), "it is a per-user role without its user; mlflow-auth refuses the __user_ prefix")
			continue
		}
		made[[2]string{r.Workspace, r.Name}] = true
		if r.Workspace != defaultWorkspace {
			b.Notes = append(b.Notes, fmt.Sprintf("role %q of workspace %q is imported with its workspace; it counts for requests in that workspace (X-MLFLOW-WORKSPACE).", r.Name, r.Workspace))
		}
		b.Roles = append(b.Roles, r)
	}
	b.reportLostRoles(perms)
}

// reportLostRoles reports the permissions and assignments of role ids that no
// role of the source has (SQLite does not enforce MLflow's foreign keys).
func (b *builder) reportLostRoles(perms map[int64][]rawRolePerm) {
	var lost []int64
	for id := range perms {
		if _, ok := b.raw.roles[id]; !ok {
			lost = append(lost, id)
		}
	}
	for id := range b.raw.members {
		if _, ok := b.raw.roles[id]; !ok && perms[id] == nil {
			lost = append(lost, id)
		}
	}
	slices.Sort(lost)
	for _, id := range lost {
		b.skip(false, fmt.Sprintf("role id %d", id), "%d permission(s) and %d assignment(s) name it, but no role of the source has this id",
			len(perms[id]), len(b.raw.members[id]))
	}
}

// ownRole is the username whose own hidden role role is, "" when it is not one
// (or its user is not imported).
func (b *builder) ownRole(role rawRole, members []int64) string {
	if m := syntheticRole.FindStringSubmatch(role.name); m != nil && len(members) == 1 && fmt.Sprint(members[0]) == m[1] {
		return b.users[members[0]]
	}
	return ""
}

// ownRoleName names the role that keeps the own grants of a user that direct
// grants cannot hold; mlflow-auth reserves MLflow's __user_ prefix.
func ownRoleName(username string) string { return "own grants of " + username }

// roleOwner names a role for the report ("user x" for a user's own hidden role).
func (b *builder) roleOwner(role rawRole, members []int64) string {
	owner := fmt.Sprintf("role %q", role.name)
	if name := b.ownRole(role, members); name != "" {
		owner = userOwner(name)
	}
	if role.workspace != defaultWorkspace {
		owner += fmt.Sprintf(" in workspace %q", role.workspace)
	}
	return owner
}

// resource turns MLflow's resource key into mlflow-auth's resource.
func (b *builder) resource(typ, key string) (permission.Resource, error) {
	t := permission.ResourceType(typ)
	if t != permission.Scorer {
		info, err := permission.Lookup(typ)
		if err != nil {
			return permission.Resource{}, err
		}
		id, err := info.Canonical(key) // as the API stores it: MLflow's "01" is experiment 1
		return permission.Resource{Type: t, ID: id}, err
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

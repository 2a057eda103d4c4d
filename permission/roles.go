package permission

import (
	"fmt"
	"slices"
	"strings"
)

// Deny is MLflow 3.17's explicit deny. Only role permissions carry it for now;
// direct grants keep the classic levels.
const Deny Level = "DENY"

// Wildcard is the role-permission pattern that matches every resource of its type.
const Wildcard = "*"

// roleLevels are MLflow's permission names in its own order (ALL_PERMISSIONS).
var roleLevels = []Level{Read, Use, Edit, Manage, NoPermissions, Deny}

// CheckRoleLevel checks that level may be held by a role on resourceType, with
// MLflow 3.17.2's messages and in its order (the permission name first).
func CheckRoleLevel(resourceType, level string) (Level, error) {
	l := Level(level)
	if !slices.Contains(roleLevels, l) {
		return "", fmt.Errorf("Invalid permission '%s'. Valid permissions are: %s", level, pyTuple(roleLevels, false))
	}
	t, err := Lookup(resourceType)
	if err != nil {
		return "", err
	}
	if err := t.checkLevel(l); err != nil {
		return "", err
	}
	return l, nil
}

// RolePattern checks a role permission's pattern against its type's grain and
// returns it in the form it is stored and matched in: as MLflow 3.18, the
// experiment pattern "01" is experiment 1, which requests name as "1".
func RolePattern(resourceType, pattern string) (string, error) {
	t, err := Lookup(resourceType)
	if err != nil {
		return "", err
	}
	if err := t.CheckPattern(pattern); err != nil {
		return "", err
	}
	if t.Type != Experiment || pattern == Wildcard { // MLflow keeps other patterns as given
		return pattern, nil
	}
	return CanonicalExperimentID(pattern), nil
}

// pyTuple writes names as Python prints a tuple of strings, as MLflow's messages do.
func pyTuple[S ~string](names []S, sorted bool) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + string(n) + "'"
	}
	if sorted {
		slices.Sort(quoted)
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

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

// roleGrain is MLflow 3.17.2's table of the resource types a role permission may
// name (permissions.TYPE), and whether a pattern may be one id (true) or only
// the wildcard (false).
var roleGrain = map[string]bool{
	"workspace":                false, // the workspace is the role's own: "*" only
	"experiment":               true,
	"registered_model":         true,
	"prompt":                   true,
	"scorer":                   true,
	"gateway_secret":           true,
	"gateway_endpoint":         true,
	"gateway_model_definition": true,
	"mcp_server":               true,
	"run":                      false,
	"trace":                    false,
	"assessment":               false,
	"logged_model":             false,
	"review_queue":             false,
	"registered_model_version": false,
	"prompt_version":           false,
	"scorer_version":           false,
	"mcp_server_version":       false,
}

// roleLevels are MLflow's permission names in its own order (ALL_PERMISSIONS).
var roleLevels = []Level{Read, Use, Edit, Manage, NoPermissions, Deny}

// workspaceLevels and resourceLevels are what a role may hold on the workspace
// slot and on a resource type (NO_PERMISSIONS never: an absent grant says it).
var (
	workspaceLevels = []Level{Use, Manage}
	resourceLevels  = []Level{Read, Use, Edit, Manage, Deny}
)

// CheckRoleLevel checks that level may be held by a role on resourceType, with
// MLflow 3.17.2's messages and in its order (the permission name first).
func CheckRoleLevel(resourceType, level string) (Level, error) {
	l := Level(level)
	if !slices.Contains(roleLevels, l) {
		return "", fmt.Errorf("Invalid permission '%s'. Valid permissions are: %s", level, pyTuple(roleLevels, false))
	}
	if err := checkRoleType(resourceType); err != nil {
		return "", err
	}
	if resourceType == "workspace" {
		if !slices.Contains(workspaceLevels, l) {
			return "", fmt.Errorf("Invalid permission '%s' for resource_type='workspace'. Workspace-wide grants accept only: %s.", level, pyTuple(workspaceLevels, true))
		}
		return l, nil
	}
	if !slices.Contains(resourceLevels, l) {
		return "", fmt.Errorf("Invalid permission '%s' for resource_type='%s'. Resource-level grants accept only: %s.", level, resourceType, pyTuple(resourceLevels, true))
	}
	return l, nil
}

// CheckRolePattern checks a role permission's pattern against its type's grain.
func CheckRolePattern(resourceType, pattern string) error {
	if err := checkRoleType(resourceType); err != nil {
		return err
	}
	if pattern != Wildcard && !roleGrain[resourceType] {
		return fmt.Errorf("Invalid resource_pattern '%s' for resource_type='%s'. This resource type supports only wildcard ('*') grants.", pattern, resourceType)
	}
	return nil
}

func checkRoleType(resourceType string) error {
	if _, ok := roleGrain[resourceType]; ok {
		return nil
	}
	types := make([]string, 0, len(roleGrain))
	for t := range roleGrain {
		types = append(types, t)
	}
	slices.Sort(types)
	return fmt.Errorf("Invalid resource type '%s'. Valid resource types are: %s", resourceType, pyTuple(types, false))
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

// Package permission holds MLflow's permission levels and the resources they apply to.
package permission

import (
	"errors"
	"fmt"
	"strings"
)

// Level is one of MLflow's permission names. The names are case-sensitive.
type Level string

// The levels, weakest first.
const (
	NoPermissions Level = "NO_PERMISSIONS"
	Read          Level = "READ"
	Use           Level = "USE"
	Edit          Level = "EDIT"
	Manage        Level = "MANAGE"
)

var levels = []Level{Read, Use, Edit, Manage, NoPermissions}

// priority orders the levels as MLflow does; an unknown level counts as none.
func (l Level) priority() int {
	switch l {
	case Read:
		return 1
	case Use:
		return 2
	case Edit:
		return 3
	case Manage:
		return 4
	}
	return 0
}

// Max is the higher of two levels, a on a tie, as MLflow's max_permission.
func Max(a, b Level) Level {
	if b.priority() > a.priority() {
		return b
	}
	return a
}

// ParseLevel accepts exactly one of MLflow's level names.
func ParseLevel(s string) (Level, error) {
	for _, l := range levels {
		if string(l) == s {
			return l, nil
		}
	}
	names := make([]string, len(levels))
	for i, l := range levels {
		names[i] = "'" + string(l) + "'"
	}
	return "", fmt.Errorf("Invalid permission '%s'. Valid permissions are: (%s)", s, strings.Join(names, ", "))
}

// CanRead reports whether the level allows reading the resource.
func (l Level) CanRead() bool { return l.priority() >= Read.priority() }

// CanUse reports whether the level allows using the resource (MLflow's "allowed").
func (l Level) CanUse() bool { return l.priority() >= Use.priority() }

// CanUpdate reports whether the level allows changing the resource.
func (l Level) CanUpdate() bool { return l.priority() >= Edit.priority() }

// CanDelete reports whether the level allows deleting the resource.
func (l Level) CanDelete() bool { return l == Manage }

// CanManage reports whether the level allows granting permissions on the resource.
func (l Level) CanManage() bool { return l == Manage }

// ResourceType names a kind of MLflow object that grants apply to.
type ResourceType string

// The resource types of MLflow's unified permission API (3.13+).
const (
	Experiment             ResourceType = "experiment"
	RegisteredModel        ResourceType = "registered_model"
	Prompt                 ResourceType = "prompt"
	Scorer                 ResourceType = "scorer"
	GatewaySecret          ResourceType = "gateway_secret"
	GatewayEndpoint        ResourceType = "gateway_endpoint"
	GatewayModelDefinition ResourceType = "gateway_model_definition"
)

// ParseResourceType accepts a type that a user's own grant may name: any but
// the workspace slot, which has calls of its own (MLflow's words).
func ParseResourceType(s string) (ResourceType, error) {
	t, err := Lookup(s)
	if err != nil {
		return "", err
	}
	if t.Type == Workspace {
		return "", errors.New("resource_type 'workspace' is not supported by the per-user permission convenience APIs. Use set_workspace_permission / delete_workspace_permission for workspace-wide grants.")
	}
	return t.Type, nil
}

// Resource is one object that grants apply to: an experiment id, a model name,
// a scorer key (see ScorerID), and so on.
type Resource struct {
	Type ResourceType
	ID   string
}

func (r Resource) String() string { return string(r.Type) + ":" + r.ID }

// Capability is one of MLflow's can_* questions about a level.
type Capability string

// The capabilities, weakest first.
const (
	CanRead   Capability = "read"
	CanUse    Capability = "use"
	CanUpdate Capability = "update"
	CanDelete Capability = "delete"
	CanManage Capability = "manage"
)

var capabilities = []Capability{CanRead, CanUse, CanUpdate, CanDelete, CanManage}

// ParseCapability accepts one of the capability names.
func ParseCapability(s string) (Capability, error) {
	for _, c := range capabilities {
		if string(c) == s {
			return c, nil
		}
	}
	names := make([]string, len(capabilities))
	for i, c := range capabilities {
		names[i] = "'" + string(c) + "'"
	}
	return "", fmt.Errorf("Invalid capability '%s'. Valid capabilities are: (%s)", s, strings.Join(names, ", "))
}

// Allows reports whether the level grants the capability.
func (l Level) Allows(c Capability) bool {
	switch c {
	case CanRead:
		return l.CanRead()
	case CanUse:
		return l.CanUse()
	case CanUpdate:
		return l.CanUpdate()
	case CanDelete:
		return l.CanDelete()
	case CanManage:
		return l.CanManage()
	}
	return false
}

// Package decision holds what an authorization decision was: who asked, to do
// what, on which resources, what it took and what they held, and why it went
// the way it did. The API's policy and the MLflow front door each make one per
// request they decide; the request log, the metrics and the audit trail read it.
package decision

import (
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/resolve"
)

// Principal is the caller a decision was about, without secrets.
type Principal struct {
	UserID     int32
	Username   string
	AuthMethod string // "basic", "token", or "" when neither (a cached session)
	TokenID    int32  // 0 when no token was used
}

// Resource is a resource a decision was about, in its workspace.
type Resource struct {
	Type      string
	ID        string
	Workspace string // "" for none (a rule about users, not resources)
}

// Decision is one request's authorization decision.
type Decision struct {
	Principal Principal
	// Action is what was asked: an RPC's full name, or a proxied route as
	// "mlflow METHOD /pattern" (the metrics' route name).
	Action string
	// Group is the action's route group for metrics: "users", "permissions",
	// "proxy:experiments", ... (never an id or a name).
	Group string
	// Resources are those the decision checked, in order; on a refusal the
	// last is the one refused.
	Resources []Resource
	// Required and Held are the levels the rule asked for and the caller held on
	// the last resource; "" where the rule is not a level (admins only, self).
	Required, Held permission.Level
	Allowed        bool
	// Reason says what decided: "admin", "grant", "role <name>", "default",
	// another rule that let the caller in ("any user", "own user", ...), or
	// why they were refused.
	Reason string
}

// Outcomes of a decision, as the metrics label them.
const (
	Allowed = "allowed"
	Denied  = "denied"
)

// Outcome is Allowed or Denied.
func (d Decision) Outcome() string {
	if d.Allowed {
		return Allowed
	}
	return Denied
}

// Resource is the decisive resource (the last checked), zero when none.
func (d Decision) Resource() Resource {
	if len(d.Resources) == 0 {
		return Resource{}
	}
	return d.Resources[len(d.Resources)-1]
}

// Levels are the levels the decision reports, MLflow's names: required and
// held, or both "" when the rule is not a level (Required is ""). The request's
// log line and the audit trail both report them so.
func (d Decision) Levels() (required, held string) {
	if d.Required == "" {
		return "", ""
	}
	return string(d.Required), string(d.Held)
}

// Checked adds a resource the resolver decided on to d: its level, and what
// decided it as the reason.
func (d *Decision) Checked(r permission.Resource, workspace string, rd resolve.Decision) {
	d.Resources = append(d.Resources, Resource{Type: string(r.Type), ID: r.ID, Workspace: workspace})
	d.Held, d.Reason = rd.Level, By(rd)
}

// By names what decided a resolved permission: "admin", "grant", "role <name>"
// or "default".
func By(rd resolve.Decision) string {
	if rd.By == resolve.ByRole {
		return "role " + rd.Role
	}
	return string(rd.By)
}

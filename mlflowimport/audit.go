package mlflowimport

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// auditOperation is the operation the import's audit rows name.
const auditOperation = "mlflow-auth import"

// importSummary is the value of the row that says what one import did.
type importSummary struct {
	Source string      `json:"source"`
	Model  Model       `json:"model"`
	Users  countsValue `json:"users"`
	Grants countsValue `json:"grants"`
	Roles  countsValue `json:"roles"`
}

type countsValue struct {
	Created   int `json:"created"`
	Unchanged int `json:"unchanged"`
	Conflicts int `json:"conflicts"`
	Skipped   int `json:"skipped"`
}

func countsOf(c Counts) countsValue {
	return countsValue{Created: c.Create, Unchanged: c.Unchanged, Conflicts: c.Conflict, Skipped: c.Skipped}
}

// AuditedBatch is Batch with its audit rows, which CreateBatch commits with
// it: one "import" row with the counts and the source (as given: pass it
// without a password), and one row per user, grant and role created, naming
// what it made, so that asking the trail who made a user or a grant finds
// the import as it finds an API change. They share one time and request id.
// An import that creates nothing has no rows, as it changes nothing.
func (p *Plan) AuditedBatch(source string) storage.Batch {
	b := p.Batch()
	if len(b.Users)+len(b.Grants)+len(b.Roles) == 0 {
		return b
	}
	at := time.Now()
	var id [8]byte
	rand.Read(id[:])
	row := func(event, typ, resourceID, ws string, after any) storage.AuditEvent {
		v, _ := json.Marshal(after) // plain values: they always encode
		return storage.AuditEvent{Time: at, Category: storage.AuditAdmin, Event: event, Outcome: storage.OutcomeSuccess,
			Operation: auditOperation, RequestID: hex.EncodeToString(id[:]),
			ResourceType: typ, ResourceID: resourceID, Workspace: ws, After: v}
	}
	users, grants := p.Counts()
	b.Audit = append(b.Audit, row("import", "import", "", "", importSummary{Source: source, Model: p.Source.Model,
		Users: countsOf(users), Grants: countsOf(grants), Roles: countsOf(p.RoleCounts())}))
	for _, u := range b.Users {
		b.Audit = append(b.Audit, row("import.user", "user", u.Username, "", storage.AuditUserOf(u)))
	}
	for _, g := range b.Grants {
		b.Audit = append(b.Audit, row("import.grant", string(g.Resource.Type), g.Resource.ID, cmp.Or(g.Workspace, workspace.Default),
			storage.AuditGrant{Username: g.Username, Permission: string(g.Level)}))
	}
	for i, r := range b.Roles {
		// The role's id is made by the batch, which names it in the row.
		v := storage.AuditRoleOf(r.Role)
		v.Members = r.Members
		ev := row("import.role", "role", "", r.Workspace, v)
		b.Roles[i].Audit = &ev
	}
	return b
}

package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit categories and outcomes, as stored.
const (
	AuditAuth  = "auth"  // logins and refusals
	AuditAdmin = "admin" // changes to users, grants, roles and tokens

	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// AuditCategories and AuditOutcomes are every value a row's category and
// outcome can hold.
var (
	AuditCategories = []string{AuditAuth, AuditAdmin}
	AuditOutcomes   = []string{OutcomeSuccess, OutcomeDenied, OutcomeError}
)

// AuditEvent is one row of the audit trail. Before and After are JSON values of
// what changed; they never hold a password, a hash or a token secret. Count is
// how many identical refusals the row stands for (1 unless folded).
type AuditEvent struct {
	ID       int64
	Time     time.Time // kept to the microsecond
	Category string
	Event    string // e.g. "user.create", "grant.update", "login.failed"

	ActorUserID   int32 // 0 when unknown
	ActorUsername string
	AuthMethod    string // "basic", "token", ...
	TokenID       int32  // 0 when no token was used
	ClientAddr    string
	UserAgent     string

	ResourceType string
	ResourceID   string
	Workspace    string

	Operation string // the RPC or route
	Outcome   string
	Reason    string
	RequestID string
	TraceID   string

	Before json.RawMessage // nil when there was nothing before
	After  json.RawMessage // nil when nothing is left after
	Count  int

	// Required and Held are a refusal's levels (MLflow's names): what the
	// action required and what the caller held on the resource; "" where the
	// rule is not a level (admins only, own user), as in the request's log
	// line. Columns of their own, not words in Reason, so that rows can be
	// selected by level.
	Required, Held string
}

// AuditFilter selects audit events; zero fields do not filter. Since is
// inclusive, Until exclusive. BeforeID pages: only events with id < BeforeID.
type AuditFilter struct {
	Actor        string // username
	ResourceType string
	ResourceID   string
	Workspace    string
	Event        string
	Outcome      string
	Required     string // the level a refusal required
	Held         string // the level the refused caller held
	Since, Until time.Time
	BeforeID     int64
	Limit        int // all when <= 0
}

// Audit keeps the audit trail.
type Audit interface {
	// RecordAudit inserts events in one transaction (IDs ignored; a zero Time is now).
	RecordAudit(ctx context.Context, evs ...AuditEvent) error
	// ListAuditEvents returns the events f selects, newest (highest id) first.
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// PruneAudit deletes the events older than before and says how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// AuditTap is a store that tells of the audit rows it commits (for
// `serve --audit-log`).
type AuditTap interface {
	// TapAudit makes the store call f with each audit event, its ID set, once
	// its row has committed; a change that fails calls nothing. Call it before
	// the store is used; f runs on the writer's goroutine, so it must be quick.
	TapAudit(f func(AuditEvent))
}

type auditKey struct{}

// auditSlot is the event of WithAudit, the id a create made (see
// AuditCreated) and, once a backend wrote its row in a transaction not yet
// ended, the row as written.
type auditSlot struct {
	ev      AuditEvent
	created string
	written *AuditEvent
}

// WithAudit asks the next write made with ctx to insert ev in the same
// transaction as the change, so the change and its row commit or fail together.
// The user, service-account, direct-grant and batch writes of Store honour it
// (CreateBatch also writes its Batch.Audit and its roles' BatchRole.Audit), as do DeleteResourceGrants and
// MoveGrants, which write their row only when they removed or moved a grant
// and set its before and after themselves (AuditGrantsOf the grants removed or
// moved; after a move, AuditMovedGrants); so do the writes of Roles
// (CreateRole, UpdateRole, DeleteRole, AddRolePermission, UpdateRolePermission,
// RemoveRolePermission, AssignRole, UnassignRole) and the token writes of
// Tokens (CreateToken, RotateToken, RevokeToken).
func WithAudit(ctx context.Context, ev AuditEvent) context.Context {
	return context.WithValue(ctx, auditKey{}, &auditSlot{ev: ev})
}

// AuditChanged sets the before and after values of ctx's audit event, if any,
// to before and after as JSON (nil for none): a write that learns what it
// changed only as it writes (DeleteResourceGrants, MoveGrants) calls it, in its
// transaction, before it inserts the row.
func AuditChanged(ctx context.Context, before, after any) error {
	slot, ok := ctx.Value(auditKey{}).(*auditSlot)
	if !ok {
		return nil
	}
	value := func(v any) (json.RawMessage, error) {
		if v == nil {
			return nil, nil
		}
		return json.Marshal(v)
	}
	var err error
	if slot.ev.Before, err = value(before); err != nil {
		return err
	}
	slot.ev.After, err = value(after)
	return err
}

// AuditCreated is ctx whose audit event, if it names no resource id, names id:
// a backend's create passes the id it has just made, which the caller could
// not know when it built the event (a retried create passes its new one).
func AuditCreated(ctx context.Context, id string) context.Context {
	if slot, ok := ctx.Value(auditKey{}).(*auditSlot); ok {
		slot.created = id
	}
	return ctx
}

// AuditFrom returns the event WithAudit put in ctx, with Time and Count filled in.
func AuditFrom(ctx context.Context) (AuditEvent, bool) {
	slot, ok := ctx.Value(auditKey{}).(*auditSlot)
	if !ok {
		return AuditEvent{}, false
	}
	ev := slot.ev
	if ev.ResourceID == "" {
		ev.ResourceID = slot.created
	}
	return ev.Normalized(), true
}

// AuditWritten notes that the row of ctx's event (ev, as AuditFrom gave it,
// with its ID) was written in the transaction under way. A backend calls it
// where it inserts the row, and AuditEnded when the transaction ends.
func AuditWritten(ctx context.Context, ev AuditEvent) {
	if slot, ok := ctx.Value(auditKey{}).(*auditSlot); ok {
		slot.written = &ev
	}
}

// AuditEnded forgets the row AuditWritten noted in ctx and, when its
// transaction committed, returns it.
func AuditEnded(ctx context.Context, committed bool) (AuditEvent, bool) {
	slot, ok := ctx.Value(auditKey{}).(*auditSlot)
	if !ok || slot.written == nil {
		return AuditEvent{}, false
	}
	ev := *slot.written
	slot.written = nil
	return ev, committed
}

// Normalized fills in what a backend needs to write ev: the time (now, to the
// microsecond, when zero), a count of at least 1, and text columns that both
// backends store and the API can answer (see AuditText).
func (ev AuditEvent) Normalized() AuditEvent {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	if ev.Count < 1 {
		ev.Count = 1
	}
	for _, text := range []*string{&ev.Event, &ev.ActorUsername, &ev.AuthMethod, &ev.ClientAddr, &ev.UserAgent,
		&ev.ResourceType, &ev.ResourceID, &ev.Workspace, &ev.Operation, &ev.Reason, &ev.RequestID, &ev.TraceID,
		&ev.Required, &ev.Held} {
		*text = AuditText(*text)
	}
	return ev
}

// MaxAuditText is the most bytes a text column of an audit row keeps.
const MaxAuditText = 4096

// AuditText is s as an audit row keeps it. Some columns hold a caller's text
// as it came (a failed login's username, a User-Agent): invalid UTF-8 and NUL
// (which Postgres refuses, failing the change or the whole batch of refusals,
// and which the API cannot answer, failing every page that holds the row)
// become U+FFFD, and text past MaxAuditText bytes is cut at a character.
func AuditText(s string) string {
	if len(s) <= MaxAuditText && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > MaxAuditText {
		cut := MaxAuditText
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// AuditColumns are the audit_events columns a backend writes, in the order of
// AuditArgs (id is generated).
const AuditColumns = "at, category, event, actor_user_id, actor_username, auth_method, token_id, client_addr, user_agent, " +
	"resource_type, resource_id, workspace, operation, outcome, reason, request_id, trace_id, before_value, after_value, repeat_count, " +
	"required_level, held_level"

// AuditParams is how many values AuditColumns takes.
var AuditParams = strings.Count(AuditColumns, ",") + 1

// AuditArgs are ev's values for AuditColumns; at is at(ev.Time), json(v) a
// backend's JSON value (nil for none). A zero user or token id is NULL. It is
// where every row is checked before it is written: a category or an outcome
// other than the constants above is an error, and the write it came with is
// not made. (Postgres checked them with CHECK constraints, which it plans anew
// for every INSERT; see migration 0010.)
func AuditArgs(ev AuditEvent, at func(time.Time) any, json func(json.RawMessage) any) ([]any, error) {
	if !slices.Contains(AuditCategories, ev.Category) {
		return nil, fmt.Errorf("audit event %q: category %q is not one of %q", ev.Event, ev.Category, AuditCategories)
	}
	if !slices.Contains(AuditOutcomes, ev.Outcome) {
		return nil, fmt.Errorf("audit event %q: outcome %q is not one of %q", ev.Event, ev.Outcome, AuditOutcomes)
	}
	return []any{at(ev.Time), ev.Category, ev.Event, nullID(ev.ActorUserID), ev.ActorUsername, ev.AuthMethod,
		nullID(ev.TokenID), ev.ClientAddr, ev.UserAgent, ev.ResourceType, ev.ResourceID, ev.Workspace,
		ev.Operation, ev.Outcome, ev.Reason, ev.RequestID, ev.TraceID, json(ev.Before), json(ev.After), ev.Count,
		ev.Required, ev.Held}, nil
}

func nullID(id int32) any {
	if id == 0 {
		return nil
	}
	return id
}

// Where is f as a SQL condition on audit_events with its arguments;
// placeholder(n) is the backend's n-th (1-based) parameter, at its time value.
func (f AuditFilter) Where(placeholder func(n int) string, at func(time.Time) any) (string, []any) {
	cond := "TRUE"
	var args []any
	add := func(column, op string, v any) {
		args = append(args, v)
		cond += " AND " + column + " " + op + " " + placeholder(len(args))
	}
	for _, c := range []struct{ column, value string }{
		{"actor_username", f.Actor}, {"resource_type", f.ResourceType}, {"resource_id", f.ResourceID},
		{"workspace", f.Workspace}, {"event", f.Event}, {"outcome", f.Outcome}, {"required_level", f.Required}, {"held_level", f.Held},
	} {
		if c.value != "" {
			add(c.column, "=", c.value)
		}
	}
	if !f.Since.IsZero() {
		add("at", ">=", at(f.Since))
	}
	if !f.Until.IsZero() {
		add("at", "<", at(f.Until))
	}
	if f.BeforeID > 0 {
		add("id", "<", f.BeforeID)
	}
	return cond, args
}

package service

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mlflow-auth/mlflow-auth/decision"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/workspace"
)

// auditEvent is an event of the request in ctx: who made it, from where, as
// which RPC, under which request and trace id.
func auditEvent(ctx context.Context, category, event, outcome string) storage.AuditEvent {
	p := principalFrom(ctx)
	ev := storage.AuditEvent{
		Category: category, Event: event, Outcome: outcome,
		ActorUserID: p.User.ID, ActorUsername: p.User.Username, AuthMethod: authMethod(p), TokenID: p.TokenID,
	}
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		ev.ClientAddr, ev.RequestID, ev.Operation, ev.UserAgent = l.client, l.id, l.rpc, l.agent
	}
	if ev.Operation == "" { // a proxied request, not an RPC
		ev.Operation = decision.ActionFrom(ctx)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		ev.TraceID = sc.TraceID().String()
	}
	return ev
}

// auditJSON is v as an audit value; nil stays nil (nothing before, or after).
func auditJSON(ctx context.Context, v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		slog.ErrorContext(ctx, "audit value", "err", err)
		return nil
	}
	return b
}

// userValue is what the audit trail keeps of a user: never the password or its hash.
type userValue = storage.AuditUser

// userChange is ctx asking the store to write the audit row of a change to a
// user in the change's transaction.
func userChange(ctx context.Context, event, username string, before, after any) context.Context {
	ev := auditEvent(ctx, storage.AuditAdmin, event, storage.OutcomeSuccess)
	ev.ResourceType, ev.ResourceID = "user", username
	ev.Before, ev.After = auditJSON(ctx, before), auditJSON(ctx, after)
	return storage.WithAudit(ctx, ev)
}

// grantValue is what the audit trail keeps of a direct grant.
type grantValue = storage.AuditGrant

// grantChange is userChange for a user's direct grant on r, in the request's workspace.
func grantChange(ctx context.Context, event string, r permission.Resource, before, after any) context.Context {
	return storage.WithAudit(ctx, grantEvent(ctx, event, r, before, after))
}

// grantEvent is the audit event grantChange asks the store to write.
func grantEvent(ctx context.Context, event string, r permission.Resource, before, after any) storage.AuditEvent {
	ev := auditEvent(ctx, storage.AuditAdmin, event, storage.OutcomeSuccess)
	ev.ResourceType, ev.ResourceID, ev.Workspace = string(r.Type), r.ID, workspace.From(ctx)
	ev.Before, ev.After = auditJSON(ctx, before), auditJSON(ctx, after)
	return ev
}

// tokenValue is what the audit trail keeps of a token: never its secret or hash.
type tokenValue struct {
	Username  string `json:"username"`
	Name      string `json:"name"`
	Ceiling   string `json:"ceiling,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

// tokenValueOf is t, a token of the user named, as the audit trail keeps it.
func tokenValueOf(t storage.Token, username string) tokenValue {
	return tokenValue{Username: username, Name: t.Name, Ceiling: string(t.Ceiling), ExpiresAt: t.ExpiresAt.UTC().Format(time.RFC3339)}
}

// tokenChange is userChange for a token of the user named (the resource is "token",
// its id "<username>/<name>").
func tokenChange(ctx context.Context, event, username, name string, before, after any) context.Context {
	ev := auditEvent(ctx, storage.AuditAdmin, event, storage.OutcomeSuccess)
	ev.ResourceType, ev.ResourceID = "token", username+"/"+name
	ev.Before, ev.After = auditJSON(ctx, before), auditJSON(ctx, after)
	return storage.WithAudit(ctx, ev)
}

type auditService struct {
	v1.UnimplementedAuditServiceServer
	*core
}

func (s *auditService) ListAuditEvents(ctx context.Context, req *v1.ListAuditEventsRequest) (*v1.ListAuditEventsResponse, error) {
	before, limit, err := pageRequest[int64](req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	if err := checkAuditFilter(req); err != nil {
		return nil, err
	}
	f := storage.AuditFilter{Actor: req.Username, ResourceType: req.ResourceType, ResourceID: req.ResourceId,
		Workspace: req.Workspace, Event: req.Event, Outcome: req.Outcome, Required: req.RequiredLevel, Held: req.HeldLevel, BeforeID: before, Limit: fetchSize(limit)}
	for _, t := range []struct {
		name, value string
		to          *time.Time
	}{{"start_time", req.StartTime, &f.Since}, {"end_time", req.EndTime, &f.Until}} {
		if t.value == "" {
			continue
		}
		if *t.to, err = time.Parse(time.RFC3339Nano, t.value); err != nil {
			return nil, apiError(codeInvalidParameter, "Invalid value '%s' for parameter '%s': it must be an RFC 3339 time such as 2026-12-01T14:00:00Z.", quoted(t.value), t.name)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, apiError(codeInvalidParameter, "Invalid value '%s' for parameter 'end_time': it must be after start_time '%s'.", quoted(req.EndTime), quoted(req.StartTime))
	}
	evs, err := s.audit.ListAuditEvents(ctx, f)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	resp := &v1.ListAuditEventsResponse{Events: []*v1.AuditEvent{}}
	// Newest first: the next page continues below the last id of this one.
	evs, resp.NextPageToken = trimPage(evs, limit, func(ev storage.AuditEvent) int64 { return ev.ID })
	for _, ev := range evs {
		resp.Events = append(resp.Events, auditEventMessage(ev))
	}
	return resp, nil
}

// auditEventMessage is ev as the API returns it.
func auditEventMessage(ev storage.AuditEvent) *v1.AuditEvent {
	return &v1.AuditEvent{
		Id: ev.ID, Time: ev.Time.Format(time.RFC3339Nano), Category: ev.Category, Event: ev.Event,
		UserId: ev.ActorUserID, Username: ev.ActorUsername, AuthMethod: ev.AuthMethod, TokenId: ev.TokenID,
		ClientAddress: ev.ClientAddr, UserAgent: ev.UserAgent,
		ResourceType: ev.ResourceType, ResourceId: ev.ResourceID, Workspace: ev.Workspace,
		Operation: ev.Operation, Outcome: ev.Outcome, Reason: ev.Reason, RequestId: ev.RequestID, TraceId: ev.TraceID,
		RequiredLevel: ev.Required, HeldLevel: ev.Held,
		Before: string(ev.Before), After: string(ev.After), Count: int32(ev.Count),
	}
}

// auditLogLines writes each event to w as one line of the JSON the REST API
// gives it (Config.AuditLog). A line that cannot be written is logged, not retried.
func auditLogLines(w io.Writer) func(storage.AuditEvent) {
	var mu sync.Mutex
	enc := newMLflowJSON()
	return func(ev storage.AuditEvent) {
		line, err := enc.Marshal(auditEventMessage(ev))
		if err == nil {
			mu.Lock()
			_, err = w.Write(append(line, '\n'))
			mu.Unlock()
		}
		if err != nil {
			slog.Error("could not write the audit log", "event", ev.Event, "id", ev.ID, "err", err)
		}
	}
}

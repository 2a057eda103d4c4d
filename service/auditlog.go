package service

import (
	"cmp"
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/mlflow-auth/mlflow-auth/storage"
)

// auditBuffer is how many auth events wait for the writer. When it is full a
// new event is dropped (and counted in the writer's next log line): a flood of
// refusals must not slow down or block the requests that cause them.
const auditBuffer = 4096

// defaultAuditFold is how long repeated refusals are folded into one row.
const defaultAuditFold = time.Minute

// maxOpenFolds bounds the rows held open for folding: refusals of as many
// distinct users or reasons as a storm brings would otherwise all wait in
// memory for their window. Past it the older half are written at once.
const maxOpenFolds = 1024

// authAudit writes auth events (failed logins, refusals) off the request path.
// Events of one user with the same event, operation, resource and reason that
// arrive within one fold window of the first become one row whose Count says
// how many, written when the window ends.
type authAudit struct {
	store   storage.Audit
	fold    time.Duration
	events  chan storage.AuditEvent
	dropped atomic.Int64
	// retention: events older than this are pruned (see prune); zero keeps all.
	retention time.Duration
}

// pruneEvery is how often the retention is applied.
const pruneEvery = time.Hour

// prune deletes the events older than the retention.
func (a *authAudit) prune(ctx context.Context) {
	if a.retention <= 0 {
		return
	}
	n, err := a.store.PruneAudit(ctx, time.Now().Add(-a.retention))
	if err != nil {
		slog.ErrorContext(ctx, "could not prune the audit trail", "err", err)
		return
	}
	if n > 0 {
		slog.InfoContext(ctx, "pruned the audit trail", "deleted", n, "retention", a.retention)
	}
}

func newAuthAudit(store storage.Audit, fold time.Duration) *authAudit {
	return &authAudit{store: store, fold: cmp.Or(fold, defaultAuditFold), events: make(chan storage.AuditEvent, auditBuffer)}
}

// record queues ev without waiting.
func (a *authAudit) record(ev storage.AuditEvent) {
	ev.Time = time.Now()
	select {
	case a.events <- ev:
	default:
		a.dropped.Add(1)
	}
}

// foldKey is what makes two events the same refusal. A refusal's levels are
// not in it: the reason already names the level required ("no EDIT on the
// resource"), and a caller whose held level changes within the window is still
// refused for one reason, so the row keeps its first event's levels.
type foldKey struct {
	event, actor, operation, resourceType, resourceID, workspace, reason, outcome string
}

// A login refused because its address must wait is refused before its
// password is looked at, as fast as a client sends them: a spray of usernames
// from one address would make a row per attempt. Those fold by client address
// instead of username, and the row names the username only if every attempt
// named it.
func foldKeyOf(ev storage.AuditEvent) foldKey {
	actor := ev.ActorUsername
	if ev.Reason == reasonAddressThrottled {
		actor = "address " + ev.ClientAddr
	}
	return foldKey{ev.Event, actor, ev.Operation, ev.ResourceType, ev.ResourceID, ev.Workspace, ev.Reason, ev.Outcome}
}

// run writes queued events until ctx ends, then writes what is left. A row is
// written once its fold window, from its first event, has passed.
func (a *authAudit) run(ctx context.Context) {
	a.prune(ctx)
	pruning := time.NewTicker(pruneEvery)
	defer pruning.Stop()
	tick := time.NewTicker(max(a.fold/4, time.Millisecond))
	defer tick.Stop()
	var rows []storage.AuditEvent // open folds, oldest first
	index := map[foldKey]int{}
	add := func(ev storage.AuditEvent) {
		k := foldKeyOf(ev)
		if i, ok := index[k]; ok {
			rows[i].Count++
			// The row names only what all its refusals share: not the names of
			// throttled attempts of many, the id of a name made anew, another of
			// the user's tokens, a password and then a token.
			keepShared(&rows[i].ActorUsername, ev.ActorUsername)
			keepShared(&rows[i].ActorUserID, ev.ActorUserID)
			keepShared(&rows[i].TokenID, ev.TokenID)
			keepShared(&rows[i].AuthMethod, ev.AuthMethod)
			return
		}
		ev.Count = 1
		index[k] = len(rows)
		rows = append(rows, ev)
	}
	// write writes the n oldest rows.
	write := func(ctx context.Context, n int) {
		if n == 0 {
			return
		}
		if err := a.store.RecordAudit(ctx, rows[:n]...); err != nil {
			slog.ErrorContext(ctx, "could not write auth audit events", "events", n, "err", err)
		}
		rows = append(rows[:0], rows[n:]...)
		clear(index)
		for i, ev := range rows {
			index[foldKeyOf(ev)] = i
		}
	}
	// flush writes the rows opened before cutoff.
	flush := func(ctx context.Context, cutoff time.Time) {
		if n := a.dropped.Swap(0); n > 0 {
			slog.WarnContext(ctx, "audit buffer full: auth events dropped", "dropped", n)
		}
		n := 0
		for n < len(rows) && rows[n].Time.Before(cutoff) {
			n++
		}
		write(ctx, n)
	}
	for {
		select {
		case ev := <-a.events:
			add(ev)
			if len(rows) >= maxOpenFolds { // many callers refused at once
				write(ctx, len(rows)/2)
			}
		case now := <-tick.C:
			flush(ctx, now.Add(-a.fold))
		case <-pruning.C:
			a.prune(ctx)
		case <-ctx.Done():
			for drained := false; !drained; {
				select {
				case ev := <-a.events:
					add(ev)
				default:
					drained = true
				}
			}
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			flush(last, time.Now().Add(time.Hour))
			cancel()
			return
		}
	}
}

// keepShared clears a folded row's value unless the refusal folded into it has the same.
func keepShared[T comparable](kept *T, v T) {
	if *kept != v {
		var zero T
		*kept = zero
	}
}

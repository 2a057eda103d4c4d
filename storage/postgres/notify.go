package postgres

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the LISTEN/NOTIFY channel of user changes; the payload is
// the username. Deployments sharing a database but not a schema hear each
// other's changes, which only costs them a cache miss.
const notifyChannel = "mlflow_auth_user_changed"

// ListenerApplicationName names the listener's connection in pg_stat_activity.
const ListenerApplicationName = "mlflow-auth cache listener"

// Backoff between attempts to reconnect a lost listener connection.
const (
	listenFirstWait   = 100 * time.Millisecond
	listenLongestWait = 10 * time.Second
)

// Notifier carries user changes between the replicas that share the database
// (a usercache.Notifier): Changed sends NOTIFY through the pool, and one
// connection of its own LISTENs. When that connection is lost, listeners are
// told that anyone may have changed (""), again once it listens anew, since
// what was sent in between is lost; so staleness is bounded by reconnection.
type Notifier struct {
	store *Store

	mu        sync.Mutex
	listeners []func(string)
}

// Notifier starts listening on a connection configured as the pool's, until ctx ends.
func (s *Store) Notifier(ctx context.Context) *Notifier {
	n := &Notifier{store: s}
	go n.run(ctx)
	return n
}

// Changed implements usercache.Notifier: this process's listeners are told at
// once, the other replicas through NOTIFY. A NOTIFY that fails is logged; the
// cache's TTL bounds what it leaves stale elsewhere.
func (n *Notifier) Changed(ctx context.Context, username string) {
	n.tell(username)
	if _, err := n.store.pool.Exec(context.WithoutCancel(ctx), "SELECT pg_notify($1, $2)", notifyChannel, username); err != nil {
		slog.WarnContext(ctx, "could not tell other replicas of a user change", "user", username, "err", err)
	}
}

// Listen implements usercache.Notifier.
func (n *Notifier) Listen(f func(string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.listeners = append(n.listeners, f)
}

func (n *Notifier) tell(username string) {
	n.mu.Lock()
	listeners := n.listeners
	n.mu.Unlock()
	for _, f := range listeners {
		f(username)
	}
}

func (n *Notifier) run(ctx context.Context) {
	wait := listenFirstWait
	for {
		listened, err := n.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		n.tell("")
		if listened {
			wait = listenFirstWait
		}
		slog.Warn("lost the connection that hears other replicas' user changes; cache flushed, reconnecting", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, listenLongestWait)
	}
}

// listen connects, LISTENs and passes notifications on until the connection
// fails; listened says whether it got as far as listening.
func (n *Notifier) listen(ctx context.Context) (listened bool, err error) {
	cfg := n.store.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return false, err
	}
	n.tell("") // changes sent before this LISTEN were not heard
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		n.tell(msg.Payload)
	}
}

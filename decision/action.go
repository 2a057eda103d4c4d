package decision

import "context"

type actionKey struct{}

// WithAction is ctx naming the action of a request before its decision is
// made: a login refused before the front door decides names the proxied route
// in its audit row, as the API's names its RPC.
func WithAction(ctx context.Context, action string) context.Context {
	return context.WithValue(ctx, actionKey{}, action)
}

// ActionFrom is the action WithAction put in ctx, or "".
func ActionFrom(ctx context.Context) string {
	a, _ := ctx.Value(actionKey{}).(string)
	return a
}

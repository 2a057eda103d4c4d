package client

import (
	"context"
	"net/http"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// ListAuditEvents returns one page of the audit trail, newest first (admin; mlflow-auth only).
func (c *Client) ListAuditEvents(ctx context.Context, req *v1.ListAuditEventsRequest) (*v1.ListAuditEventsResponse, error) {
	return invoke[v1.ListAuditEventsResponse](ctx, c, http.MethodGet, "/api/2.0/mlflow/audit-events/list", req)
}

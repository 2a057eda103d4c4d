package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// ListAuditEvents with odd filters, on SQLite and Postgres, over gRPC and
// REST: what cannot be a value (NUL, too long, an outcome or a level that does
// not exist, a time range that ends before it starts, a garbled page token,
// max_results out of range) is INVALID_PARAMETER_VALUE; SQL and LIKE
// metacharacters are only text; a non-admin is refused. Pages neither repeat
// nor skip a row while rows are written between them.
func TestListAuditEventsOddFilters(t *testing.T) {
	for name, start := range auditBackends {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			for _, tr := range s.transports(t) {
				t.Run(tr.name(), func(t *testing.T) {
					admin := caller{t, tr, adminUser, adminPass}
					dave := "dave-" + tr.name()
					admin.createUser(dave, "dave-password-1")
					list := func(want string, req *v1.ListAuditEventsRequest) *v1.ListAuditEventsResponse {
						t.Helper()
						resp := &v1.ListAuditEventsResponse{}
						admin.expect(want, v1.AuditService_ListAuditEvents_FullMethodName, req, resp)
						return resp
					}
					for what, req := range map[string]*v1.ListAuditEventsRequest{
						"NUL":                      {Username: "ad\x00min"},
						"10 KB username":           {Username: strings.Repeat("a", 10<<10)},
						"NUL workspace":            {Workspace: "def\x00ault"},
						"10 KB workspace":          {Workspace: strings.Repeat("a", 10<<10)},
						"unknown outcome":          {Outcome: "denid"},
						"outcome in capitals":      {Outcome: "DENIED"},
						"unknown required level":   {RequiredLevel: "GOD"},
						"held level in lowercase":  {HeldLevel: "read"},
						"end before start":         {StartTime: "2026-12-02T00:00:00Z", EndTime: "2020-01-01T00:00:00Z"},
						"time that does not parse": {StartTime: "2026-12-02 00:00"},
						"garbled page token":       {PageToken: "!!!"},
						"negative page token":      {PageToken: "LTE"},
						"negative max_results":     {MaxResults: -1},
						"huge max_results":         {MaxResults: 1 << 30},
					} {
						resp := &v1.ListAuditEventsResponse{}
						if got := tr.call(t, adminUser, adminPass, v1.AuditService_ListAuditEvents_FullMethodName, req, resp); got != invalid {
							t.Errorf("%s: %q, want %s", what, got, invalid)
						}
					}
					for what, req := range map[string]*v1.ListAuditEventsRequest{
						"SQL":              {Username: "admin' OR '1'='1"},
						"LIKE wildcards":   {Username: "%", ResourceId: "_%"},
						"unknown event":    {Event: "user.%"},
						"LIKE workspace":   {Workspace: "%"},
						"_ workspace":      {Workspace: "defaul_"},
						"spaced workspace": {Workspace: " default "},
					} {
						if resp := list("", req); len(resp.Events) != 0 {
							t.Errorf("%s matched %d rows: %v", what, len(resp.Events), resp.Events[0])
						}
					}
					far := list("", &v1.ListAuditEventsRequest{Username: adminUser, StartTime: "0001-01-01T00:00:00Z", EndTime: "9999-12-31T23:59:59.999999999Z"})
					if len(far.Events) == 0 {
						t.Error("no row between year 1 and 9999")
					}
					admin.as(dave, "dave-password-1").expect(denied, v1.AuditService_ListAuditEvents_FullMethodName,
						&v1.ListAuditEventsRequest{}, &v1.ListAuditEventsResponse{})

					// Page by two while each page adds a row.
					seen := map[int64]bool{}
					req := &v1.ListAuditEventsRequest{Username: adminUser, MaxResults: 2}
					var top int64
					for page := 0; ; page++ {
						resp := list("", req)
						for _, ev := range resp.Events {
							if seen[ev.Id] {
								t.Fatalf("row %d on two pages", ev.Id)
							}
							seen[ev.Id] = true
							top = max(top, ev.Id)
						}
						if resp.NextPageToken == "" {
							break
						}
						admin.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
							&v1.UpdateUserPasswordRequest{Username: dave, Password: "dave-password-" + time.Now().Format("150405.000000")}, &v1.UpdateUserPasswordResponse{})
						req.PageToken = resp.NextPageToken
					}
					all := list("", &v1.ListAuditEventsRequest{Username: adminUser, MaxResults: 1000})
					for _, ev := range all.Events {
						if ev.Id <= top && !seen[ev.Id] {
							t.Errorf("row %d skipped by the pages", ev.Id)
						}
					}
				})
			}
			// Over REST, bytes that are not UTF-8 are refused as such.
			for _, param := range []string{"username", "workspace"} {
				status, body := do(t, http.MethodGet, s.httpBase+"/api/2.0/mlflow/audit-events/list?"+param+"=%ff", adminUser, adminPass, nil, nil)
				if status != http.StatusBadRequest || !strings.Contains(string(body), invalid) {
					t.Errorf("a %s that is not UTF-8: %d %s", param, status, body)
				}
			}
		})
	}
}

package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// command is one sub-command: its positional parameters (a "[...]" one is
// optional), what it does, and the call it makes.
type command struct {
	name    string
	params  []string
	summary string
	// paging: the command takes --max-results and --page-token.
	paging bool
	// workspace: the command takes --workspace (default "default").
	workspace bool
	// auditFilters: the command takes the audit trail's filters (--user, ...).
	auditFilters bool
	// password: the last parameter is a password, which may instead come from
	// stdin or a prompt (see resolvePassword).
	password bool
	run      func(ctx context.Context, c *client.Client, args []string, o *options) (proto.Message, error)

	// currentPassword: the command takes --current-password.
	currentPassword bool
}

func (c *command) minArgs() int {
	n := 0
	for _, p := range c.params {
		if !strings.HasPrefix(p, "[") {
			n++
		}
	}
	return n
}

// synopsis is the command with its parameters and its own flags.
func (c *command) synopsis() string {
	words := append([]string{c.name}, c.params...)
	if c.workspace {
		words = append(words, "[--workspace W]")
	}
	if c.auditFilters {
		words = append(words, "[--user U] [--resource-type T] [--resource-id ID] [--workspace W] [--event E] [--outcome O] [--required-level L] [--held-level L] [--since TIME] [--until TIME]")
	}
	if c.paging {
		words = append(words, "[--max-results N [--page-token T]]")
	}
	if c.currentPassword {
		words = append(words, "[--current-password P]")
	}
	return strings.Join(words, " ")
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// pageSize is how many items list commands ask for per page when they follow
// next_page_token to the end.
const pageSize = 500

// commands are the seed CLI's, with its positional arguments, plus the calls of
// mlflow-auth and MLflow 3.13.
var commands = []*command{
	{name: "audit", paging: true, auditFilters: true,
		summary: "Show the audit trail, newest first: who changed what, who was refused and why (admin). One page; TIME is RFC 3339.",
		run: func(ctx context.Context, c *client.Client, _ []string, o *options) (proto.Message, error) {
			o.audit.MaxResults, o.audit.PageToken = o.maxResults, o.pageToken
			return c.ListAuditEvents(ctx, o.audit)
		}},
	{name: "list-users", paging: true,
		summary: "List all users (admin). With --max-results, one page. MLflow's own server sends only ids and usernames.",
		run: func(ctx context.Context, c *client.Client, _ []string, o *options) (proto.Message, error) {
			req := &v1.ListUsersRequest{MaxResults: o.maxResults, PageToken: o.pageToken}
			if o.maxResults > 0 {
				return c.ListUsers(ctx, req)
			}
			req.MaxResults = pageSize
			all := &v1.ListUsersResponse{Users: []*v1.User{}}
			for u, err := range c.AllUsers(ctx, req) {
				if err != nil {
					return nil, err
				}
				all.Users = append(all.Users, u)
			}
			return all, nil
		}},
	{name: "create-user", params: []string{"<username>", "[<password>|-]"}, password: true,
		summary: "Create a non-admin user (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.CreateUser(ctx, &v1.CreateUserRequest{Username: a[0], Password: a[1]})
		}},
	{name: "get-user", params: []string{"<username>"}, summary: "Show a user and their grants.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.GetUser(ctx, &v1.GetUserRequest{Username: a[0]})
		}},
	{name: "get-current-user", summary: "Show the user the credentials belong to.",
		run: func(ctx context.Context, c *client.Client, _ []string, _ *options) (proto.Message, error) {
			return c.GetCurrentUser(ctx, &v1.GetCurrentUserRequest{})
		}},
	{name: "update-user-admin", params: []string{"<username>", "<true|false>"}, summary: "Make a user admin, or not (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			isAdmin, err := parseBool(a[1])
			if err != nil {
				return nil, err
			}
			return c.UpdateUserAdmin(ctx, &v1.UpdateUserAdminRequest{Username: a[0], IsAdmin: &isAdmin})
		}},
	{name: "update-user-password", params: []string{"<username>", "[<password>|-]"}, password: true, currentPassword: true,
		summary: "Set a user's password (the user, or admin). Your own needs the current one: the password you sign in with, or --current-password.",
		run: func(ctx context.Context, c *client.Client, a []string, o *options) (proto.Message, error) {
			req := &v1.UpdateUserPasswordRequest{Username: a[0], Password: a[1], CurrentPassword: o.currentPassword}
			if username, password, ok := c.BasicAuth(); ok && username == a[0] && req.CurrentPassword == "" {
				req.CurrentPassword = password // changing your own: the one you signed in with
			}
			return c.UpdateUserPassword(ctx, req)
		}},
	{name: "delete-user", params: []string{"<username>"}, summary: "Delete a user (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.DeleteUser(ctx, &v1.DeleteUserRequest{Username: a[0]})
		}},

	{name: "create-token", params: []string{"<username>", "<name>", "[<expires-in-days>]", "[READ]"},
		summary: "Make an access token (yours, or anyone's as admin), printed this once; 0 days is the server's maximum, READ caps it at READ.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			req := &v1.CreateTokenRequest{Username: a[0], Name: a[1]}
			if len(a) > 2 {
				days, err := parseDays(a[2])
				if err != nil {
					return nil, err
				}
				req.ExpiresInDays = days
			}
			if len(a) > 3 {
				req.Ceiling = a[3]
			}
			return c.CreateToken(ctx, req)
		}},
	{name: "list-tokens", params: []string{"<username>"}, summary: "List a user's access tokens, without their secrets.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.ListTokens(ctx, &v1.ListTokensRequest{Username: a[0]})
		}},
	{name: "rotate-token", params: []string{"<username>", "<name>", "[<expires-in-days>]"},
		summary: "Give an access token a new secret, printed this once; the old one stops working.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			req := &v1.RotateTokenRequest{Username: a[0], Name: a[1]}
			if len(a) > 2 {
				days, err := parseDays(a[2])
				if err != nil {
					return nil, err
				}
				req.ExpiresInDays = days
			}
			return c.RotateToken(ctx, req)
		}},
	{name: "revoke-token", params: []string{"<username>", "<name>"}, summary: "Delete an access token; it stops working at once.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.RevokeToken(ctx, &v1.RevokeTokenRequest{Username: a[0], Name: a[1]})
		}},
	{name: "create-service-account", params: []string{"<username>"},
		summary: "Create a service account: a user without a password, who signs in with the tokens you make for it (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.CreateServiceAccount(ctx, &v1.CreateServiceAccountRequest{Username: a[0]})
		}},
	{name: "list-service-accounts", paging: true,
		summary: "List the service accounts (admin). With --max-results, one page.",
		run: func(ctx context.Context, c *client.Client, _ []string, o *options) (proto.Message, error) {
			req := &v1.ListServiceAccountsRequest{MaxResults: o.maxResults, PageToken: o.pageToken}
			if o.maxResults > 0 {
				return c.ListServiceAccounts(ctx, req)
			}
			req.MaxResults = pageSize
			all := &v1.ListServiceAccountsResponse{Users: []*v1.User{}}
			for {
				page, err := c.ListServiceAccounts(ctx, req)
				if err != nil {
					return nil, err
				}
				all.Users = append(all.Users, page.GetUsers()...)
				if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
					return all, nil
				}
			}
		}},
	{name: "delete-service-account", params: []string{"<username>"},
		summary: "Delete a service account with its grants and tokens (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.DeleteServiceAccount(ctx, &v1.DeleteServiceAccountRequest{Username: a[0]})
		}},

	{name: "create-experiment-permission", params: []string{"<experiment-id>", "<username>", "<permission>"},
		summary: "Grant a permission on an experiment.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.CreateExperimentPermission(ctx, &v1.CreateExperimentPermissionRequest{ExperimentId: a[0], Username: a[1], Permission: a[2]})
		}},
	{name: "get-experiment-permission", params: []string{"<experiment-id>", "<username>"},
		summary: "Show a grant on an experiment.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.GetExperimentPermission(ctx, &v1.GetExperimentPermissionRequest{ExperimentId: a[0], Username: a[1]})
		}},
	{name: "update-experiment-permission", params: []string{"<experiment-id>", "<username>", "<permission>"},
		summary: "Change a grant on an experiment.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.UpdateExperimentPermission(ctx, &v1.UpdateExperimentPermissionRequest{ExperimentId: a[0], Username: a[1], Permission: a[2]})
		}},
	{name: "delete-experiment-permission", params: []string{"<experiment-id>", "<username>"},
		summary: "Remove a grant on an experiment.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.DeleteExperimentPermission(ctx, &v1.DeleteExperimentPermissionRequest{ExperimentId: a[0], Username: a[1]})
		}},

	{name: "create-registered-model-permission", params: []string{"<name>", "<username>", "<permission>"},
		summary: "Grant a permission on a registered model.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.CreateRegisteredModelPermission(ctx, &v1.CreateRegisteredModelPermissionRequest{Name: a[0], Username: a[1], Permission: a[2]})
		}},
	{name: "get-registered-model-permission", params: []string{"<name>", "<username>"},
		summary: "Show a grant on a registered model.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.GetRegisteredModelPermission(ctx, &v1.GetRegisteredModelPermissionRequest{Name: a[0], Username: a[1]})
		}},
	{name: "update-registered-model-permission", params: []string{"<name>", "<username>", "<permission>"},
		summary: "Change a grant on a registered model.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.UpdateRegisteredModelPermission(ctx, &v1.UpdateRegisteredModelPermissionRequest{Name: a[0], Username: a[1], Permission: a[2]})
		}},
	{name: "delete-registered-model-permission", params: []string{"<name>", "<username>"},
		summary: "Remove a grant on a registered model.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.DeleteRegisteredModelPermission(ctx, &v1.DeleteRegisteredModelPermissionRequest{Name: a[0], Username: a[1]})
		}},

	{name: "create-scorer-permission", params: []string{"<experiment-id>", "<scorer-name>", "<username>", "<permission>"},
		summary: "Grant a permission on a scorer.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.CreateScorerPermission(ctx, &v1.CreateScorerPermissionRequest{ExperimentId: a[0], ScorerName: a[1], Username: a[2], Permission: a[3]})
		}},
	{name: "get-scorer-permission", params: []string{"<experiment-id>", "<scorer-name>", "<username>"},
		summary: "Show a grant on a scorer.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.GetScorerPermission(ctx, &v1.GetScorerPermissionRequest{ExperimentId: a[0], ScorerName: a[1], Username: a[2]})
		}},
	{name: "update-scorer-permission", params: []string{"<experiment-id>", "<scorer-name>", "<username>", "<permission>"},
		summary: "Change a grant on a scorer.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.UpdateScorerPermission(ctx, &v1.UpdateScorerPermissionRequest{ExperimentId: a[0], ScorerName: a[1], Username: a[2], Permission: a[3]})
		}},
	{name: "delete-scorer-permission", params: []string{"<experiment-id>", "<scorer-name>", "<username>"},
		summary: "Remove a grant on a scorer.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.DeleteScorerPermission(ctx, &v1.DeleteScorerPermissionRequest{ExperimentId: a[0], ScorerName: a[1], Username: a[2]})
		}},

	{name: "grant-permission", params: []string{"<username>", "<resource-type>", "<resource-id>", "<permission>"},
		summary: "Grant READ, USE, EDIT or MANAGE on a resource (MLflow 3.13 API).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.GrantPermission(ctx, &v1.GrantPermissionRequest{Username: a[0], ResourceType: a[1], ResourceId: a[2], Permission: a[3]})
		}},
	{name: "revoke-permission", params: []string{"<username>", "<resource-type>", "<resource-id>"},
		summary: "Remove a grant on a resource (MLflow 3.13 API).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.RevokePermission(ctx, &v1.RevokePermissionRequest{Username: a[0], ResourceType: a[1], ResourceId: a[2]})
		}},
	{name: "get-permission", params: []string{"<username>", "<resource-type>", "<resource-id>"},
		summary: "Show a user's effective permission on a resource (MLflow 3.13 API).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.GetUserPermission(ctx, &v1.GetUserPermissionRequest{Username: a[0], ResourceType: a[1], ResourceId: a[2]})
		}},
	{name: "check", params: []string{"<username>", "<read|use|update|delete|manage>", "<resource-type>", "<resource-id>"},
		summary: "Ask whether a user may do something to a resource (mlflow-auth only).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.Check(ctx, &v1.CheckRequest{Username: a[0], Capability: a[1], ResourceType: a[2], ResourceId: a[3]})
		}},
	{name: "list-permissions", params: []string{"[<username>]"},
		summary: "List a user's grants; without a username, your own (MLflow 3.13 API).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			if len(a) == 0 {
				return c.ListCurrentUserPermissions(ctx, &v1.ListCurrentUserPermissionsRequest{})
			}
			return c.ListUserPermissions(ctx, &v1.ListUserPermissionsRequest{Username: a[0]})
		}},
	{name: "list-resource-permissions", params: []string{"<resource-type>", "<resource-id>"}, paging: true,
		summary: "List who has a grant on a resource. With --max-results, one page.",
		run: func(ctx context.Context, c *client.Client, a []string, o *options) (proto.Message, error) {
			req := &v1.ListResourcePermissionsRequest{ResourceType: a[0], ResourceId: a[1], MaxResults: o.maxResults, PageToken: o.pageToken}
			if o.maxResults > 0 {
				return c.ListResourcePermissions(ctx, req)
			}
			req.MaxResults = pageSize
			all := &v1.ListResourcePermissionsResponse{Permissions: []*v1.ResourcePermission{}}
			for p, err := range c.AllResourcePermissions(ctx, req) {
				if err != nil {
					return nil, err
				}
				all.Permissions = append(all.Permissions, p)
			}
			return all, nil
		}},

	{name: "create-role", params: []string{"<name>", "[<description>]"}, workspace: true,
		summary: "Create a role (admin; MLflow 3.13 API).",
		run: func(ctx context.Context, c *client.Client, a []string, o *options) (proto.Message, error) {
			req := &v1.CreateRoleRequest{Workspace: o.workspace, Name: a[0]}
			if len(a) > 1 {
				req.Description = &a[1]
			}
			return c.CreateRole(ctx, req)
		}},
	{name: "get-role", params: []string{"<role-id>"}, summary: "Show a role and its permissions.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[0])
			if err != nil {
				return nil, err
			}
			return c.GetRole(ctx, &v1.GetRoleRequest{RoleId: id})
		}},
	{name: "list-roles", paging: true, workspace: true,
		summary: "List the roles of a workspace with their permissions. With --max-results, one page.",
		run: func(ctx context.Context, c *client.Client, _ []string, o *options) (proto.Message, error) {
			req := &v1.ListRolesRequest{Workspace: o.workspace, MaxResults: o.maxResults, PageToken: o.pageToken}
			if o.maxResults > 0 {
				return c.ListRoles(ctx, req)
			}
			req.MaxResults = pageSize
			all := &v1.ListRolesResponse{Roles: []*v1.Role{}}
			for r, err := range c.AllRoles(ctx, req) {
				if err != nil {
					return nil, err
				}
				all.Roles = append(all.Roles, r)
			}
			return all, nil
		}},
	{name: "update-role", params: []string{"<role-id>", "<name>", "[<description>]"},
		summary: "Rename a role and, if given, change its description (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[0])
			if err != nil {
				return nil, err
			}
			req := &v1.UpdateRoleRequest{RoleId: id, Name: &a[1]}
			if len(a) > 2 {
				req.Description = &a[2]
			}
			return c.UpdateRole(ctx, req)
		}},
	{name: "delete-role", params: []string{"<role-id>"}, summary: "Delete a role, its permissions and assignments (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[0])
			if err != nil {
				return nil, err
			}
			return c.DeleteRole(ctx, &v1.DeleteRoleRequest{RoleId: id})
		}},
	{name: "add-role-permission", params: []string{"<role-id>", "<resource-type>", "<resource-id|*>", "<permission>"},
		summary: "Give a role READ, USE, EDIT, MANAGE or DENY on a resource, or with * on every one of the type (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[0])
			if err != nil {
				return nil, err
			}
			return c.AddRolePermission(ctx, &v1.AddRolePermissionRequest{RoleId: id, ResourceType: a[1], ResourcePattern: a[2], Permission: a[3]})
		}},
	{name: "update-role-permission", params: []string{"<role-permission-id>", "<permission>"},
		summary: "Change the level of a role's permission (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role permission id", a[0])
			if err != nil {
				return nil, err
			}
			return c.UpdateRolePermission(ctx, &v1.UpdateRolePermissionRequest{RolePermissionId: id, Permission: a[1]})
		}},
	{name: "remove-role-permission", params: []string{"<role-permission-id>"}, summary: "Remove a permission of a role (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role permission id", a[0])
			if err != nil {
				return nil, err
			}
			return c.RemoveRolePermission(ctx, &v1.RemoveRolePermissionRequest{RolePermissionId: id})
		}},
	{name: "list-role-permissions", params: []string{"<role-id>"}, summary: "List a role's permissions.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[0])
			if err != nil {
				return nil, err
			}
			return c.ListRolePermissions(ctx, &v1.ListRolePermissionsRequest{RoleId: id})
		}},
	{name: "assign-role", params: []string{"<username>", "<role-id>"}, summary: "Give a user a role (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[1])
			if err != nil {
				return nil, err
			}
			return c.AssignRole(ctx, &v1.AssignRoleRequest{Username: a[0], RoleId: id})
		}},
	{name: "unassign-role", params: []string{"<username>", "<role-id>"}, summary: "Take a role from a user (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[1])
			if err != nil {
				return nil, err
			}
			return c.UnassignRole(ctx, &v1.UnassignRoleRequest{Username: a[0], RoleId: id})
		}},
	{name: "list-user-roles", params: []string{"<username>"},
		summary: "List the roles a user holds, their direct grants first as the role __user_<id>__.",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			return c.ListUserRoles(ctx, &v1.ListUserRolesRequest{Username: a[0]})
		}},
	{name: "list-role-users", params: []string{"<role-id>"}, summary: "List who holds a role (admin).",
		run: func(ctx context.Context, c *client.Client, a []string, _ *options) (proto.Message, error) {
			id, err := parseID("role id", a[0])
			if err != nil {
				return nil, err
			}
			return c.ListRoleUsers(ctx, &v1.ListRoleUsersRequest{RoleId: id})
		}},
}

// parseBool accepts true and false in any case, so Python's True and False work.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, usageError{fmt.Errorf("%q is not true or false", s)}
}

// parseDays reads a token lifetime in days; the server checks its range.
func parseDays(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, usageError{fmt.Errorf("%q is not a number of days", s)}
	}
	return int32(n), nil
}

// parseID reads a role or role permission id.
func parseID(what, s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, usageError{fmt.Errorf("%q is not a %s", s, what)}
	}
	return int32(n), nil
}

// checkMaxResults keeps --max-results within the API's int32.
func checkMaxResults(n int) (int32, error) {
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("--max-results %d: want a positive number", n)
	}
	return int32(n), nil
}

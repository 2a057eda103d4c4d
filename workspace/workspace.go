// Package workspace is the request's MLflow workspace: read from the
// X-MLFLOW-WORKSPACE header (or gRPC metadata of that name), validated by
// MLflow's rules, and carried in the context. Roles and direct grants live in
// a workspace; everything is in Default when a request names none.
package workspace

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

const (
	// Default is the workspace of a request that names none, and of everything
	// a server without workspaces keeps.
	Default = "default"
	// Header is the HTTP header that names a request's workspace.
	Header = "X-MLFLOW-WORKSPACE"
	// MetadataKey is the gRPC metadata key of the same (REST forwards the header under it).
	MetadataKey = "x-mlflow-workspace"
)

type key struct{}

// With returns ctx carrying the workspace name.
func With(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, key{}, name)
}

// From is ctx's workspace, Default when none was set.
func From(ctx context.Context) string {
	if name, ok := ctx.Value(key{}).(string); ok && name != "" {
		return name
	}
	return Default
}

// MLflow's WorkspaceNameValidator (Kubernetes namespace names, minus its own path words).
var (
	namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	reserved    = []string{"workspaces", "api", "ajax-api", "static-files"}
)

const minChars, maxChars = 2, 63

// Parse is the workspace a header value names: Default when it is empty or
// blank, else the trimmed name, which must pass MLflow's validation; the error
// text is MLflow's (answered as INVALID_PARAMETER_VALUE).
func Parse(header string) (string, error) {
	name := strings.TrimSpace(header)
	if name == "" || name == Default {
		return Default, nil
	}
	switch {
	case utf8.RuneCountInString(name) < minChars || utf8.RuneCountInString(name) > maxChars:
		return "", fmt.Errorf("Workspace name '%s' must be between %d and %d characters.", name, minChars, maxChars)
	case !namePattern.MatchString(name):
		return "", fmt.Errorf("Workspace name '%s' must match the pattern %s (lowercase alphanumeric with optional internal hyphens).", name, namePattern)
	case slices.Contains(reserved, name):
		return "", fmt.Errorf("Workspace name '%s' is reserved and cannot be used.", name)
	}
	return name, nil
}

// Resource is what a user's permission on a whole workspace is a grant on, in
// that workspace: MLflow's ("workspace", "*"), whose MANAGE makes its holder the
// workspace's admin.
var Resource = permission.Resource{Type: permission.Workspace, ID: permission.Wildcard}

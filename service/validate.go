package service

import (
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// Text limits, in characters, as MLflow's tables count them: usernames and
// experiment ids VARCHAR(255), registered model and scorer names VARCHAR(256).
const (
	maxIDChars   = 255
	maxNameChars = 256 // registered model, prompt and scorer names
	maxWordChars = 64  // permission, resource type and capability names, page tokens
	// maxDescriptionChars is MLflow's roles.description, VARCHAR(1024).
	maxDescriptionChars = 1024
	// maxStoredIDBytes keeps a stored resource id well inside what one Postgres
	// index entry holds (2704 bytes); only a percent-encoded scorer name comes near.
	maxStoredIDBytes = 2048
)

// maxFieldChars bounds each request string field by name; fields not listed get
// maxIDChars. Passwords are hashed, never stored, so only their UTF-8 is checked.
var maxFieldChars = map[string]int{
	"name":             maxNameChars,
	"scorer_name":      maxNameChars,
	"resource_id":      maxStoredIDBytes, // checkResource applies the type's limits
	"permission":       maxWordChars,
	"resource_type":    maxWordChars,
	"capability":       maxWordChars,
	"page_token":       maxWordChars,
	"description":      maxDescriptionChars,
	"password":         -1,
	"current_password": -1,
}

// checkText is the one rule for text that reaches the store: valid UTF-8 (both
// backends would store it differently or not at all), no NUL (Postgres text cannot
// hold it) and at most maxChars characters (negative: no limit, NUL allowed).
func checkText(param, value string, maxChars int) error {
	switch {
	case !utf8.ValidString(value):
		return apiError(codeInvalidParameter, "Invalid value for parameter '%s': it must be valid UTF-8.", param)
	case maxChars < 0:
		return nil
	case strings.IndexByte(value, 0) >= 0:
		return apiError(codeInvalidParameter, "Invalid value for parameter '%s': it must not contain NUL characters.", param)
	case utf8.RuneCountInString(value) > maxChars:
		return apiError(codeInvalidParameter, "Invalid value for parameter '%s': it must be at most %d characters long.", param, maxChars)
	}
	return nil
}

// checkFields applies checkText to every string field of a request.
func checkFields(msg proto.Message) error {
	var err error
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() {
			return true
		}
		limit, ok := maxFieldChars[fd.TextName()]
		if !ok {
			limit = maxIDChars
		}
		err = checkText(fd.TextName(), v.String(), limit)
		return err == nil
	})
	return err
}

// checkResource bounds a resource id as the classic calls bound its parameters,
// whichever call or proxied MLflow request named it.
func checkResource(r permission.Resource) error {
	if t, err := permission.Lookup(string(r.Type)); err == nil {
		if err := t.CheckID(r.ID); err != nil { // a skill MLflow could not name
			return apiError(codeInvalidParameter, "%s", err.Error())
		}
	}
	param, err := "resource_id", error(nil)
	switch {
	case r.ID == permission.Wildcard:
		err = checkText(param, r.ID, maxIDChars) // every resource of the type
	case r.Type == permission.Scorer:
		experimentID, name, splitErr := permission.SplitScorerID(r.ID)
		if splitErr != nil {
			return apiError(codeInvalidParameter, "%s", splitErr.Error())
		}
		if err = checkText("experiment_id", experimentID, maxIDChars); err == nil {
			param, err = "scorer_name", checkText("scorer_name", name, maxNameChars)
		}
	case r.Type == permission.Experiment:
		param, err = "experiment_id", checkText("experiment_id", r.ID, maxIDChars)
	case r.Type == permission.RegisteredModel || r.Type == permission.Prompt:
		param, err = "name", checkText("name", r.ID, maxNameChars)
	default:
		err = checkText(param, r.ID, maxIDChars)
	}
	if err == nil && len(r.ID) > maxStoredIDBytes {
		err = apiError(codeInvalidParameter, "Invalid value for parameter '%s': it is too long to store.", param)
	}
	return err
}

// UsernameRefusal and ResourceRefusal say why the API refuses a username or a
// resource ("" when it accepts it), so that an import skips what it could not serve.
func UsernameRefusal(name string) string { return refusal(validateUsername(name)) }

// PasswordHashRefusal is what the store could not keep alike on both backends
// in a password hash an import brings (see UsernameRefusal); MLflow's column is
// VARCHAR(255), longer than any hash it makes.
func PasswordHashRefusal(hash string) string {
	return refusal(checkText("password_hash", hash, maxIDChars))
}

// ResourceRefusal: see UsernameRefusal.
func ResourceRefusal(r permission.Resource) string { return refusal(checkResource(r)) }

// RoleRefusal is what CreateRole refuses in a role's workspace, name and
// description (see UsernameRefusal), the reserved __user_ prefix aside: an
// import renames a user's own role, and reports another itself.
func RoleRefusal(ws, name string, description *string) string {
	err := checkRoleName(name)
	if strings.HasPrefix(name, reservedRolePrefix) {
		err = nil
	}
	if err == nil {
		err = checkRoleWorkspace(ws)
	}
	if err == nil {
		err = checkFields(&v1.CreateRoleRequest{Workspace: ws, Name: name, Description: description})
	}
	return refusal(err)
}

// RolePatternRefusal is what AddRolePermission refuses in a pattern's text
// (its type's rules are permission.RolePattern's).
func RolePatternRefusal(pattern string) string {
	return refusal(checkFields(&v1.AddRolePermissionRequest{ResourcePattern: pattern}))
}

func refusal(err error) string {
	if err == nil {
		return ""
	}
	return status.Convert(err).Message()
}

// checkAuditFilter refuses ListAuditEvents filters that no row can match
// because they are not a value a row holds: an outcome other than storage's,
// a level other than MLflow's names (as a refusal's levels are stored). A
// typo would otherwise answer "nobody was refused".
func checkAuditFilter(req *v1.ListAuditEventsRequest) error {
	if req.Outcome != "" && !slices.Contains(storage.AuditOutcomes, req.Outcome) {
		return apiError(codeInvalidParameter, "Invalid value '%s' for parameter 'outcome': it must be one of %s.",
			quoted(req.Outcome), strings.Join(storage.AuditOutcomes, ", "))
	}
	for _, l := range []struct{ param, value string }{{"required_level", req.RequiredLevel}, {"held_level", req.HeldLevel}} {
		if l.value == "" {
			continue
		}
		if _, err := permission.ParseLevel(l.value); err != nil {
			return apiError(codeInvalidParameter, "Invalid value '%s' for parameter '%s': %s", quoted(l.value), l.param, err.Error())
		}
	}
	return nil
}

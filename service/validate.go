package service

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mlflow-auth/mlflow-auth/permission"
)

// Text limits, in bytes of UTF-8. MLflow's auth tables hold names and ids in
// VARCHAR(255) (scorer names 256), and a scorer's stored id (experiment id, "/",
// name percent-encoded) then stays far below what a Postgres index entry can hold.
const (
	maxIDBytes         = 255
	maxScorerNameBytes = 256
	maxNameBytes       = 64 // permission, resource type and capability names, page tokens
)

// maxFieldBytes bounds each request string field by name; fields not listed get
// maxIDBytes. Passwords are hashed, never stored, so only their UTF-8 is checked.
var maxFieldBytes = map[string]int{
	"scorer_name":      maxScorerNameBytes,
	"resource_id":      maxIDBytes + 1 + 3*maxScorerNameBytes, // a scorer id
	"permission":       maxNameBytes,
	"resource_type":    maxNameBytes,
	"capability":       maxNameBytes,
	"page_token":       maxNameBytes,
	"password":         -1,
	"current_password": -1,
}

// checkText is the one rule for text that reaches the store: valid UTF-8 (both
// backends would store it differently or not at all), no NUL (Postgres text cannot
// hold it) and at most maxBytes (negative: no limit, NUL allowed).
func checkText(param, value string, maxBytes int) error {
	switch {
	case !utf8.ValidString(value):
		return apiError(codeInvalidParameter, "Invalid value for parameter '%s': it must be valid UTF-8.", param)
	case maxBytes < 0:
		return nil
	case strings.IndexByte(value, 0) >= 0:
		return apiError(codeInvalidParameter, "Invalid value for parameter '%s': it must not contain NUL characters.", param)
	case len(value) > maxBytes:
		return apiError(codeInvalidParameter, "Invalid value for parameter '%s': it must be at most %d bytes long.", param, maxBytes)
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
		limit, ok := maxFieldBytes[fd.TextName()]
		if !ok {
			limit = maxIDBytes
		}
		err = checkText(fd.TextName(), v.String(), limit)
		return err == nil
	})
	return err
}

// checkResource bounds a resource id as the classic calls bound its parameters,
// whichever call or proxied MLflow request named it.
func checkResource(r permission.Resource) error {
	switch r.Type {
	case permission.Scorer:
		experimentID, name, err := permission.SplitScorerID(r.ID)
		if err != nil {
			return apiError(codeInvalidParameter, "%s", err.Error())
		}
		if err := checkText("experiment_id", experimentID, maxIDBytes); err != nil {
			return err
		}
		return checkText("scorer_name", name, maxScorerNameBytes)
	case permission.Experiment:
		return checkText("experiment_id", r.ID, maxIDBytes)
	case permission.RegisteredModel, permission.Prompt:
		return checkText("name", r.ID, maxIDBytes)
	}
	return checkText("resource_id", r.ID, maxIDBytes)
}

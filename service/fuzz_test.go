package service

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// parseBasic reads any header without panicking, and what it accepts is a
// username without ':' that encodes back to the same credentials.
func FuzzParseBasic(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw:with:colons")))
	f.Add("basic  " + base64.StdEncoding.EncodeToString([]byte(":nobody")))
	f.Fuzz(func(t *testing.T, header string) {
		username, pw, ok := parseBasic(header)
		if !ok {
			return
		}
		if username == "" || strings.Contains(username, ":") {
			t.Fatalf("accepted username %q", username)
		}
		again, pwAgain, ok := parseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+pw)))
		if !ok || again != username || pwAgain != pw {
			t.Fatalf("%q: %q, %q does not encode back (%q, %q, %v)", header, username, pw, again, pwAgain, ok)
		}
	})
}

// decodeBody reads any body into a request without panicking: into valid UTF-8
// strings only, or into an error whose message stays short.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"username": "alice", "password": "a-long-password", "is_admin": true}`))
	f.Add([]byte(`{"resource_type": "scorer", "resource_id": 12, "max_results": "7", "page_token": null}`))
	f.Add([]byte(`{"username": "\ud83d\ude00", "experiment_id": 1}`))
	messages := []func() proto.Message{
		func() proto.Message { return &v1.CreateUserRequest{} },
		func() proto.Message { return &v1.UpdateUserAdminRequest{} },
		func() proto.Message { return &v1.ListResourcePermissionsRequest{} },
		func() proto.Message { return &v1.CreateScorerPermissionRequest{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newMsg := range messages {
			msg := newMsg()
			if err := decodeBody(body, msg); err != nil {
				if len(err.Error()) > 400 {
					t.Fatalf("a message of %d bytes", len(err.Error()))
				}
				continue
			}
			msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				if fd.Kind() != protoreflect.StringKind {
					return true
				}
				if s := v.String(); !utf8.ValidString(s) {
					t.Fatalf("%s decoded into invalid UTF-8 %q", fd.Name(), s)
				} else if strings.ContainsRune(s, utf8.RuneError) && !strings.ContainsRune(string(body), utf8.RuneError) &&
					!strings.Contains(strings.ToLower(string(body)), `\ufffd`) {
					t.Fatalf("%s decoded into U+FFFD from %q", fd.Name(), body)
				}
				return true
			})
		}
	})
}

// pageRequest reads any page token without panicking; what it accepts names an id
// that pageToken writes back to the same token.
func FuzzPageToken(f *testing.F) {
	f.Add(int32(0), "")
	f.Add(int32(50), pageToken(int32(41)))
	f.Add(int32(-1), "MTI")
	f.Add(int32(1000), "LTE") // "-1"
	f.Add(int32(7), "OTk5OTk5OTk5OTk5")
	f.Fuzz(func(t *testing.T, maxResults int32, token string) {
		after, limit, err := pageRequest[int32](maxResults, token)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("an error of %d bytes quotes too much of the token", len(err.Error()))
			}
			return
		}
		if limit < 1 || limit > maxPageSize || after < 0 {
			t.Fatalf("accepted limit %d and id %d", limit, after)
		}
		if token != "" && pageToken(after) != token {
			again, _, err := pageRequest[int32](maxResults, pageToken(after))
			if err != nil || again != after {
				t.Fatalf("token %q names id %d, which does not round-trip", token, after)
			}
		}
	})
}

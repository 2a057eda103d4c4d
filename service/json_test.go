package service

import (
	"bytes"
	"encoding/json"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// mlflowJSON's answers are what json.Compact made of protojson's output,
// whatever spacing protojson chose and whatever the strings hold.
func TestMarshalIsCompact(t *testing.T) {
	m := newMLflowJSON()
	for _, name := range []string{"alice", `a "quoted" \ name`, "tab\tnew\nline", `ends in \`, "space : , { } [ ]", "ünïcode ✓"} {
		msg := &v1.GetUserResponse{User: &v1.User{Username: name, IsAdmin: true}}
		raw, err := m.MarshalOptions.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, raw); err != nil {
			t.Fatal(err)
		}
		got, err := m.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%q: got %s, want %s", name, got, want.Bytes())
		}
	}
	for _, in := range []string{` { "a" : [ 1 , "x y" , { } ] , "b\"" : "\\" } `, "{\n\t\"k\":\r\n \"v\"\n}", `"  "`, `[]`} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if got := compactJSON([]byte(in)); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("compactJSON(%q) = %s, want %s", in, got, want.Bytes())
		}
	}
}

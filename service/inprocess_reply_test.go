package service

import (
	"bytes"
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The gateway's reply takes the handler's answer over instead of merging it
// in: for every message of the API, empty, filled at random, and with empty
// (not nil) lists as the handlers build them, the REST body is the bytes a
// proto.Merge into the reply wrote.
func TestInProcessReplyIsWhatAMergeWrote(t *testing.T) {
	m := newMLflowJSON()
	rng := rand.New(rand.NewPCG(12, 13))
	c := newInProcess(nil)
	var answer proto.Message
	c.methods["/test.Answers/Answer"] = inProcessMethod{handler: func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
		return answer, nil
	}}
	for _, md := range apiMessages(t) {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
		if err != nil {
			t.Fatal(err)
		}
		for trial := range 20 {
			msg := mt.New()
			if trial > 0 {
				fill(msg, rng, 0)
			}
			if trial%2 == 1 {
				emptyLists(reflect.ValueOf(msg.Interface()))
			}
			answer = msg.Interface()
			merged := mt.New().Interface()
			proto.Merge(merged, answer)
			reply := mt.New().Interface()
			if err := c.Invoke(context.Background(), "/test.Answers/Answer", &emptypb.Empty{}, reply); err != nil {
				t.Fatal(err)
			}
			got, err := m.Marshal(reply)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.Marshal(merged)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || !proto.Equal(reply, merged) {
				t.Fatalf("%s:\n taken over %s\n merged     %s", md.FullName(), got, want)
			}
		}
	}
}

// emptyLists makes every nil list of a generated message, and of the messages
// in it, an empty one, as userMessage does.
func emptyLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			emptyLists(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); v.Type().Field(i).IsExported() {
				emptyLists(f)
			}
		}
	case reflect.Slice:
		if v.IsNil() && v.Type().Elem().Kind() != reflect.Uint8 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			emptyLists(v.Index(i))
		}
	}
}

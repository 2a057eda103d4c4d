package service

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// Every message of the API, empty and filled at random, is answered exactly as
// protojson (compacted) writes it; the ones appendAnswer cannot write go to
// protojson. Most of them are requests, which are never answers: they widen
// the shapes compared.
func TestAnswersAreProtojsons(t *testing.T) {
	m := newMLflowJSON()
	rng := rand.New(rand.NewPCG(10, 11))
	written, left := 0, 0
	for _, md := range apiMessages(t) {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
		if err != nil {
			t.Fatal(err)
		}
		if answerable(md) {
			written++
		} else {
			left++
		}
		for trial := range 30 {
			msg := mt.New()
			if trial > 0 {
				fill(msg, rng, 0)
			}
			raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(msg.Interface())
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, raw); err != nil {
				t.Fatal(err)
			}
			got, err := m.Marshal(msg.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%s:\n got %s\nwant %s", md.FullName(), got, want.Bytes())
			}
		}
	}
	if !answerable((&v1.GetUserResponse{}).ProtoReflect().Descriptor()) {
		t.Error("users/get's answer is left to protojson")
	}
	t.Logf("%d messages written by appendAnswer, %d left to protojson", written, left)
}

// Text that is not UTF-8 gets protojson's error, not a JSON string.
func TestAnswerRefusesInvalidUTF8(t *testing.T) {
	msg := &v1.GetUserResponse{User: &v1.User{Username: "a\xffb"}}
	if _, ok := appendAnswer(nil, msg.ProtoReflect()); ok {
		t.Fatal("appendAnswer wrote invalid UTF-8")
	}
	if b, err := newMLflowJSON().Marshal(msg); err == nil {
		t.Fatalf("Marshal = %s, want protojson's error", b)
	}
}

// apiMessages are the messages of mlflowauth.v1, nested ones included.
func apiMessages(t *testing.T) []protoreflect.MessageDescriptor {
	var all []protoreflect.MessageDescriptor
	var add func(protoreflect.MessageDescriptors)
	add = func(mds protoreflect.MessageDescriptors) {
		for i := range mds.Len() {
			if md := mds.Get(i); !md.IsMapEntry() {
				all = append(all, md)
				add(md.Messages())
			}
		}
	}
	protoregistry.GlobalFiles.RangeFilesByPackage("mlflowauth.v1", func(fd protoreflect.FileDescriptor) bool {
		add(fd.Messages())
		return true
	})
	if len(all) < 50 {
		t.Fatalf("found only %d messages", len(all))
	}
	return all
}

// texts are strings protojson escapes, or must not.
var texts = []string{"", "alice", `a "quoted" \ name`, "tab\tnew\nline\r\b\f", "\x00\x01\x1f\x7f", "ünïcode ✓ 🙂",
	"\u2028\u2029", "<script>&amp;</script>", "\ufffd", "{}[]:,"}

// fill sets most of m's fields (lists of up to three), to depth 3.
func fill(m protoreflect.Message, rng *rand.Rand, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if rng.IntN(4) == 0 {
			continue
		}
		switch {
		case fd.IsMap():
			continue
		case fd.IsList():
			list := m.Mutable(fd).List()
			for range rng.IntN(4) {
				if fd.Kind() == protoreflect.MessageKind {
					if depth < 3 {
						fill(list.AppendMutable().Message(), rng, depth+1)
					}
				} else {
					list.Append(randomValue(fd, rng))
				}
			}
		case fd.Kind() == protoreflect.MessageKind && wrappers[fd.Message().FullName()]:
			inner := m.Mutable(fd).Message()
			if rng.IntN(2) == 0 {
				value := inner.Descriptor().Fields().ByNumber(1)
				inner.Set(value, randomValue(value, rng))
			}
		case fd.Kind() == protoreflect.MessageKind && strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf."):
			m.Mutable(fd) // present and empty: any value of a well-known type must be in its range
		case fd.Kind() == protoreflect.MessageKind:
			if depth < 3 {
				fill(m.Mutable(fd).Message(), rng, depth+1)
			}
		default:
			m.Set(fd, randomValue(fd, rng))
		}
	}
}

func randomValue(fd protoreflect.FieldDescriptor, rng *rand.Rand) protoreflect.Value {
	ints := []int64{0, 1, -1, 42, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rng.IntN(2) == 0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(texts[rng.IntN(len(texts))])
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(texts[rng.IntN(len(texts))]))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(ints[rng.IntN(6)]))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(ints[rng.IntN(len(ints))])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(rng.Uint64()))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(rng.Uint64())
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if n := rng.IntN(values.Len() + 1); n < values.Len() {
			return protoreflect.ValueOfEnum(values.Get(n).Number())
		}
		return protoreflect.ValueOfEnum(99) // a number the enum does not name
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(rng.Float32())
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(rng.Float64())
	}
	panic(fd.Kind().String())
}

package service

import (
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendAnswer appends m as mlflowJSON's protojson options write it
// (UseProtoNames, EmitUnpopulated), compact, and reports whether it could: it
// knows strings, booleans, integers, enums, bytes, nested messages, lists of
// them and the wrappers of these (google.protobuf.StringValue), and leaves
// anything else (floats, maps, timestamps, text that is not UTF-8) to
// protojson. protojson sorts each message's fields and allocates for every
// value it visits: for users/get that was a tenth of the server's CPU and a
// third of its allocations (issue 10's profile). Its rules, followed here
// field by field in declaration order: a populated field is written; an empty
// one is left out if it belongs to a oneof (a proto3 optional's too), written
// as null if it has presence (a message), and as its zero value otherwise ([]
// for a list). TestAnswersAreProtojsons holds the two to the same bytes.
func appendAnswer(b []byte, m protoreflect.Message) ([]byte, bool) {
	if !answerable(m.Descriptor()) {
		return b, false
	}
	return appendMessage(b, m)
}

func appendMessage(b []byte, m protoreflect.Message) ([]byte, bool) {
	b = append(b, '{')
	fields := m.Descriptor().Fields()
	first := true
	for i := range fields.Len() {
		fd := fields.Get(i)
		has := m.Has(fd)
		if !has && fd.ContainingOneof() != nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, fd.TextName()...) // a proto name never needs escaping
		b = append(b, '"', ':')
		var ok bool
		switch {
		case !has && fd.HasPresence():
			b, ok = append(b, "null"...), true
		case fd.IsList() && !has:
			b, ok = append(b, "[]"...), true // Get would allocate an empty list to say so
		case fd.IsList():
			b, ok = appendList(b, m.Get(fd).List(), fd)
		default:
			b, ok = appendValue(b, m.Get(fd), fd)
		}
		if !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

func appendList(b []byte, list protoreflect.List, fd protoreflect.FieldDescriptor) ([]byte, bool) {
	b = append(b, '[')
	for i := range list.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendValue(b, list.Get(i), fd); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

func appendValue(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor) ([]byte, bool) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), true
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = append(b, '"') // protojson quotes 64-bit integers
		return append(strconv.AppendInt(b, v.Int(), 10), '"'), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendUint(b, v.Uint(), 10), '"'), true
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			b = append(b, '"')
			return append(append(b, ev.Name()...), '"'), true
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), true
	case protoreflect.BytesKind:
		b = append(b, '"')
		return append(base64.StdEncoding.AppendEncode(b, v.Bytes()), '"'), true
	case protoreflect.MessageKind:
		m := v.Message()
		if wrappers[m.Descriptor().FullName()] { // written as the value it wraps
			inner := m.Descriptor().Fields().ByNumber(1)
			return appendValue(b, m.Get(inner), inner)
		}
		return appendMessage(b, m)
	}
	return b, false // answerable let no other kind through
}

// appendString writes s as protojson does: only '"', '\\' and control
// characters escaped (the short forms where JSON has them), and text that is
// not UTF-8 refused (protojson's error is then the answer).
func appendString(b []byte, s string) ([]byte, bool) {
	b = append(b, '"')
	for len(s) > 0 {
		c := s[0]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s)
			if r == utf8.RuneError && n == 1 {
				return b, false
			}
			b, s = append(b, s[:n]...), s[n:]
			continue
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < ' ':
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		s = s[1:]
	}
	return append(b, '"'), true
}

// wrappers are the well-known types protojson writes as the one value they
// hold (or null), of a kind appendValue knows.
var wrappers = map[protoreflect.FullName]bool{
	"google.protobuf.StringValue": true, "google.protobuf.BytesValue": true, "google.protobuf.BoolValue": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
}

// answerables remembers, by message name, whether appendAnswer can write it.
var answerables sync.Map

func answerable(md protoreflect.MessageDescriptor) bool {
	if known, ok := answerables.Load(md.FullName()); ok {
		return known.(bool)
	}
	ok := checkAnswerable(md, map[protoreflect.FullName]bool{})
	answerables.Store(md.FullName(), ok)
	return ok
}

// checkAnswerable walks md's fields and the messages they hold; seen stops
// recursion through a message that holds itself.
func checkAnswerable(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return true
	}
	seen[md.FullName()] = true
	if wrappers[md.FullName()] {
		return true
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") || md.ExtensionRanges().Len() > 0 {
		return false // the other well-known types have JSON forms of their own
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch fd.Kind() {
		case protoreflect.FloatKind, protoreflect.DoubleKind, protoreflect.GroupKind:
			return false
		case protoreflect.EnumKind:
			if fd.Enum().FullName() == "google.protobuf.NullValue" {
				return false
			}
		case protoreflect.MessageKind:
			if fd.IsMap() || !checkAnswerable(fd.Message(), seen) {
				return false
			}
		}
	}
	return true
}

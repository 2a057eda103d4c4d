package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// mlflowJSON writes MLflow's JSON (snake_case keys, empty lists and false values
// present, compact) and reads request bodies the way MLflow's server does:
// unknown fields ignored, null as absent, a JSON number accepted for a string id,
// and a clear INVALID_PARAMETER_VALUE for anything of the wrong type.
type mlflowJSON struct {
	runtime.JSONPb
}

func newMLflowJSON() *mlflowJSON {
	return &mlflowJSON{runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
	}}
}

// Marshal writes an answer compact: appendAnswer's bytes where it can, else
// protojson's, compacted (its spacing is deliberately unstable).
func (m *mlflowJSON) Marshal(v any) ([]byte, error) {
	var b []byte
	var err error
	if msg, ok := v.(proto.Message); ok {
		if b, ok := appendAnswer(make([]byte, 0, 512), msg.ProtoReflect()); ok {
			return b, nil
		}
		b, err = m.MarshalOptions.Marshal(msg) // as JSONPb does, without its copy
	} else {
		b, err = m.JSONPb.Marshal(v)
	}
	if err != nil {
		return nil, err
	}
	return compactJSON(b), nil
}

// compactJSON drops the whitespace between the tokens of valid JSON, in place:
// json.Compact's full scan and copy cost as much as a tenth of writing an
// answer, and the marshaler's output needs no validation.
func compactJSON(b []byte) []byte {
	out := b[:0]
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			continue
		}
		out = append(out, c)
	}
	return out
}

// Unmarshal decodes a request body into a request message.
func (m *mlflowJSON) Unmarshal(data []byte, v any) error {
	msg, ok := v.(proto.Message)
	if !ok {
		return m.JSONPb.Unmarshal(data, v)
	}
	return decodeBody(data, msg)
}

// NewDecoder decodes one request body.
func (m *mlflowJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return m.Unmarshal(data, v)
	})
}

func decodeBody(data []byte, msg proto.Message) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil // no body: every parameter is absent
	}
	if !utf8.Valid(data) || hasLoneSurrogate(data) {
		// encoding/json would quietly turn these into U+FFFD.
		return fmt.Errorf("The request body must be valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return fmt.Errorf("The request body must be a JSON object.")
	}
	m := msg.ProtoReflect()
	for name, value := range fields {
		if err := setField(m, name, value, false); err != nil {
			return err
		}
	}
	return nil
}

// hasLoneSurrogate reports whether a JSON text escapes half of a UTF-16
// surrogate pair ("\ud800") without the other half, which is no character.
func hasLoneSurrogate(data []byte) bool {
	inString, high := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		var unit uint64 // the UTF-16 unit of a \u escape, 0 for anything else
		switch {
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(data) && data[i+1] == 'u' && i+6 <= len(data):
			unit, _ = strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
			i += 5
		case c == '\\':
			i++ // an escaped quote or backslash
		}
		isLow := unit >= 0xdc00 && unit <= 0xdfff
		if high != isLow {
			return true // a high half without a low one, or the reverse
		}
		high = unit >= 0xd800 && unit <= 0xdbff
	}
	return high
}

// queryParser reads GET parameters with the same rules as bodies, so that
// ?max_results=abc gets the same message as {"max_results": "abc"}.
type queryParser struct{}

func (queryParser) Parse(msg proto.Message, values url.Values, _ *utilities.DoubleArray) error {
	m := msg.ProtoReflect()
	for name, vs := range values {
		if err := setField(m, name, vs[0], true); err != nil {
			return err
		}
	}
	return nil
}

// setField stores one parameter. Unknown names are ignored, as MLflow does.
// fromQuery allows the text forms of booleans and numbers.
func setField(m protoreflect.Message, name string, value any, fromQuery bool) error {
	fd := m.Descriptor().Fields().ByTextName(name)
	if fd == nil {
		fd = m.Descriptor().Fields().ByJSONName(name)
	}
	if fd == nil || value == nil {
		return nil
	}
	v, ok := convert(fd, value, fromQuery)
	if !ok {
		shown, _ := json.Marshal(value)
		return fmt.Errorf("Invalid value %s for parameter '%s' supplied: it must be %s.", quoted(string(shown)), fd.TextName(), kindName(fd))
	}
	m.Set(fd, v)
	return nil
}

func convert(fd protoreflect.FieldDescriptor, value any, fromQuery bool) (protoreflect.Value, bool) {
	if fd.IsList() || fd.IsMap() {
		return protoreflect.Value{}, false
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch v := value.(type) {
		case string:
			return protoreflect.ValueOfString(v), true
		case json.Number: // MLflow clients may send an experiment id as a number
			if strings.HasSuffix(string(fd.Name()), "_id") {
				return protoreflect.ValueOfString(v.String()), true
			}
		}
	case protoreflect.BoolKind:
		switch v := value.(type) {
		case bool:
			return protoreflect.ValueOfBool(v), true
		case string:
			if b, err := strconv.ParseBool(v); fromQuery && err == nil {
				return protoreflect.ValueOfBool(b), true
			}
		}
	case protoreflect.Int32Kind:
		var text string
		switch v := value.(type) {
		case json.Number:
			text = v.String()
		case string:
			text = v
		}
		if n, err := strconv.ParseInt(text, 10, 32); err == nil {
			return protoreflect.ValueOfInt32(int32(n)), true
		}
	}
	return protoreflect.Value{}, false
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BoolKind:
		return "a boolean (true or false)"
	case protoreflect.Int32Kind:
		return "a 32-bit integer"
	}
	return "of type " + fd.Kind().String()
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mlflow-auth/mlflow-auth/terminal"
)

// write prints a response as MLflow's JSON (snake_case keys, every field
// present, indented) or as tables for people.
func write(w io.Writer, m proto.Message, format string) error {
	if format == "table" {
		return writeTable(w, m.ProtoReflect())
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	// protojson's own spacing is deliberately unstable; indent it ourselves.
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// writeTable shows the response's scalar fields as "name: value" lines and each
// message or list of messages in it as a table of their scalar fields; the lists
// inside a single message (a user's grants) follow as tables of their own. An
// empty response prints nothing.
func writeTable(w io.Writer, m protoreflect.Message) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		v := m.Get(fd)
		switch {
		case fd.IsList() && fd.Message() != nil:
			rows(tw, fd.Message(), v.List())
		case fd.Message() != nil:
			one := v.Message()
			rows(tw, fd.Message(), singleton{one})
			nested := fd.Message().Fields()
			for j := range nested.Len() {
				if n := nested.Get(j); n.IsList() && n.Message() != nil && one.Get(n).List().Len() > 0 {
					fmt.Fprintf(tw, "\n%s:\n", n.Name())
					rows(tw, n.Message(), one.Get(n).List())
				}
			}
		case fd.Kind() == protoreflect.StringKind && v.String() == "":
			// An empty next_page_token says nothing to a person.
		default:
			fmt.Fprintf(tw, "%s: %s\n", fd.Name(), terminal.Safe(v.String()))
		}
	}
	return tw.Flush()
}

// rows writes a header of the message type's scalar fields and one row per item.
func rows(w io.Writer, md protoreflect.MessageDescriptor, items list) {
	var header []string
	var scalars []protoreflect.FieldDescriptor
	for i := range md.Fields().Len() {
		if fd := md.Fields().Get(i); !fd.IsList() && fd.Message() == nil {
			scalars = append(scalars, fd)
			header = append(header, strings.ToUpper(string(fd.Name())))
		}
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for i := range items.Len() {
		cells := make([]string, len(scalars))
		for j, fd := range scalars {
			cells[j] = terminal.Safe(items.Get(i).Message().Get(fd).String())
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
}

// list is what rows needs of a protoreflect.List.
type list interface {
	Len() int
	Get(int) protoreflect.Value
}

// singleton is a one-item list.
type singleton struct{ m protoreflect.Message }

func (singleton) Len() int                     { return 1 }
func (s singleton) Get(int) protoreflect.Value { return protoreflect.ValueOfMessage(s.m) }

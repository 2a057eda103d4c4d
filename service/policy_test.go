package service

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1" // registers the files
)

// Every RPC of every service needs a row in the policy table; an RPC added to a
// .proto without one fails here (and is refused at run time).
func TestPolicyTableCoversEveryRPC(t *testing.T) {
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("mlflowauth.v1", func(f protoreflect.FileDescriptor) bool {
		files = append(files, f)
		return true
	})
	rpcs := 0
	for _, f := range files {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				name := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(j).Name())
				rpcs++
				r, ok := policies[name]
				if !ok || r.access == accessDenied {
					t.Errorf("%s has no policy", name)
				}
				if groupOf(name) == "other" {
					t.Errorf("%s: its service has no group in decisionGroups", name)
				}
				// Every required field must exist, or the check would always fail.
				in := svc.Methods().Get(j).Input()
				for _, field := range r.required {
					if in.Fields().ByTextName(field) == nil {
						t.Errorf("%s: required field %q is not in %s", name, field, in.FullName())
					}
				}
			}
		}
	}
	if rpcs != len(policies)-4 { // the extra rows: gRPC health's Check and Watch, reflection (v1 and v1alpha)
		t.Errorf("policy table has %d rows for %d RPCs: remove rows of RPCs that no longer exist", len(policies), rpcs)
	}
}

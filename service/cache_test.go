package service_test

import (
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
)

// With the credential cache on, two replicas sharing one database both refuse an
// old password the moment it is changed on either of them.
func TestCredentialCacheAcrossReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	var callers []caller
	for range 2 {
		db, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s := servicetest.Start(t, servicetest.Options{Store: db, CredentialCacheTTL: time.Hour})
		conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		callers = append(callers, caller{t, grpcTransport{conn}, adminUser, adminPass})
	}
	a, b := callers[0], callers[1]
	a.createUser("rotating", "first-password")
	get := v1.UserService_GetUser_FullMethodName
	for _, replica := range []caller{a, b} {
		for range 2 { // the second call is answered from the cache
			replica.as("rotating", "first-password").expect("", get, &v1.GetUserRequest{Username: "rotating"}, &v1.GetUserResponse{})
		}
	}
	a.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
		&v1.UpdateUserPasswordRequest{Username: "rotating", Password: "second-password"}, &v1.UpdateUserPasswordResponse{})
	for _, replica := range []caller{a, b} {
		replica.as("rotating", "first-password").expect(unauthorized, get, &v1.GetUserRequest{Username: "rotating"}, &v1.GetUserResponse{})
		replica.as("rotating", "second-password").expect("", get, &v1.GetUserRequest{Username: "rotating"}, &v1.GetUserResponse{})
	}
	// A deleted user is refused at once too.
	a.expect("", v1.UserService_DeleteUser_FullMethodName, &v1.DeleteUserRequest{Username: "rotating"}, &v1.DeleteUserResponse{})
	b.as("rotating", "second-password").expect(unauthorized, get, &v1.GetUserRequest{Username: "rotating"}, &v1.GetUserResponse{})
}

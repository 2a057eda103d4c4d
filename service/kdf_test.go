package service_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
)

// A storm of wrong passwords (and unknown users, who cost a hash too) meets the
// gate in front of the key derivation: callers past its line are told to come back
// (503 TEMPORARILY_UNAVAILABLE, Retry-After) without any hashing, and an admin
// whose credentials are cached is served throughout.
func TestWrongPasswordStormLeavesCachedLoginsServed(t *testing.T) {
	s := servicetest.Start(t, servicetest.Options{
		CredentialCacheTTL: time.Hour,
		Hasher:             password.Params{N: 4096, R: 8, P: 1}, // slow enough for a line to form
		KDF:                service.KDFLimits{Concurrent: 1, Queued: 2, MaxWait: 20 * time.Millisecond},
	})
	get := func(user, pass string) (int, string, map[string]any) {
		req, _ := http.NewRequest("GET", s.URL+"/api/2.0/mlflow/users/get?username=admin", nil)
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, "", nil
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		return res.StatusCode, res.Header.Get("Retry-After"), body
	}
	if status, _, _ := get(servicetest.AdminUsername, servicetest.AdminPassword); status != 200 {
		t.Fatalf("admin: %d before the storm", status)
	}

	stop := make(chan struct{})
	var mu sync.Mutex
	answers := map[int]int{}
	var wg sync.WaitGroup
	for i := range 16 {
		user := "admin"
		if i%2 == 1 {
			user = "nobody"
		}
		wg.Go(func() {
			for n := 0; n < 200; n++ {
				select {
				case <-stop:
					return
				default:
				}
				status, retry, body := get(user, "wrong password")
				if status == 503 && (retry != "1" || body["error_code"] != "TEMPORARILY_UNAVAILABLE") {
					t.Errorf("503 with Retry-After %q and body %v", retry, body)
				}
				mu.Lock()
				answers[status]++
				mu.Unlock()
			}
		})
	}
	for range 50 {
		if status, _, body := get(servicetest.AdminUsername, servicetest.AdminPassword); status != 200 {
			t.Errorf("cached admin during the storm: %d %v", status, body)
		}
	}
	close(stop)
	wg.Wait()
	if answers[503] == 0 || answers[401] == 0 || answers[401]+answers[503] != sumOf(answers) {
		t.Errorf("storm answers by status: %v; want 401s and 503s only", answers)
	}
}

func sumOf(m map[int]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// Failed logins are throttled per username and per address: past the free failures
// the same 429 REQUEST_LIMIT_EXCEEDED with Retry-After answers a wrong password and
// an unknown user alike (and a right password too, until the wait is over), on REST
// and gRPC. Credentials that verified recently still pass, so guessing cannot lock
// out a logged-in user, and an admin's password reset lets the user in at once.
func TestFailedLoginsAreThrottled(t *testing.T) {
	s := servicetest.Start(t, servicetest.Options{CredentialCacheTTL: time.Hour, LoginThrottle: service.LoginThrottle{FreeFailures: 3}, AuditFold: time.Second})
	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ts := &testServer{httpBase: s.URL, conn: conn, store: s.Store}
	rest := func(user, pass string) (int, string, string) {
		req, _ := http.NewRequest("GET", s.URL+"/api/2.0/mlflow/users/current", nil)
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			ErrorCode string `json:"error_code"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.ErrorCode, res.Header.Get("Retry-After")
	}
	admin := caller{t, ts.transports(t)[0], adminUser, adminPass}
	admin.expect("", v1.UserService_GetCurrentUser_FullMethodName, &v1.GetCurrentUserRequest{}, &v1.GetCurrentUserResponse{}) // now cached
	admin.createUser("alice", "alice-password-1")
	admin.createUser("cached-carol", "carol-password-1")
	if status, _, _ := rest("cached-carol", "carol-password-1"); status != 200 {
		t.Fatalf("carol: %d", status)
	}

	for _, user := range []string{"alice", "nobody-of-that-name"} {
		for i := range 3 {
			if status, code, _ := rest(user, "wrong-password"); status != 401 || code != "UNAUTHENTICATED" {
				t.Fatalf("%s, failure %d: %d %s, want 401", user, i+1, status, code)
			}
		}
		status, code, retry := rest(user, "wrong-password")
		if status != 429 || code != "REQUEST_LIMIT_EXCEEDED" || retry != "1" {
			t.Fatalf("%s after 3 failures: %d %s Retry-After %q, want 429 REQUEST_LIMIT_EXCEEDED 1", user, status, code, retry)
		}
	}
	if status, _, _ := rest("alice", "alice-password-1"); status != 429 {
		t.Errorf("alice's right password while she waits: %d, want 429", status)
	}
	_, err = v1.NewUserServiceClient(conn).GetCurrentUser(metadata.AppendToOutgoingContext(t.Context(),
		"authorization", basicAuth("alice", "alice-password-1")), &v1.GetCurrentUserRequest{})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || len(st.Details()) == 0 {
		t.Errorf("gRPC while alice waits: %v, want ResourceExhausted with RetryInfo", st)
	}

	// The address has failed 6 times (throttled attempts do not count); at 12 it
	// waits too, for every new login.
	for range 6 {
		rest(fmt.Sprintf("guess-%d", time.Now().UnixNano()), "wrong-password")
	}
	admin.createUser("dave", "dave-password-1")
	if status, code, _ := rest("dave", "dave-password-1"); status != 429 {
		t.Errorf("a new login from a waiting address: %d %s, want 429", status, code)
	}
	// Credentials that verified before pass all the same.
	if status, _, _ := rest("cached-carol", "carol-password-1"); status != 200 {
		t.Errorf("carol, cached, from a waiting address: %d, want 200", status)
	}
	admin.expect("", v1.UserService_GetCurrentUser_FullMethodName, &v1.GetCurrentUserRequest{}, &v1.GetCurrentUserResponse{})
	// An admin's reset lets alice in at once (here as soon as the address's wait is over).
	admin.expect("", v1.UserService_UpdateUserPassword_FullMethodName,
		&v1.UpdateUserPasswordRequest{Username: "alice", Password: "alice-password-2"}, &v1.UpdateUserPasswordResponse{})
	time.Sleep(time.Second + 100*time.Millisecond) // the address's first wait
	if status, code, _ := rest("alice", "alice-password-2"); status != 200 {
		t.Errorf("alice after an admin's reset: %d %s, want 200", status, code)
	}

	// Each failure and each throttled attempt of alice is in the audit trail.
	want := []string{"throttled x3", "wrong password x3"}
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		evs, err := s.Store.(storage.Audit).ListAuditEvents(t.Context(), storage.AuditFilter{Actor: "alice", Event: "login.failed"})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, ev := range evs {
			got = append(got, fmt.Sprintf("%s x%d", ev.Reason, ev.Count))
		}
		if slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("alice's failed logins, newest first: %q, want %q", got, want)
}

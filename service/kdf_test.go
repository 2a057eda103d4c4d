package service_test

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
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

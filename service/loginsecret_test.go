package service_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlflow-auth/mlflow-auth/service/servicetest"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/token"
)

// A token given as a login's username is no name to keep, even when it is not
// one the server could accept: with a space or a newline around it, mistyped
// (its checksum fails), one character short, or after "Bearer ". Its row and
// its log line name "mla_…", never the text.
func TestNearTokenUsernameIsNotKept(t *testing.T) {
	logs := jsonLogs(t)
	s := servicetest.Start(t, servicetest.Options{AuditFold: time.Millisecond})
	tok, _ := token.New()
	flip := map[byte]byte{'a': 'b'}[tok[10]]
	if flip == 0 {
		flip = 'a'
	}
	mistyped := tok[:10] + string(flip) + tok[11:]
	usernames := []string{tok + " ", " " + tok, tok + "\n", mistyped, tok[:len(tok)-1], "Bearer " + tok}
	since := time.Now().Add(-time.Second)
	for _, u := range usernames {
		if status, body := do(t, http.MethodGet, s.URL+"/api/2.0/mlflow/users/current", u, "any-password", nil, nil); status != http.StatusUnauthorized {
			t.Fatalf("login as %q: %d %s", u, status, body)
		}
	}
	var evs []storage.AuditEvent
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if evs, err = s.Store.(storage.Audit).ListAuditEvents(context.Background(),
			storage.AuditFilter{Event: "login.failed", Since: since}); err != nil {
			t.Fatal(err)
		}
		if n := 0; len(evs) > 0 {
			for _, ev := range evs {
				n += ev.Count
			}
			if n < len(usernames) {
				continue
			}
			break
		}
	}
	secret := tok[len(token.Prefix) : len(token.Prefix)+20]
	n := 0
	for _, ev := range evs {
		n += ev.Count
		if ev.ActorUsername != "mla_…" || strings.Contains(ev.ActorUsername, secret) {
			t.Errorf("row of a near-token username names %q", ev.ActorUsername)
		}
	}
	if n != len(usernames) {
		t.Errorf("%d refused logins counted, want %d: %+v", n, len(usernames), evs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the token's secret:\n%s", logs.String())
	}
}

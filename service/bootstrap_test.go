package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/storagetest"
)

// The admin a start makes when the store has none is in the audit trail, as
// are the password and the role it gives a non-admin of that name: rows that
// name no actor, the start as their operation, and no password.
func TestEnsureAdminIsInTheAuditTrail(t *testing.T) {
	ctx := context.Background()
	type audited interface {
		storage.Store
		storage.Audit
	}
	stores := map[string]func(t *testing.T) audited{
		"sqlite": func(t *testing.T) audited { return storagetest.NewSQLite(t) },
		"postgres": func(t *testing.T) audited {
			pg := openPostgres(t, "")
			if err := pg.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return pg
		},
	}
	hasher := password.Params{N: 2, R: 1, P: 1}
	rows := func(t *testing.T, db audited) []string {
		t.Helper()
		evs, err := db.ListAuditEvents(ctx, storage.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			if ev.ActorUsername != "" || ev.ActorUserID != 0 || ev.Operation != "mlflow-auth serve (no admin)" || ev.Category != storage.AuditAdmin {
				t.Errorf("a row of the start names %q (%d) as its actor, %q as its operation, category %q",
					ev.ActorUsername, ev.ActorUserID, ev.Operation, ev.Category)
			}
			got = append(got, ev.Event+" "+ev.ResourceType+"/"+ev.ResourceID+" "+canonicalJSON(t, ev.Before)+" "+canonicalJSON(t, ev.After))
		}
		if strings.Contains(strings.Join(got, ""), "pass-word-") {
			t.Errorf("a row keeps the password: %q", got)
		}
		return got
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			if _, err := service.EnsureAdmin(ctx, db, hasher, "root", "root-pass-word-1"); err != nil {
				t.Fatal(err)
			}
			if got, want := rows(t, db), []string{`user.create user/root  {"is_admin":true,"username":"root"}`}; !slices.Equal(got, want) {
				t.Errorf("rows of a new admin:\n got  %q\n want %q", got, want)
			}

			db = open(t)
			if _, err := db.CreateUser(ctx, "boss", "hash", false); err != nil {
				t.Fatal(err)
			}
			if _, err := service.EnsureAdmin(ctx, db, hasher, "boss", "boss-pass-word-1"); err != nil {
				t.Fatal(err)
			}
			if got, want := rows(t, db), []string{
				`user.admin user/boss {"is_admin":false,"username":"boss"} {"is_admin":true,"username":"boss"}`,
				`user.password user/boss {"username":"boss"} {"password":"changed","username":"boss"}`,
			}; !slices.Equal(got, want) {
				t.Errorf("rows of a user made admin, newest first:\n got  %q\n want %q", got, want)
			}
		})
	}
}

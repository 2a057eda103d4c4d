// Package servicetest runs a real mlflow-auth server in process for tests, as
// net/http/httptest does for handlers: REST and gRPC on loopback ports, a fresh
// SQLite database (or the store given), and an admin account.
package servicetest

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
	"github.com/mlflow-auth/mlflow-auth/storage/usercache"
)

// The admin account every Server starts with.
const (
	AdminUsername = "admin"
	AdminPassword = "admin-password-for-tests"
)

// cheapHash keeps each request fast; production uses password.Default.
var cheapHash = password.Params{N: 1024, R: 8, P: 1}

// Options change what Start runs. The zero value is NewServer's server.
type Options struct {
	// Store is the database to serve, migrated by Start; nil means a fresh SQLite file.
	Store Database
	// DefaultPermission is --default-permission; empty means READ.
	DefaultPermission permission.Level
	// TLS serves REST over HTTPS with a self-signed certificate.
	TLS bool
	// CredentialCacheTTL is service.Config's; zero (off) by default.
	CredentialCacheTTL time.Duration
	// UserCacheTTL is service.Config's; zero (off) by default.
	UserCacheTTL time.Duration
	// UserChanges is service.Config's: nil is in process.
	UserChanges usercache.Notifier
	// KDF is service.Config's; the zero value picks its defaults.
	KDF service.KDFLimits
	// LoginThrottle is service.Config's; off by default, so tests may fail logins freely.
	LoginThrottle service.LoginThrottle
	// Upstream is service.Config's: the MLflow server the front door guards; nil for none.
	Upstream *url.URL
	// Hasher is the cost of password hashes; the zero value is a cheap one that keeps tests fast.
	Hasher password.Params
	// AuditFold is service.Config's: how long refusals fold before their row is written.
	AuditFold time.Duration
	// CallTimeout is service.Config's: how long an RPC may wait on the database.
	CallTimeout time.Duration
}

// Database is a store that can migrate itself, as both backends can.
type Database interface {
	storage.Store
	storage.Roles
	storage.Tokens
	storage.Audit
	storage.Migrator
}

// Server is a running mlflow-auth.
type Server struct {
	// URL is the REST base, the tracking URI a client is given.
	URL string
	// GRPCAddr is the host:port of the gRPC listener (plaintext).
	GRPCAddr string
	// CertFile is the PEM file of the REST listener's certificate (NewTLSServer only).
	CertFile string
	// Store is the server's database, for checking what a call changed.
	Store storage.Store
}

// NewServer starts a server with plain HTTP on SQLite, default permission READ;
// it stops when the test ends.
func NewServer(t testing.TB) *Server { return Start(t, Options{}) }

// NewTLSServer starts a server whose REST side is HTTPS with a self-signed
// certificate, written to CertFile.
func NewTLSServer(t testing.TB) *Server { return Start(t, Options{TLS: true}) }

// Start starts a server as opts say; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	db := opts.Store
	if db == nil {
		lite, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lite.Close() })
		db = lite
	}
	if opts.Hasher == (password.Params{}) {
		opts.Hasher = cheapHash
	}
	if opts.DefaultPermission == "" {
		opts.DefaultPermission = permission.Read
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := service.EnsureAdmin(ctx, db, opts.Hasher, AdminUsername, AdminPassword); err != nil {
		t.Fatal(err)
	}
	srv, err := service.New(service.Config{Store: db, Roles: db, Tokens: db, DefaultPermission: opts.DefaultPermission, Hasher: opts.Hasher,
		CredentialCacheTTL: opts.CredentialCacheTTL, UserCacheTTL: opts.UserCacheTTL, UserChanges: opts.UserChanges, KDF: opts.KDF, LoginThrottle: opts.LoginThrottle, Upstream: opts.Upstream,
		Audit: db, AuditFold: opts.AuditFold, CallTimeout: opts.CallTimeout})
	if err != nil {
		t.Fatal(err)
	}

	readyCtx, stopReady := context.WithCancel(ctx)
	t.Cleanup(stopReady)
	srv.StartReadiness(readyCtx)
	auditCtx, stopAudit := context.WithCancel(ctx)
	audited := make(chan struct{})
	go func() {
		srv.StartAudit(auditCtx)
		close(audited)
	}()
	t.Cleanup(func() {
		stopAudit()
		<-audited
	})

	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.GRPCServer().Serve(grpcLis) }()
	t.Cleanup(func() {
		srv.GRPCServer().Stop()
		// ErrServerStopped: the test ended before Serve got going.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("gRPC server: %v", err)
		}
	})

	rest := httptest.NewUnstartedServer(srv.Handler())
	s := &Server{GRPCAddr: grpcLis.Addr().String(), Store: db}
	if opts.TLS {
		rest.StartTLS()
		s.CertFile = filepath.Join(t.TempDir(), "server.pem")
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rest.Certificate().Raw})
		if err := os.WriteFile(s.CertFile, block, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		rest.Start()
	}
	t.Cleanup(rest.Close)
	s.URL = rest.URL
	return s
}

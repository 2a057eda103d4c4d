// Package service implements mlflow-auth's UserService and PermissionService,
// the policy that guards them, and their two transports: gRPC, and MLflow's REST
// auth API through grpc-gateway.
package service

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/metrics"
	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/proxy"
	"github.com/mlflow-auth/mlflow-auth/resolve"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/permcache"
	"github.com/mlflow-auth/mlflow-auth/storage/usercache"
)

// Config is what the service needs to run.
type Config struct {
	Store storage.Store
	// Roles keeps MLflow 3.13+'s roles; both backends' stores are one.
	Roles storage.Roles
	// Tokens keeps access tokens; both backends' stores are one.
	Tokens storage.Tokens
	// TokenMaxLifetime is the longest an access token may live; zero means DefaultTokenMaxLifetime.
	TokenMaxLifetime time.Duration
	// DefaultPermission applies where a user has no grant on a resource (MLflow's default_permission).
	DefaultPermission permission.Level
	// Hasher sets the cost of new password hashes; the zero value means password.Default.
	Hasher password.Params
	// Upstream is the MLflow tracking server to guard; nil serves only the auth API.
	Upstream *url.URL
	// CredentialCacheTTL is how long a verified username and password are remembered
	// (see password.Cache); zero verifies the hash on every request.
	CredentialCacheTTL time.Duration
	// UserCacheTTL is how long a user read by name (id, hash, admin flag; see
	// usercache) and the permission lookups of requests (see permcache) are
	// answered from memory; this replica's changes are seen at once, other
	// replicas' through UserChanges or after at most the TTL. Zero reads them
	// on every request.
	UserCacheTTL time.Duration
	// UserChanges carries the user cache's invalidations between replicas
	// (postgres.Notifier); nil is in process, for one replica (SQLite).
	UserChanges usercache.Notifier
	// KDF bounds the password hashing that requests may cause; the zero value picks defaults.
	KDF KDFLimits
	// TLS, when set, makes both listeners serve TLS with it (HTTP/2 on REST).
	TLS *tls.Config
	// LoginThrottle slows down password guessing; the zero value turns it off.
	LoginThrottle LoginThrottle
	// Metrics receives the server's measurements; nil makes a set of its own
	// (see Server.MetricsHandler).
	Metrics *metrics.Metrics
	// StallTimeout is how long a request's body or answer may make no progress
	// before its connection is cut (see connDeadlines); zero means one minute.
	StallTimeout time.Duration
	// CallTimeout bounds one RPC, database round trips included: a database that
	// stops answering yields TEMPORARILY_UNAVAILABLE after it. Zero means 15 s.
	CallTimeout time.Duration
	// Audit keeps the audit trail; both backends' stores are one. Changes are
	// written with them (storage.WithAudit), auth events (failed logins,
	// refusals) by Serve or StartAudit.
	Audit storage.Audit
	// AuditFold is how long repeated refusals fold into one row; zero means a minute.
	AuditFold time.Duration
	// AuditRetention is how long audit events are kept: StartAudit deletes
	// older ones when it starts and every hour. Zero keeps them forever.
	AuditRetention time.Duration
	// AuditLog, when set, also receives every audit event as one JSON line
	// (ListAuditEvents' fields) once its row commits, for log shippers; Audit
	// must then be a storage.AuditTap.
	AuditLog io.Writer
}

// DefaultAuditRetention is the audit retention that the command line offers.
const DefaultAuditRetention = 90 * 24 * time.Hour

// Server holds both transports over one set of service implementations.
type Server struct {
	tls       *tls.Config
	grpc      *grpc.Server
	health    *health.Server
	ready     *readiness
	deadlines *connDeadlines
	http      http.Handler
	metrics   *metrics.Metrics
	audit     *authAudit
}

// grantStore is the store and the role store as the resolver reads them.
type grantStore struct {
	storage.Store
	storage.Roles
}

// New wires the services, the policy interceptor and both transports.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("service: no store")
	}
	if cfg.Roles == nil {
		return nil, errors.New("service: no role store")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("service: no token store")
	}
	if cfg.Audit == nil {
		return nil, errors.New("service: no audit store")
	}
	if cfg.AuditLog != nil {
		tap, ok := cfg.Audit.(storage.AuditTap)
		if !ok {
			return nil, errors.New("service: the audit store cannot tell of its rows, so there is no audit log")
		}
		tap.TapAudit(auditLogLines(cfg.AuditLog))
	}
	if _, err := permission.ParseLevel(string(cfg.DefaultPermission)); err != nil {
		return nil, err
	}
	if cfg.Hasher == (password.Params{}) {
		cfg.Hasher = password.Default
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	measurePool(cfg.Metrics, cfg.Store) // the backend's own pool, before any wrapper
	if cfg.UserCacheTTL > 0 {
		n := cfg.UserChanges
		if n == nil {
			n = &usercache.Local{}
		}
		cache := usercache.New(cfg.Store, cfg.UserCacheTTL, n)
		cfg.Store, cfg.Tokens = cache, cache.Tokens(cfg.Tokens)
		// The permission lookups too, with the same TTL and notifier: one
		// setting bounds how stale anything a request reads can be.
		perms := permcache.New(cfg.UserCacheTTL, n)
		cfg.Store, cfg.Roles = perms.Store(cfg.Store), perms.Roles(cfg.Roles)
	}
	auth, err := newAuthenticator(cfg.Store, cfg.Tokens, cfg.Hasher, cfg.CredentialCacheTTL, cfg.KDF, cfg.LoginThrottle)
	if err != nil {
		return nil, err
	}
	auth.measure(cfg.Metrics)
	for _, g := range decisionGroups {
		cfg.Metrics.DecisionGroups(g)
	}
	auth.audit = newAuthAudit(cfg.Audit, cfg.AuditFold)
	auth.audit.retention = cfg.AuditRetention
	c := &core{store: cfg.Store, roles: cfg.Roles, tokens: cfg.Tokens, audit: cfg.Audit, auth: auth, metrics: cfg.Metrics,
		resolver:         resolve.New(grantStore{cfg.Store, cfg.Roles}, cfg.DefaultPermission),
		tokenMaxLifetime: cmp.Or(cfg.TokenMaxLifetime, DefaultTokenMaxLifetime),
		callTimeout:      cmp.Or(cfg.CallTimeout, 15*time.Second)}
	s := &Server{health: health.NewServer(), deadlines: newConnDeadlines(cmp.Or(cfg.StallTimeout, time.Minute)), metrics: cfg.Metrics, audit: auth.audit}
	services := apiServices(c)
	s.ready = newReadiness(s.health, services, cfg.Store.Ping, cfg.Upstream)
	chain := c.interceptors()
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(chain...),
		grpc.ChainStreamInterceptor(c.streamInterceptors()...),
		grpc.ForceServerCodecV2(newRequestCodec()),
		grpc.MaxRecvMsgSize(maxBodyBytes),
		// Per connection: a bounded number of calls at once, and small headers.
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
		grpc.MaxHeaderListSize(maxHeaderBytes),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.tls = cfg.TLS
	s.grpc = grpc.NewServer(opts...)
	conn := newInProcess(chain)
	for _, svc := range services {
		s.grpc.RegisterService(svc.desc, svc.impl)
		conn.register(svc.desc, svc.impl)
	}
	grpc_health_v1.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	var mlflow http.Handler
	if cfg.Upstream != nil {
		p := proxy.New(cfg.Upstream, guard{c}, cfg.Store)
		p.Instrument(cfg.Metrics)
		mlflow = p
	}
	handler, err := newHTTPHandler(services, conn, mlflow, s.ready)
	if err != nil {
		return nil, err
	}
	s.http = s.deadlines.wrap(traceHTTP(cfg.Metrics.HTTP(handler)))
	return s, nil
}

// interceptors is the one chain every RPC passes, over gRPC and over REST (the
// gateway's in-process connection) alike, in this order.
func (c *core) interceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{recoverUnary, traceUnary, logUnary, c.measureUnary, refuseUndecodable, c.authorizeUnary}
}

// streamInterceptors is the chain's counterpart for streaming RPCs (gRPC
// health's Watch, reflection), which come by gRPC only: the same interceptors
// in the same order, less the codec's, which only unary calls need.
func (c *core) streamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{recoverStream, traceStream, logStream, c.measureStream, c.authorizeStream}
}

// apiService is one of mlflow-auth's own services: served over gRPC, in process
// for the REST gateway, and reported on by gRPC health. apiServices is their one list.
type apiService struct {
	desc    *grpc.ServiceDesc
	impl    any
	gateway func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error
}

func apiServices(c *core) []apiService {
	return []apiService{
		{&v1.UserService_ServiceDesc, &userService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterUserServiceHandlerClient(ctx, mux, v1.NewUserServiceClient(conn))
		}},
		{&v1.PermissionService_ServiceDesc, &permissionService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterPermissionServiceHandlerClient(ctx, mux, v1.NewPermissionServiceClient(conn))
		}},
		{&v1.AuthorizationService_ServiceDesc, &authorizationService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterAuthorizationServiceHandlerClient(ctx, mux, v1.NewAuthorizationServiceClient(conn))
		}},
		{&v1.RoleService_ServiceDesc, &roleService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterRoleServiceHandlerClient(ctx, mux, v1.NewRoleServiceClient(conn))
		}},
		{&v1.TokenService_ServiceDesc, &tokenService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterTokenServiceHandlerClient(ctx, mux, v1.NewTokenServiceClient(conn))
		}},
		{&v1.WorkspaceService_ServiceDesc, &workspaceService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterWorkspaceServiceHandlerClient(ctx, mux, v1.NewWorkspaceServiceClient(conn))
		}},
		{&v1.AuditService_ServiceDesc, &auditService{core: c}, func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return v1.RegisterAuditServiceHandlerClient(ctx, mux, v1.NewAuditServiceClient(conn))
		}},
	}
}

// Handler is the HTTP side: MLflow's REST auth API and /health.
func (s *Server) Handler() http.Handler { return s.http }

// MetricsHandler serves the server's metrics in Prometheus's format, for a
// listener of its own (see Config.Metrics).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// GRPCServer is the gRPC side, with health and reflection.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Limits on what one connection may hold, on both listeners.
const (
	maxHeaderBytes    = 64 << 10
	maxStreamsPerConn = 100
)

// shutdownGrace is how long in-flight requests get after a stop signal.
const shutdownGrace = 10 * time.Second

// StartReadiness checks the database (and the upstream) now, and keeps /ready and
// gRPC health up to date until ctx ends; Serve starts it.
func (s *Server) StartReadiness(ctx context.Context) { s.ready.start(ctx) }

// StartAudit writes the auth events of the audit trail until ctx ends, then
// the ones still waiting, and prunes events older than the retention; Serve runs it.
func (s *Server) StartAudit(ctx context.Context) { s.audit.run(ctx) }

// BoundedHTTPServer serves h with the API listener's bounds on what a client
// may hold: headers within 10 s and at most maxHeaderBytes, idle connections
// closed after 2 minutes. The metrics listener uses it too.
func BoundedHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: maxHeaderBytes}
}

// Serve serves HTTP and gRPC until ctx ends or a listener fails, then drains
// in-flight requests for up to shutdownGrace before closing what remains.
func (s *Server) Serve(ctx context.Context, httpLis, grpcLis net.Listener) error {
	// Headers must arrive within ReadHeaderTimeout and stay small; bodies and
	// answers may take as long as they keep moving (connDeadlines).
	hs := BoundedHTTPServer(s.http)
	hs.TLSConfig = s.tls
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.StartReadiness(watchCtx) // not ready until its first check, but serving already
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	audited := make(chan struct{})
	go func() {
		s.StartAudit(auditCtx)
		close(audited)
	}()
	defer func() { // after the last request, so its events are written too
		stopAudit()
		<-audited
	}()
	errc := make(chan error, 2)
	go func() {
		if s.tls != nil {
			errc <- hs.ServeTLS(httpLis, "", "") // the certificate comes from TLSConfig
		} else {
			errc <- hs.Serve(httpLis)
		}
	}()
	go func() { errc <- s.grpc.Serve(grpcLis) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.health.Shutdown()
	s.deadlines.expireReads() // a body that is not coming would hold up the drain
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	if shutdownErr := hs.Shutdown(stopCtx); shutdownErr != nil {
		hs.Close()
	}
	select {
	case <-stopped:
	case <-stopCtx.Done():
		s.grpc.Stop()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

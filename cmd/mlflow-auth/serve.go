package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/postgres"
	"github.com/mlflow-auth/mlflow-auth/storage/usercache"
	"github.com/mlflow-auth/mlflow-auth/tracing"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseServeConfig(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	slog.SetDefault(log)
	log.Info("starting mlflow-auth", "version", version(), "config", cfg.logValue())

	var tlsConfig *tls.Config
	if cfg.tlsCert != "" {
		cert, err := loadCertificate(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return err
		}
		tlsConfig = cert.config()
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				cert.reloadLogged()
			}
		}()
	}

	// The ports come first: a server that cannot bind them must fail before it
	// creates (and prints the password of) a first admin.
	httpLis, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return err
	}
	defer httpLis.Close()
	grpcLis, err := net.Listen("tcp", cfg.grpcAddr)
	if err != nil {
		return err
	}
	defer grpcLis.Close()
	var metricsLis net.Listener
	if cfg.metricsAddr != "" {
		if metricsLis, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			return err
		}
		defer metricsLis.Close()
	}

	var auditLog io.Writer
	switch cfg.auditLog {
	case "":
	case "stderr":
		auditLog = stderr
	default:
		f, err := os.OpenFile(cfg.auditLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("open the audit log: %w", err)
		}
		defer f.Close()
		auditLog = f
	}

	db, err := waitForDatabase(ctx, cfg.databaseURL, cfg.databaseWait)
	if err != nil {
		return err
	}
	defer db.Close()

	stopTracing, err := tracing.Setup(ctx, version())
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("could not send the last traces", "err", err)
		}
	}()
	if tracing.Enabled() {
		log.Info("exporting traces over OTLP (OTEL_* environment variables)")
	}

	upstream, _ := cfg.upstreamURL() // validated with the config

	// In process unless replicas share a Postgres.
	var userChanges usercache.Notifier
	if pg, ok := db.(*postgres.Store); ok && cfg.userCache > 0 {
		listenCtx, stopListening := context.WithCancel(ctx)
		defer stopListening() // the listener stops with serve
		userChanges = pg.Notifier(listenCtx)
	}
	srv, err := service.New(service.Config{
		Store:              db,
		Roles:              db,
		Tokens:             db,
		Audit:              db,
		TokenMaxLifetime:   cfg.tokenMaxLifetime,
		DefaultPermission:  permission.Level(cfg.defaultPermission),
		Upstream:           upstream,
		CredentialCacheTTL: cfg.credentialCache,
		UserCacheTTL:       cfg.userCache,
		UserChanges:        userChanges,
		AuditRetention:     cfg.auditRetention,
		AuditLog:           auditLog,
		KDF:                service.KDFLimits{Concurrent: cfg.maxHashes},
		LoginThrottle:      service.LoginThrottle{FreeFailures: cfg.failedLoginLimit},
		StallTimeout:       cfg.stallTimeout,
		TLS:                tlsConfig,
	})
	if err != nil {
		return err
	}
	// After New, so that --audit-log has the rows of the admin it makes.
	generated, err := service.EnsureAdmin(ctx, db, password.Default, cfg.adminUsername, cfg.adminPassword)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if generated != "" {
		// Printed once, to the terminal only; it is never logged.
		fmt.Fprintf(stderr, "\nCreated admin user %q with password: %s\nStore it now: it will not be shown again. Change it with PATCH /api/2.0/mlflow/users/update-password.\n\n", cfg.adminUsername, generated)
	}
	log.Info("serving", "http", httpLis.Addr().String(), "grpc", grpcLis.Addr().String())
	if metricsLis != nil {
		stop := serveMetrics(metricsLis, srv.MetricsHandler(), cfg.pprof)
		defer stop()
		log.Info("serving metrics", "addr", metricsLis.Addr().String(), "pprof", cfg.pprof)
	}
	err = srv.Serve(ctx, httpLis, grpcLis)
	log.Info("stopped")
	return err
}

// waitForDatabase opens and migrates the database, retrying with backoff for up to
// wait while it cannot be reached (a Postgres that starts after us, as in a
// compose file or a pod). Any other error, a wrong password say, fails at once.
func waitForDatabase(ctx context.Context, url string, wait time.Duration) (database, error) {
	deadline := time.Now().Add(wait)
	backoff := 100 * time.Millisecond
	for {
		db, err := openDatabase(ctx, url)
		if err == nil {
			if err = db.Migrate(ctx); err == nil {
				return db, nil
			}
			db.Close()
			err = fmt.Errorf("migrate: %w", err)
		}
		if !errors.Is(err, storage.ErrUnavailable) || time.Now().Add(backoff).After(deadline) {
			return nil, err
		}
		slog.Warn("database not reachable yet; retrying", "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

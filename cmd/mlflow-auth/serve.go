package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/mlflow-auth/mlflow-auth/password"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseServeConfig(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.logFormat, stderr)
	slog.SetDefault(log)
	log.Info("starting mlflow-auth", "version", version(), "config", cfg.logValue())

	db, err := openDatabase(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	generated, err := service.EnsureAdmin(ctx, db, password.Default, cfg.adminUsername, cfg.adminPassword)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if generated != "" {
		// Printed once, to the terminal only; it is never logged.
		fmt.Fprintf(stderr, "\nCreated admin user %q with password: %s\nStore it now: it will not be shown again. Change it with PATCH /api/2.0/mlflow/users/update-password.\n\n", cfg.adminUsername, generated)
	}

	upstream, _ := cfg.upstreamURL() // validated with the config
	srv, err := service.New(service.Config{
		Store:              db,
		DefaultPermission:  permission.Level(cfg.defaultPermission),
		Upstream:           upstream,
		CredentialCacheTTL: cfg.credentialCache,
		KDF:                service.KDFLimits{Concurrent: cfg.maxHashes},
	})
	if err != nil {
		return err
	}
	httpLis, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return err
	}
	grpcLis, err := net.Listen("tcp", cfg.grpcAddr)
	if err != nil {
		httpLis.Close()
		return err
	}
	log.Info("serving", "http", httpLis.Addr().String(), "grpc", grpcLis.Addr().String())
	err = srv.Serve(ctx, httpLis, grpcLis)
	log.Info("stopped")
	return err
}

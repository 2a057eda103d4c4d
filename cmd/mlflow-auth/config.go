package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/service"
)

// config is the server's whole configuration. Each setting comes from its flag,
// else its MLFLOW_AUTH_* environment variable, else the default.
type config struct {
	httpAddr          string
	grpcAddr          string
	metricsAddr       string // "" serves no metrics
	pprof             bool
	databaseURL       string
	defaultPermission string
	logFormat         string
	logLevel          slog.Level
	upstream          string
	credentialCache   time.Duration
	userCache         time.Duration
	auditRetention    time.Duration
	auditLog          string // "", "stderr" or a file path
	tokenMaxLifetime  time.Duration
	maxHashes         int
	failedLoginLimit  int
	tlsCert, tlsKey   string
	stallTimeout      time.Duration
	databaseWait      time.Duration
	adminUsername     string // environment only, read at first start
	adminPassword     string // environment only: a flag would show in ps
}

// envOr returns the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envDuration reads a duration from the environment; an unparsable value is kept
// as the flag's default and reported by validate.
func envDuration(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return -1
	}
	return d
}

// envInt reads a whole number from the environment; an unparsable value becomes -1,
// which validate reports.
func envInt(name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// databaseFlag registers --database-url, shared by serve and migrate.
func databaseFlag(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.databaseURL, "database-url", envOr("MLFLOW_AUTH_DATABASE_URL", "sqlite:///mlflow-auth.db"),
		"postgres://... or postgresql://... for Postgres; sqlite:///relative.db or sqlite:////absolute.db for SQLite (env MLFLOW_AUTH_DATABASE_URL)")
}

func parseServeConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.httpAddr, "http-addr", envOr("MLFLOW_AUTH_HTTP_ADDR", "127.0.0.1:8080"), "REST listen address (env MLFLOW_AUTH_HTTP_ADDR)")
	fs.StringVar(&c.grpcAddr, "grpc-addr", envOr("MLFLOW_AUTH_GRPC_ADDR", "127.0.0.1:9090"), "gRPC listen address (env MLFLOW_AUTH_GRPC_ADDR)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", envOr("MLFLOW_AUTH_METRICS_ADDR", ""),
		"listen address of Prometheus metrics (GET /metrics), apart from the API; empty serves none (env MLFLOW_AUTH_METRICS_ADDR)")
	fs.BoolVar(&c.pprof, "pprof", envOr("MLFLOW_AUTH_PPROF", "") == "true",
		"also serve Go's profiler under /debug/pprof/ on --metrics-addr (env MLFLOW_AUTH_PPROF=true)")
	databaseFlag(fs, &c)
	fs.StringVar(&c.defaultPermission, "default-permission", envOr("MLFLOW_AUTH_DEFAULT_PERMISSION", "READ"),
		"permission on a resource for users without a grant: READ, USE, EDIT, MANAGE or NO_PERMISSIONS (env MLFLOW_AUTH_DEFAULT_PERMISSION)")
	fs.StringVar(&c.upstream, "upstream", envOr("MLFLOW_AUTH_UPSTREAM_URL", ""),
		"URL of the MLflow tracking server to guard (started without an auth app, reachable only by mlflow-auth); every other HTTP path is authenticated, authorized and forwarded to it (env MLFLOW_AUTH_UPSTREAM_URL)")
	fs.DurationVar(&c.credentialCache, "credential-cache-ttl", envDuration("MLFLOW_AUTH_CREDENTIAL_CACHE_TTL", 5*time.Minute),
		"how long a verified username and password are remembered, so repeated requests skip the password hash; 0 turns it off (env MLFLOW_AUTH_CREDENTIAL_CACHE_TTL)")
	fs.DurationVar(&c.userCache, "user-cache-ttl", envDuration("MLFLOW_AUTH_USER_CACHE_TTL", 30*time.Second),
		"how long a user (id, password hash, admin flag), an access token and the permission lookups of requests (grants, role grants) are answered from memory after a read; this server's changes are seen at once, on Postgres other replicas' too (LISTEN/NOTIFY), and the TTL bounds what a lost notification leaves stale; 0 reads the database on every request (env MLFLOW_AUTH_USER_CACHE_TTL)")
	fs.DurationVar(&c.auditRetention, "audit-retention", envDuration("MLFLOW_AUTH_AUDIT_RETENTION", service.DefaultAuditRetention),
		"how long audit events are kept; older ones are deleted hourly; 0 keeps them forever (env MLFLOW_AUTH_AUDIT_RETENTION)")
	fs.StringVar(&c.auditLog, "audit-log", envOr("MLFLOW_AUTH_AUDIT_LOG", ""),
		"also write every audit event, once its row commits, as one JSON line (the fields of audit-events/list) to stderr or to this file, appended to; off when empty (env MLFLOW_AUTH_AUDIT_LOG)")
	fs.DurationVar(&c.tokenMaxLifetime, "token-max-lifetime", envDuration("MLFLOW_AUTH_TOKEN_MAX_LIFETIME", service.DefaultTokenMaxLifetime),
		"the longest an access token may live, and how long it lives unless its creator asks for less (env MLFLOW_AUTH_TOKEN_MAX_LIFETIME)")
	fs.IntVar(&c.maxHashes, "max-concurrent-hashes", envInt("MLFLOW_AUTH_MAX_CONCURRENT_HASHES", 0),
		"password hashes computed at once (each holds 32 MiB and a core); more wait up to 2 s in a line of 256 per hash, then get 503; 0 means half the cores, at least 1 (env MLFLOW_AUTH_MAX_CONCURRENT_HASHES)")
	fs.StringVar(&c.tlsCert, "tls-cert", envOr("MLFLOW_AUTH_TLS_CERT", ""),
		"PEM certificate (chain) file: both listeners serve TLS; read again on SIGHUP (env MLFLOW_AUTH_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", envOr("MLFLOW_AUTH_TLS_KEY", ""),
		"PEM private key file of --tls-cert (env MLFLOW_AUTH_TLS_KEY)")
	fs.IntVar(&c.failedLoginLimit, "failed-login-limit", envInt("MLFLOW_AUTH_FAILED_LOGIN_LIMIT", 5),
		"failed logins of one username (4 times as many from one address) before each further one doubles a wait, 1 s up to 15 min, answered 429 with Retry-After; 0 turns throttling off (env MLFLOW_AUTH_FAILED_LOGIN_LIMIT)")
	fs.DurationVar(&c.stallTimeout, "request-stall-timeout", envDuration("MLFLOW_AUTH_REQUEST_STALL_TIMEOUT", time.Minute),
		"how long a request's body or answer may make no progress before the connection is cut; uploads and downloads that keep moving are never cut (env MLFLOW_AUTH_REQUEST_STALL_TIMEOUT)")
	fs.DurationVar(&c.databaseWait, "database-wait", envDuration("MLFLOW_AUTH_DATABASE_WAIT", time.Minute),
		"how long serve waits at start for a database that cannot be reached yet, retrying with backoff; 0 gives up at once (env MLFLOW_AUTH_DATABASE_WAIT)")
	c.logLevel = slog.LevelInfo
	if v, ok := os.LookupEnv("MLFLOW_AUTH_LOG_LEVEL"); ok {
		if err := c.logLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("MLFLOW_AUTH_LOG_LEVEL must be debug, info, warn or error, not %q", v)
		}
	}
	fs.TextVar(&c.logLevel, "log-level", c.logLevel,
		"least severe log lines written: debug, info (one line per request), warn or error (env MLFLOW_AUTH_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", envOr("MLFLOW_AUTH_LOG_FORMAT", "text"), "log format: text or json (env MLFLOW_AUTH_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	c.adminUsername = envOr("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
	c.adminPassword = os.Getenv("MLFLOW_AUTH_ADMIN_PASSWORD")
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if _, err := permission.ParseLevel(c.defaultPermission); err != nil {
		errs = append(errs, fmt.Errorf("--default-permission: %w", err))
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format must be text or json, not %q", c.logFormat))
	}
	if c.credentialCache < 0 {
		errs = append(errs, errors.New("--credential-cache-ttl must be a duration of 0 or more, such as 5m"))
	}
	if c.userCache < 0 {
		errs = append(errs, errors.New("--user-cache-ttl must be a duration of 0 or more, such as 10s"))
	}
	if c.auditRetention < 0 {
		errs = append(errs, errors.New("--audit-retention must be a duration of 0 or more, such as 2160h (90 days)"))
	}
	if c.tokenMaxLifetime < 24*time.Hour {
		errs = append(errs, errors.New("--token-max-lifetime must be a duration of at least 24h, such as 2160h (90 days)"))
	}
	if c.stallTimeout <= 0 {
		errs = append(errs, errors.New("--request-stall-timeout must be a duration above 0, such as 1m"))
	}
	if c.databaseWait < 0 {
		errs = append(errs, errors.New("--database-wait must be a duration of 0 or more, such as 1m"))
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.failedLoginLimit < 0 {
		errs = append(errs, errors.New("--failed-login-limit must be a whole number of 0 or more"))
	}
	if c.maxHashes < 0 {
		errs = append(errs, errors.New("--max-concurrent-hashes must be a whole number of 0 or more"))
	}
	if _, err := c.upstreamURL(); err != nil {
		errs = append(errs, err)
	}
	if c.pprof && c.metricsAddr == "" {
		errs = append(errs, errors.New("--pprof needs --metrics-addr"))
	}
	if c.httpAddr == "" || c.grpcAddr == "" {
		errs = append(errs, errors.New("--http-addr and --grpc-addr must be set"))
	}
	return errors.Join(errs...)
}

// upstreamURL parses --upstream: nil when unset, else an http(s) URL with a host.
func (c config) upstreamURL() (*url.URL, error) {
	if c.upstream == "" {
		return nil, nil
	}
	u, err := url.Parse(c.upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--upstream must be an http:// or https:// URL, not %q", c.upstream)
	}
	return u, nil
}

// logValue is the config for the startup log line, with secrets left out.
func (c config) logValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", c.httpAddr),
		slog.String("grpc_addr", c.grpcAddr),
		slog.String("metrics_addr", c.metricsAddr),
		slog.Bool("pprof", c.pprof),
		slog.String("database_url", redactURL(c.databaseURL)),
		slog.String("default_permission", c.defaultPermission),
		slog.String("log_format", c.logFormat),
		slog.String("log_level", c.logLevel.String()),
		slog.String("upstream", redactURL(c.upstream)),
		slog.Duration("credential_cache_ttl", c.credentialCache),
		slog.Duration("user_cache_ttl", c.userCache),
		slog.Duration("audit_retention", c.auditRetention),
		slog.String("audit_log", c.auditLog),
		slog.Duration("token_max_lifetime", c.tokenMaxLifetime),
		slog.Int("max_concurrent_hashes", c.maxHashes),
		slog.Int("failed_login_limit", c.failedLoginLimit),
		slog.String("tls_cert", c.tlsCert),
		slog.Duration("request_stall_timeout", c.stallTimeout),
		slog.Duration("database_wait", c.databaseWait),
		slog.String("admin_username", c.adminUsername),
		slog.Bool("admin_password_set", c.adminPassword != ""),
	)
}

// redactURL hides a database password, whether in the userinfo or the query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Command mlflow-auth-client manages MLflow users and permissions over the REST
// API of mlflow-auth or of MLflow's own basic-auth server. It finds the server
// and the credentials in the environment, as MLflow's clients do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

const prog = "mlflow-auth-client"

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // the call failed, or the server could not be reached
	exitUsage  = 2 // the command line is wrong
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the flags; every command takes --output and --to-json, some more.
type options struct {
	output        string
	maxResults    int32
	pageToken     string
	passwordStdin bool
	workspace     string
	audit         *v1.ListAuditEventsRequest // the filters of audit

	// currentPassword is sent as current_password (see update-user-password).
	currentPassword string
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ error }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &options{output: "json", audit: &v1.ListAuditEventsRequest{}}
	global := newFlagSet(prog, o)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(stdout)
			return exitOK
		}
		return fail(stderr, usageError{err})
	}
	args = global.Args()
	if len(args) == 0 {
		writeUsage(stderr)
		return exitUsage
	}
	if args[0] == "help" {
		return help(ctx, args[1:], stdout, stderr)
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return fail(stderr, usageError{fmt.Errorf("unknown command %q; see %s --help", args[0], prog)})
	}
	fs := newFlagSet(prog+" "+cmd.name, o)
	var maxResults int
	if cmd.paging {
		fs.IntVar(&maxResults, "max-results", 0, "return one page of at most `N` items, with the next_page_token to continue")
		fs.StringVar(&o.pageToken, "page-token", "", "start at the page of this `token`")
	}
	if cmd.workspace {
		fs.StringVar(&o.workspace, "workspace", "default", "the `workspace` of the roles (MLflow without workspaces has only default)")
	}
	if cmd.auditFilters {
		for _, f := range []struct {
			name, usage string
			to          *string
		}{
			{"user", "only events of the user named `U`", &o.audit.Username},
			{"resource-type", "only events on resources of type `T` (experiment, registered_model, user, ...)", &o.audit.ResourceType},
			{"resource-id", "only events on the resource `ID`", &o.audit.ResourceId},
			{"workspace", "only events in the workspace `W` (grants, roles and refusals; default without workspaces)", &o.audit.Workspace},
			{"event", "only events named `E` (user.create, grant.update, login.failed, permission.denied, ...)", &o.audit.Event},
			{"outcome", "only events with outcome `O`: success, denied or error", &o.audit.Outcome},
			{"required-level", "only refusals that required the level `L` (READ, USE, EDIT, MANAGE)", &o.audit.RequiredLevel},
			{"held-level", "only refusals of callers who held the level `L` (NO_PERMISSIONS, READ, ...)", &o.audit.HeldLevel},
			{"since", "only events at or after `TIME` (RFC 3339, such as 2026-12-01T14:00:00Z)", &o.audit.StartTime},
			{"until", "only events before `TIME` (RFC 3339)", &o.audit.EndTime},
		} {
			fs.StringVar(f.to, f.name, "", f.usage)
		}
	}
	if cmd.password {
		fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin (as giving - does)")
	}
	if cmd.currentPassword {
		fs.StringVar(&o.currentPassword, "current-password", "", "your current password `P`, which changing your own needs (default: the one you sign in with)")
	}
	positional, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		writeCommandUsage(stdout, cmd, fs)
		return exitOK
	}
	if err == nil {
		positional, err = checkArgs(cmd, positional, o)
	}
	if err == nil {
		o.maxResults, err = checkMaxResults(maxResults)
	}
	if err != nil {
		return fail(stderr, usageError{err})
	}

	c, err := client.FromEnvironment()
	if err != nil {
		return fail(stderr, err)
	}
	if cmd.password {
		if positional, err = resolvePassword(positional, len(cmd.params)-1, o.passwordStdin, stdin, stderr); err != nil {
			return fail(stderr, err)
		}
	}
	resp, err := cmd.run(ctx, c, positional, o)
	if err != nil {
		return fail(stderr, err)
	}
	if err := write(stdout, resp, o.output); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// newFlagSet defines the flags every command takes. They write into o, so a
// value given before the command name holds unless given again after it.
func newFlagSet(name string, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run, help by writeCommandUsage
	fs.Func("output", "`json` (MLflow's JSON, the default) or table", func(v string) error {
		if v != "json" && v != "table" {
			return fmt.Errorf("want json or table")
		}
		o.output = v
		return nil
	})
	fs.BoolFunc("to-json", "accepted for the Python CLI's sake; JSON is the default", func(string) error { return nil })
	return fs
}

// parseInterleaved parses flags anywhere among the positional arguments, as in
// "create-user alice --output table -"; after "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// checkArgs drops the Python CLI's trailing "to-json" and checks the count.
func checkArgs(cmd *command, args []string, o *options) ([]string, error) {
	if n := len(args); n > len(cmd.params) && args[n-1] == "to-json" {
		args = args[:n-1]
	}
	switch {
	case cmd.password && o.passwordStdin && len(args) == len(cmd.params):
		return nil, errors.New("give the password as an argument or with --password-stdin, not both")
	case len(args) < cmd.minArgs() || len(args) > len(cmd.params):
		return nil, fmt.Errorf("usage: %s %s", prog, cmd.synopsis())
	}
	return args, nil
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Code == "UNAUTHENTICATED" {
		fmt.Fprintln(stderr, "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) to a user of the server.")
	}
	var usage usageError
	if errors.As(err, &usage) {
		return exitUsage
	}
	return exitFailed
}

func help(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stdout)
		return exitOK
	}
	return run(ctx, []string{args[0], "--help"}, nil, stdout, stderr)
}

func writeUsage(w io.Writer) {
	fmt.Fprintf(w, `%s manages the users and permissions of an MLflow server (mlflow-auth, or
MLflow's basic-auth app) over MLflow's REST auth API.

Usage: %s [--output json|table] <command> [arguments] [--to-json]

Commands:
`, prog, prog)
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n      %s\n", c.synopsis(), c.summary)
	}
	fmt.Fprintf(w, `
A password argument may be left out to be prompted for it on a terminal, or be -
(or --password-stdin) to read it from the first line of stdin.
Permissions: READ, USE, EDIT, MANAGE, NO_PERMISSIONS. Resource types: experiment,
registered_model, prompt, scorer (id <experiment-id>/<name>), gateway_secret,
gateway_endpoint, gateway_model_definition.

Environment, as for MLflow's clients:
  MLFLOW_TRACKING_URI               the server, e.g. http://localhost:8080 (required)
  MLFLOW_TRACKING_USERNAME          Basic credentials; each falls back on
  MLFLOW_TRACKING_PASSWORD            ~/.mlflow/credentials ([mlflow] section)
  MLFLOW_TRACKING_TOKEN             a Bearer token, used without username and password
  MLFLOW_TRACKING_INSECURE_TLS      true: do not verify the server's certificate
  MLFLOW_TRACKING_SERVER_CERT_PATH  PEM file of the CA certificates to trust

Output is the server's JSON unless --output table. Exit status: 0 done, 1 the call
failed (the server's error_code and message on stderr), 2 a wrong command line.
Run "%s <command> --help" for a command's flags.
`, prog)
}

func writeCommandUsage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n\nFlags:\n", prog, cmd.synopsis(), cmd.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

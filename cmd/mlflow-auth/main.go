// Command mlflow-auth is the authentication and authorization server for MLflow.
//
//	mlflow-auth serve            run the gRPC and REST servers
//	mlflow-auth migrate up       apply pending schema migrations
//	mlflow-auth migrate status   list migrations and whether they are applied
//	mlflow-auth import --from U  import users and grants from MLflow's basic-auth database
//	mlflow-auth version          print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

const usage = `Usage: mlflow-auth <command> [flags]

Commands:
  serve            run the gRPC and REST servers (migrates the database first)
  migrate up       apply pending schema migrations
  migrate status   list migrations and whether they are applied
  import           import users and grants from an MLflow basic-auth database
  version          print the version

Run "mlflow-auth <command> -h" for a command's flags.
`

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal drains in-flight requests; a second one ends at once.
		<-signals
		slog.Info("stopping: draining in-flight requests (a second signal stops at once)")
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "mlflow-auth: stopped at once by a second signal")
		os.Exit(1)
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mlflow-auth:", err)
		os.Exit(1)
	}
}

// run runs one command; -h or --help on a command prints its flags and succeeds.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := runCommand(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mlflow-auth", version())
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// version is the module version, or the VCS revision of a source build.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return "devel " + s.Value
		}
	}
	return "devel"
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mlflow-auth migrate up|status [--database-url URL]")
		fs.PrintDefaults()
	}
	databaseFlag(fs, &c)
	if len(args) == 0 {
		fs.Usage()
		return fmt.Errorf("migrate needs up or status")
	}
	action := args[0]
	if action == "-h" || action == "-help" || action == "--help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if action != "up" && action != "status" {
		fs.Usage()
		return fmt.Errorf("unknown migrate action %q", action)
	}
	db, err := openDatabase(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if action == "up" {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
	}
	states, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, s := range states {
		state := "pending"
		if s.Applied {
			state = "applied"
		}
		fmt.Fprintf(stdout, "%04d_%s\t%s\n", s.Version, s.Name, state)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlflow-auth/mlflow-auth/mlflowimport"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/storage/sqlite"
)

const importUsage = `Usage: mlflow-auth import --from URL [--database-url URL] [--dry-run]

Copies the users (with their password hashes, which keep working) and the grants
of an MLflow basic-auth database into mlflow-auth's database, in one transaction,
after migrating it. The MLflow database is only read. --from takes the
database_uri of MLflow's basic_auth.ini: sqlite:///basic_auth.db,
sqlite:////abs/path.db, postgresql://user:password@host:5432/db (also postgres://
and postgresql+psycopg2://).

Grants come from the classic permission tables (MLflow 3.12 and older) or from
the role tables (3.13 and newer), chosen by the schema revision. Roles are
imported as roles, with their workspace, permissions (DENY and '*' included) and
members; a user's own grants become direct grants where one can hold them, and
the rest a role "own grants of <username>". What mlflow-auth cannot hold (classic
grants of workspaces other than "default", levels and types MLflow's role API
refuses) is listed as skipped.

Conflicts do not stop the import and are never overwritten: a user who already
exists with another password hash or admin flag is left as it is and so are all
their grants; a grant that exists with another level, or a role with other
permissions or members, is left as it is. Each
conflict and skip is listed; everything else is imported, and the exit status is
0. Running the import again changes nothing that is already there.

Import before the first "serve": the imported admins then satisfy its first-admin
check, so no admin is generated and MLflow's admin keeps its password.

Flags:
`

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	var from string
	var dryRun bool
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&from, "from", "", "the MLflow basic-auth database, as a SQLAlchemy URL (required)")
	databaseFlag(fs, &c)
	fs.BoolVar(&dryRun, "dry-run", false, "print what the import would do and write nothing (not even the migrations)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if from == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("import needs --from and no arguments")
	}
	if sameSQLiteFile(from, c.databaseURL) {
		return errors.New("--from and --database-url name the same file: mlflow-auth needs a database of its own (both have a users table), so give --database-url another file")
	}
	src, err := mlflowimport.Read(ctx, from)
	if err != nil {
		return fmt.Errorf("%s: %w", redactURL(from), err)
	}
	fmt.Fprintf(stdout, "source %s: %s\n", redactURL(from), src.Describe())

	var db database
	if dryRun {
		db, err = openForDryRun(ctx, c.databaseURL)
	} else {
		db, err = openDatabase(ctx, c.databaseURL)
	}
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}
	if !dryRun {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	var target mlflowimport.Target
	if db != nil {
		target = db
	}
	plan, err := mlflowimport.NewPlan(ctx, src, target)
	if err != nil {
		return err
	}
	if !dryRun {
		err := db.CreateBatch(ctx, plan.AuditedBatch(redactURL(from)))
		if errors.Is(err, storage.ErrAlreadyExists) || errors.Is(err, storage.ErrNotFound) {
			return errors.New("mlflow-auth's database changed during the import, so nothing was written: run the import again")
		}
		if err != nil {
			return err
		}
	}
	plan.Report(stdout, dryRun)
	return nil
}

// sameSQLiteFile reports whether the source and the target are one SQLite
// file, which opening as the target would change (and migrating could not).
func sameSQLiteFile(from, to string) bool {
	fromPath, err := mlflowimport.SQLitePath(from)
	if err != nil {
		return false
	}
	toPath, err := sqlite.PathFromURL(to)
	if err != nil {
		return false
	}
	a, errA := os.Stat(fromPath)
	b, errB := os.Stat(toPath)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

// openForDryRun opens the target without writing to it: nil (an empty database)
// when the SQLite file does not exist yet or no migration has been applied.
func openForDryRun(ctx context.Context, rawURL string) (database, error) {
	if strings.HasPrefix(rawURL, "sqlite:") {
		path, err := sqlite.PathFromURL(rawURL)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	db, err := openDatabase(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	states, err := db.MigrationStatus(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	applied := 0
	for _, s := range states {
		if s.Applied {
			applied++
		}
	}
	switch applied {
	case len(states):
		return db, nil
	case 0:
		db.Close()
		return nil, nil
	}
	db.Close()
	return nil, errors.New("mlflow-auth's database needs migrations: run `mlflow-auth migrate up` first, or import without --dry-run")
}

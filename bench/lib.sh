# What the load scripts in bench/ share; each sources it after cd-ing to the
# repository's root.

# needs TOOL...: stops the script, saying so, unless every tool is on PATH.
needs() {
  for tool; do
    command -v "$tool" >/dev/null || { echo "bench/$(basename "$0") needs $tool" >&2; exit 1; }
  done
}

# in_postgres BACKEND: for postgres without $MLFLOW_AUTH_BENCH_DATABASE_URL, runs
# the script again in a throwaway pg_virtualenv cluster on 127.0.0.1, with the
# variable set to it.
in_postgres() {
  if [ "$1" = postgres ] && [ -z "${MLFLOW_AUTH_BENCH_DATABASE_URL:-}" ]; then
    exec pg_virtualenv -v 15 -- bash -c 'MLFLOW_AUTH_BENCH_DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@127.0.0.1:$PGPORT/$PGDATABASE?sslmode=disable" "$0" postgres' "$0"
  fi
}

# database_url BACKEND DIR: the URL the server is to use, a file in DIR for sqlite.
database_url() {
  case "$1" in
    sqlite) echo "sqlite:///$2/bench.db" ;;
    postgres) echo "$MLFLOW_AUTH_BENCH_DATABASE_URL" ;;
    *) echo "backend must be sqlite or postgres" >&2; return 2 ;;
  esac
}

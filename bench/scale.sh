#!/usr/bin/env bash
# Scale (issue 10): users/get, users/permissions/get and a proxied experiments/get
# over REST, and UserService/GetUser and PermissionService/GetUserPermission over
# a gRPC client connection, for users of a store of 1,000 users and 10,000
# grants against the same for users of one of 1,000,000 users and 10,000,000
# grants (bench/seed), on one backend, side by side in one run: BenchmarkScale
# in ./service serves both stores and sends requests to them in turn;
# benchstat summarizes COUNT runs of each store's median (p50-1e3-sec,
# p50-1e6-sec) and of their ratio (p50-ratio).
#
# Usage: bench/scale.sh sqlite|postgres
#   sqlite: SCALE_SQLITE is the big file (default /tmp/mlflow-auth-scale/1m.db),
#     seeded when missing (1–4 minutes on 2 cores, by load; 1.6 GB); the small one
#     is a temporary file.
#   postgres: SCALE_POSTGRES_BIG and SCALE_POSTGRES_SMALL are the URLs of two
#     databases, each seeded when it has no users yet (the big one: 0.5–3
#     minutes and 2.4 GB).
#   COUNT (default 6) rounds, BENCHTIME (default 1s) per call and store.
# Needs benchstat (go install golang.org/x/perf/cmd/benchstat@latest).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
count=${COUNT:-6}
benchtime=${BENCHTIME:-1s}
command -v benchstat >/dev/null || { echo "bench/scale.sh needs benchstat" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/seed" ./bench/seed
case "$backend" in
  sqlite)
    big=${SCALE_SQLITE:-/tmp/mlflow-auth-scale/1m.db}
    mkdir -p "$(dirname "$big")"
    big="sqlite:///$(realpath "$big")"
    small="sqlite:///$work/1k.db" ;;
  postgres)
    big=${SCALE_POSTGRES_BIG:?set SCALE_POSTGRES_BIG to a Postgres database URL}
    small=${SCALE_POSTGRES_SMALL:?set SCALE_POSTGRES_SMALL to a Postgres database URL} ;;
  *) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
esac
"$work/seed" -database-url "$small" -users 1000
"$work/seed" -database-url "$big" -users 1000000

echo "backend $backend, $count rounds of $benchtime per call and store, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before"
MLFLOW_AUTH_BENCH_SCALE_STORES="$small $big" go test -run '^$' -bench '^BenchmarkScale$' -benchtime "$benchtime" \
  -count "$count" ./service >"$work/bench.txt"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after"
benchstat "$work/bench.txt"

#!/usr/bin/env bash
# users/get with and without the user cache, side by side in one run: two servers
# on one database, one with --user-cache-ttl 0 and one with the default (30s), and
# short wrk runs interleaved between them, with Basic and with a token.
#
# Usage: bench/usercache.sh [sqlite|postgres]
#   postgres uses $MLFLOW_AUTH_BENCH_DATABASE_URL, or a throwaway pg_virtualenv cluster.
#   DURATION (default 5s), CONNECTIONS (default 8) and ROUNDS (default 3) tune the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
backend=${1:-sqlite}
duration=${DURATION:-5s}
connections=${CONNECTIONS:-8}
rounds=${ROUNDS:-3}

in_postgres "$backend"
needs wrk curl python3

work=$(mktemp -d)
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
db=$(database_url "$backend" "$work") || exit 2

go build -o "$work/mlflow-auth" ./cmd/mlflow-auth
admin_pass=bench-admin-password
start() { # http-port ttl
  MLFLOW_AUTH_ADMIN_PASSWORD=$admin_pass "$work/mlflow-auth" serve --http-addr "127.0.0.1:$1" --grpc-addr "127.0.0.1:$(($1 + 10))" \
    --database-url "$db" --user-cache-ttl "$2" --log-format json --log-level warn 2>"$work/server$1.log" &
  servers+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && break; sleep 0.1; done
}
off=18581
on=18582
start $off 0 # one after the other: the first migrates
start $on 30s

base=http://127.0.0.1:$off/api/2.0/mlflow
curl -sf -u "admin:$admin_pass" -X POST "$base/users/create" -d '{"username": "alice", "password": "alice-bench-password"}' >/dev/null
curl -sf -u "admin:$admin_pass" -X POST "$base/experiments/permissions/create" \
  -d '{"experiment_id": "1", "username": "alice", "permission": "EDIT"}' >/dev/null
basic="Basic $(printf %s 'alice:alice-bench-password' | base64)"
bearer="Bearer $(curl -sf -u 'alice:alice-bench-password' -X POST "$base/users/tokens/create" -d '{"username": "alice", "name": "bench"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

run() { # label port authorization
  wrk -t2 -c"$connections" -d"$duration" --timeout 30s --latency -H "Authorization: $3" \
    "http://127.0.0.1:$2/api/2.0/mlflow/users/get?username=alice" >"$work/out"
  printf '| %-22s | %8s | %8s | %8s | %s\n' "$1" "$(awk '/^Requests\/sec/ {print $2}' "$work/out")" \
    "$(awk '$1 == "50%" {print $2}' "$work/out")" "$(awk '$1 == "99%" {print $2}' "$work/out")" \
    "$(awk '/Non-2xx|Socket errors/ {n++} END {print n ? "errors" : ""}' "$work/out")"
}
run warmup $off "$basic" >/dev/null
run warmup $on "$basic" >/dev/null
echo "backend $backend, $connections connections, $duration per run, $(nproc) cores, load tool on the same machine"
echo "| users/get              |    req/s |      p50 |      p99 |"
for _ in $(seq "$rounds"); do
  run "Basic, no cache" $off "$basic"
  run "Basic, cache 30s" $on "$basic"
  run "token, no cache" $off "$bearer"
  run "token, cache 30s" $on "$bearer"
done
wrk -t2 -c"$connections" -d"$duration" "http://127.0.0.1:$on/health" | awk '/^Requests\/sec/ {printf "| %-22s | %8s |\n", "/health", $2}'
if cat "$work"/server*.log | grep '"level":"ERROR"' | head -5 | grep .; then
  echo "a server logged errors (above)"; exit 1
fi

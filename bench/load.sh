#!/usr/bin/env bash
# Load test of an authenticated read (users/get) and a permission lookup
# (users/permissions/get), over REST with wrk and over gRPC with ghz, against a
# server this script starts on loopback ports and stops when it ends.
#
# Usage: bench/load.sh [sqlite|postgres]
#   postgres uses $MLFLOW_AUTH_BENCH_DATABASE_URL, or a throwaway pg_virtualenv cluster.
#   DURATION (default 10s) and CONNECTIONS (default 8) tune each run.
# Needs wrk (apt-get install wrk) and ghz (go install github.com/bojand/ghz/cmd/ghz@v0.121.0).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
backend=${1:-sqlite}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-8}

in_postgres "$backend"
needs wrk ghz curl

work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
db=$(database_url "$backend" "$work") || exit 2

go build -o "$work/mlflow-auth" ./cmd/mlflow-auth
http=127.0.0.1:18480
grpc=127.0.0.1:18490
admin_pass=bench-admin-password
MLFLOW_AUTH_ADMIN_PASSWORD=$admin_pass "$work/mlflow-auth" serve --http-addr $http --grpc-addr $grpc \
  --database-url "$db" --log-format json 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://$http/health" >/dev/null && break; sleep 0.1; done

# A user with a grant, as in real use; the runs authenticate as that user.
curl -sf -u "admin:$admin_pass" -X POST "http://$http/api/2.0/mlflow/users/create" \
  -d '{"username": "alice", "password": "alice-bench-password"}' >/dev/null
curl -sf -u "admin:$admin_pass" -X POST "http://$http/api/2.0/mlflow/experiments/permissions/create" \
  -d '{"experiment_id": "1", "username": "alice", "permission": "EDIT"}' >/dev/null
auth="Basic $(printf %s 'alice:alice-bench-password' | base64)"

row() { # transport name req/s p99 errors
  printf '| %-4s %-38s | %7s | %10s | %6s |\n' "$@"
}
rest() { # name path
  wrk -t2 -c"$connections" -d"$duration" --timeout 30s --latency -H "Authorization: $auth" "http://$http$2" >"$work/out"
  row REST "$1" "$(awk '/^Requests\/sec/ {print $2}' "$work/out")" "$(awk '$1 == "99%" {print $2}' "$work/out")" \
    "$(awk '/Non-2xx|Socket errors/ {n++} END {print n ? "yes" : "none"}' "$work/out")"
}
grpc_call() { # name method json
  ghz --insecure --call "$2" -d "$3" --metadata "{\"authorization\": \"$auth\"}" -z "$duration" \
    -c "$connections" --connections 1 "$grpc" >"$work/out"
  row gRPC "$1" "$(awk '/Requests\/sec:/ {print $2}' "$work/out")" "$(awk '/99 % in/ {print $4 $5}' "$work/out")" \
    "$(awk '/Error distribution/ {e = 1} e && /\[/ && !/closed network connection|context canceled/ {n++}
            END {print n ? "yes" : "none"}' "$work/out")" # ghz cuts in-flight calls when time is up
}

echo "backend $backend, $connections connections, $duration per run, $(nproc) cores, load tool on the same machine"
echo "| run                                         |   req/s |        p99 | errors |"
echo "|---------------------------------------------|---------|------------|--------|"
rest "GET users/get" "/api/2.0/mlflow/users/get?username=alice"
rest "GET users/permissions/get" "/api/3.0/mlflow/users/permissions/get?username=alice&resource_type=experiment&resource_id=1"
grpc_call "UserService/GetUser" mlflowauth.v1.UserService/GetUser '{"username": "alice"}'
grpc_call "PermissionService/GetUserPermission" mlflowauth.v1.PermissionService/GetUserPermission \
  '{"username": "alice", "resource_type": "experiment", "resource_id": "1"}'
if grep '"level":"ERROR"' "$work/server.log" | head -5 | grep .; then
  echo "the server logged errors (above)"; exit 1
fi

#!/usr/bin/env bash
# What authentication costs next to the HTTP and gRPC stacks, side by side in one run
# on one server: /health, users/get with Basic and with a token (credentials cached,
# user cache on), gRPC health Check and UserService/GetUser, each in turn for ROUNDS
# rounds, with each round's ratios (users/get over /health, GetUser over Check), of
# req/s and of the server's CPU per request. Each call runs between two runs of its
# health check and is compared with their mean.
# The server logs at the default level (one line per request), to a file.
#
# Usage: bench/ratio.sh [sqlite|postgres]
#   postgres uses $MLFLOW_AUTH_BENCH_DATABASE_URL, or a throwaway pg_virtualenv cluster.
#   DURATION (default 8s), CONNECTIONS (default 8) and ROUNDS (default 3) tune the runs.
#   MLFLOW_AUTH_BIN=path serves with that binary (another commit's) instead of building this tree.
#   PROFILE=dir also takes a 10 s CPU profile and an allocation profile of the server
#   during a Basic users/get run, into dir (cpu.pprof, allocs.pprof; `go tool pprof -top`).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
backend=${1:-sqlite}
duration=${DURATION:-8s}
connections=${CONNECTIONS:-8}
rounds=${ROUNDS:-3}

in_postgres "$backend"
needs wrk ghz curl python3

work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
db=$(database_url "$backend" "$work") || exit 2

bin=${MLFLOW_AUTH_BIN:-$work/mlflow-auth}
[ -n "${MLFLOW_AUTH_BIN:-}" ] || go build -o "$bin" ./cmd/mlflow-auth
http=127.0.0.1:18780
grpc=127.0.0.1:18790
metrics=127.0.0.1:18799
admin_pass=bench-admin-password
MLFLOW_AUTH_ADMIN_PASSWORD=$admin_pass "$bin" serve --http-addr $http --grpc-addr $grpc \
  --metrics-addr $metrics --pprof --database-url "$db" --log-format json 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://$http/health" >/dev/null && break; sleep 0.1; done

base=http://$http/api/2.0/mlflow
curl -sf -u "admin:$admin_pass" -X POST "$base/users/create" -d '{"username": "alice", "password": "alice-bench-password"}' >/dev/null
curl -sf -u "admin:$admin_pass" -X POST "$base/experiments/permissions/create" \
  -d '{"experiment_id": "1", "username": "alice", "permission": "EDIT"}' >/dev/null
basic="Basic $(printf %s 'alice:alice-bench-password' | base64)"
bearer="Bearer $(curl -sf -u 'alice:alice-bench-password' -X POST "$base/users/tokens/create" -d '{"username": "alice", "name": "bench"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
users_get="$base/users/get?username=alice"

# The server's CPU time so far, in clock ticks (user + system). On a shared machine
# the CPU a request costs the server is steadier than the rate the load tool reaches.
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)
per_request() { # ticks-before requests -> server CPU µs per request
  awk -v t0="$1" -v t1="$(ticks)" -v n="$2" -v hz="$hz" 'BEGIN {printf "%.0f", (t1 - t0) * 1e6 / hz / n}'
}
rest() { # path [authorization] -> "req/s cpu-µs/request"; any non-2xx answer or socket error fails the run
  local auth=() t0
  [ -n "${2:-}" ] && auth=(-H "Authorization: $2")
  t0=$(ticks)
  wrk -t2 -c"$connections" -d"$duration" --timeout 30s "${auth[@]}" "$1" >"$work/out"
  if grep -q 'Non-2xx\|Socket errors' "$work/out"; then cat "$work/out" >&2; exit 1; fi
  echo "$(awk '/^Requests\/sec/ {print $2}' "$work/out") $(per_request "$t0" "$(awk '/requests in/ {print $1}' "$work/out")")"
}
grpc_call() { # method json [authorization] -> "req/s cpu-µs/request"; ghz cuts in-flight calls when time is up
  local md='{}' t0
  [ -n "${3:-}" ] && md="{\"authorization\": \"$3\"}"
  t0=$(ticks)
  ghz --insecure --call "$1" -d "$2" --metadata "$md" -z "$duration" -c "$connections" --connections 1 "$grpc" >"$work/out"
  if awk '/Error distribution/ {e = 1} e && /\[/ && !/closed network connection|context canceled|client connection is closing/ {n++} END {exit !n}' "$work/out"; then
    cat "$work/out" >&2; exit 1
  fi
  echo "$(awk '/Requests\/sec:/ {print $2}' "$work/out") $(per_request "$t0" "$(awk '/Count:/ {print $2}' "$work/out")")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# Warm up: the first Basic call of each connection pays for one hash.
DURATION=2s rest "$users_get" "$basic" >/dev/null
DURATION=2s rest "$users_get" "$bearer" >/dev/null
if [ -n "${PROFILE:-}" ]; then
  mkdir -p "$PROFILE"
  DURATION=12s rest "$users_get" "$basic" >/dev/null &
  curl -sf -o "$PROFILE/cpu.pprof" "http://$metrics/debug/pprof/profile?seconds=10"
  curl -sf -o "$PROFILE/allocs.pprof" "http://$metrics/debug/pprof/allocs"
  wait $!
fi

echo "backend $backend, $connections connections, $duration per run, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), load tools on the same machine"
echo "Each cell: req/s, then the server's CPU µs per request; the ratios are of req/s, then of CPU per request (/health's over users/get's)."
echo "| round | /health (before Basic, between, after token) | users/get Basic | users/get token | gRPC Check (before, after) | gRPC GetUser | Basic/health | token/health | GetUser/Check |"
echo "|---|---|---|---|---|---|---|---|---|"
basic_ratios=() token_ratios=() grpc_ratios=()
mean() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", (a + b) / 2}'; }
# Each call is run between two runs of its health check and compared with their
# mean, so that the machine's drift during a round (tens of percent on a shared
# VM) falls on both sides of a ratio alike.
for r in $(seq "$rounds"); do
  out=$(rest "http://$http/health") && read -r h1 h1_cpu <<<"$out"
  out=$(rest "$users_get" "$basic") && read -r b b_cpu <<<"$out"
  out=$(rest "http://$http/health") && read -r h2 h2_cpu <<<"$out"
  out=$(rest "$users_get" "$bearer") && read -r t t_cpu <<<"$out"
  out=$(rest "http://$http/health") && read -r h3 h3_cpu <<<"$out"
  out=$(grpc_call grpc.health.v1.Health/Check '{}') && read -r c1 c1_cpu <<<"$out"
  out=$(grpc_call mlflowauth.v1.UserService/GetUser '{"username": "alice"}' "$basic") && read -r get get_cpu <<<"$out"
  out=$(grpc_call grpc.health.v1.Health/Check '{}') && read -r c2 c2_cpu <<<"$out"
  hb=$(mean "$h1" "$h2") hb_cpu=$(mean "$h1_cpu" "$h2_cpu") ht=$(mean "$h2" "$h3") ht_cpu=$(mean "$h2_cpu" "$h3_cpu")
  check=$(mean "$c1" "$c2") check_cpu=$(mean "$c1_cpu" "$c2_cpu")
  basic_ratios+=("$(ratio "$b" "$hb")") token_ratios+=("$(ratio "$t" "$ht")") grpc_ratios+=("$(ratio "$get" "$check")")
  echo "| $r | $h1 · $h2 · $h3, $h2_cpu µs | $b · $b_cpu µs | $t · $t_cpu µs | $c1 · $c2, $check_cpu µs | $get · $get_cpu µs" \
    "| ${basic_ratios[-1]} · $(ratio "$hb_cpu" "$b_cpu") | ${token_ratios[-1]} · $(ratio "$ht_cpu" "$t_cpu")" \
    "| ${grpc_ratios[-1]} · $(ratio "$check_cpu" "$get_cpu") |"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "| median of the rounds, req/s | | | | | | $(median "${basic_ratios[@]}") | $(median "${token_ratios[@]}") | $(median "${grpc_ratios[@]}") |"
if grep '"level":"ERROR"' "$work/server.log" | head -5 | grep .; then
  echo "the server logged errors (above)"; exit 1
fi

#!/usr/bin/env bash
# What the proxy adds: latency of a small runs/get and of the UI's GraphQL GetRun
# query, and throughput of an artifact download, each straight from MLflow and
# through `mlflow-auth serve --upstream`
# (authenticated as an ordinary user with a grant). Starts both servers on loopback
# ports and stops them when it ends. MLflow's own latency varies by more than the
# proxy adds, so the script ends with the same runs/get from a stub MLflow that
# answers at once (BenchmarkProxiedRequest in ./service, STUB_COUNT runs,
# default 6): the median of each run's p50, straight and through the front door.
#
# Usage: MLFLOW_PYTHON=/path/to/venv/bin/python bench/proxy.sh
#   MLFLOW_PYTHON: an interpreter with mlflow installed (default: python3).
#   DURATION (default 10s) and CONNECTIONS (default 4) tune each wrk run.
# Needs wrk (apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
python=${MLFLOW_PYTHON:-python3}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-4}
needs wrk curl

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 -- "-$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
mlflow=127.0.0.1:18500
auth=127.0.0.1:18580

# The MLflow server, in its own process group so that all its workers stop with it.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$python" -m mlflow server --host 127.0.0.1 --port 18500 \
  --backend-store-uri "sqlite:///$work/mlflow.db" --artifacts-destination "$work/artifacts" \
  --serve-artifacts --workers 1 >"$work/mlflow.log" 2>&1 &
pids+=($!)
go build -o "$work/mlflow-auth" ./cmd/mlflow-auth
MLFLOW_AUTH_ADMIN_PASSWORD=bench-admin-password setsid "$work/mlflow-auth" serve --http-addr $auth \
  --grpc-addr 127.0.0.1:18590 --database-url "sqlite:///$work/auth.db" --upstream "http://$mlflow" \
  --log-format json 2>"$work/auth.log" &
pids+=($!)
for _ in $(seq 600); do curl -sf "http://$mlflow/health" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do curl -sf "http://$auth/health" >/dev/null && break; sleep 0.1; done

json='Content-Type: application/json'
curl -sf -u admin:bench-admin-password -X POST "http://$auth/api/2.0/mlflow/users/create" \
  -d '{"username": "alice", "password": "alice-bench-password"}' >/dev/null
basic="Authorization: Basic $(printf %s 'alice:alice-bench-password' | base64)"
# alice creates (and so manages) an experiment with one run and a 64 MiB artifact.
exp=$(curl -sf -H "$basic" -H "$json" -X POST "http://$auth/api/2.0/mlflow/experiments/create" -d '{"name": "bench"}' |
  "$python" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
run=$(curl -sf -H "$basic" -H "$json" -X POST "http://$auth/api/2.0/mlflow/runs/create" -d "{\"experiment_id\": \"$exp\"}" |
  "$python" -c 'import json,sys; print(json.load(sys.stdin)["run"]["info"]["run_id"])')
head -c $((64 << 20)) /dev/urandom >"$work/big.bin"
artifact="/api/2.0/mlflow-artifacts/artifacts/$exp/$run/artifacts/big.bin"
curl -sf -H "$basic" -X PUT --data-binary "@$work/big.bin" "http://$auth$artifact" >/dev/null

# The run page's query, as MLflow's UI posts it (wrk sends a body from a Lua script).
cat >"$work/graphql.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"operationName": "GetRun", "variables": {"data": {"runId": "$run"}}, "query": "query GetRun(\$data: MlflowGetRunInput!) { mlflowGetRun(input: \$data) { run { info { runName status experimentId } experiment { name } modelVersions { name version } data { metrics { key value } params { key value } } } } }"}'
EOF

row() { # name target auth-header [wrk script]
  local args=(-t2 -c"$connections" -d"$duration" --timeout 30s --latency)
  [ -n "$3" ] && args+=(-H "$3")
  [ -n "${4:-}" ] && args+=(-s "$4")
  wrk "${args[@]}" "$2" >"$work/out"
  printf '| %-38s | %8s | %9s | %9s | %10s | %6s |\n' "$1" \
    "$(awk '/^Requests\/sec/ {print $2}' "$work/out")" \
    "$(awk '$1 == "50%" {print $2}' "$work/out")" "$(awk '$1 == "99%" {print $2}' "$work/out")" \
    "$(awk '/^Transfer\/sec/ {print $2}' "$work/out")" \
    "$(awk '/Non-2xx|Socket errors/ {n++} END {print n ? "yes" : "none"}' "$work/out")"
}

echo "mlflow $("$python" -c 'import mlflow; print(mlflow.__version__)'), $connections connections, $duration per run, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), everything on one machine"
echo "| run                                    |    req/s |       p50 |       p99 |   transfer | errors |"
echo "|----------------------------------------|----------|-----------|-----------|------------|--------|"
row "runs/get, MLflow directly" "http://$mlflow/api/2.0/mlflow/runs/get?run_id=$run" ""
row "runs/get through mlflow-auth" "http://$auth/api/2.0/mlflow/runs/get?run_id=$run" "$basic"
row "GraphQL GetRun, MLflow directly" "http://$mlflow/graphql" "" "$work/graphql.lua"
row "GraphQL GetRun through mlflow-auth" "http://$auth/graphql" "$basic" "$work/graphql.lua"
row "64 MiB artifact, MLflow directly" "http://$mlflow$artifact" ""
row "64 MiB artifact through mlflow-auth" "http://$auth$artifact" "$basic"


# The front door's own share: the same runs/get from a stub that answers at once.
go test -run '^$' -bench '^BenchmarkProxiedRequest$/^db=sqlite$/^runs-get=' -count "${STUB_COUNT:-6}" ./service >"$work/stub.txt"
median_p50() { # runs-get=$1: the median of the runs' p50, in ms
  awk -v want="runs-get=$1-" 'index($1, want) {for (i = 2; i <= NF; i++) if ($i == "p50-ns") print $(i - 1)}' "$work/stub.txt" |
    sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)] / 1e6}'
}
awk -v d="$(median_p50 direct)" -v p="$(median_p50 proxied)" -v n="${STUB_COUNT:-6}" 'BEGIN {
  printf "runs/get from a stub MLflow, median p50 of %d runs: straight %.3f ms, through mlflow-auth %.3f ms, added %.3f ms\n", n, d, p, p - d}'

#!/usr/bin/env bash
# Cold start: CONNECTIONS (default 8) clients open at once with the same new
# credentials, as a job with a connection pool does; prints the slowest first answer
# of each of ROUNDS (default 5) users. With one hash shared by them all it is about
# one scrypt; without, the hashes queue behind each other. Each round first times
# one lone first request of another new user, the cost of one hash in the same
# conditions, and prints the ratio (issue 10's target: at most 2).
# The server starts here with production hashing on a fresh SQLite file, on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${CONNECTIONS:-8}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/mlflow-auth" ./cmd/mlflow-auth
http=127.0.0.1:18880
MLFLOW_AUTH_ADMIN_PASSWORD=cold-admin-password "$work/mlflow-auth" serve --http-addr $http \
  --grpc-addr 127.0.0.1:18890 --database-url "sqlite:///$work/cold.db" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://$http/health" >/dev/null && break; sleep 0.1; done
ms() { awk '{printf "%.0f", $1 * 1000}'; }
echo "$connections connections with the same new credentials at once, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg):"
for r in $(seq "$rounds"); do
  for u in "lone-$r" "cold-$r"; do
    curl -sf -u admin:cold-admin-password -X POST "http://$http/api/2.0/mlflow/users/create" \
      -d "{\"username\": \"$u\", \"password\": \"$u-password\"}" >/dev/null
  done
  lone=$(curl -s -o /dev/null -w '%{time_total}\n' -u "lone-$r:lone-$r-password" "http://$http/api/2.0/mlflow/users/current" | ms)
  slowest=$(for _ in $(seq "$connections"); do
    curl -s -o /dev/null -w '%{time_total}\n' -u "cold-$r:cold-$r-password" "http://$http/api/2.0/mlflow/users/current" &
  done | sort -n | tail -1 | ms)
  awk -v r="$r" -v l="$lone" -v s="$slowest" -v n="$connections" \
    'BEGIN {printf "  round %d: one hash (a lone first request) %d ms, slowest of %d %d ms, ratio %.2f\n", r, l, n, s, s / l}' |
    tee -a "$work/rounds"
done
awk '{print $NF}' "$work/rounds" | sort -n | awk '{v[NR] = $1} END {printf "median ratio %.2f over %d rounds\n", v[int((NR + 1) / 2)], NR}'

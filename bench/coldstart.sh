#!/usr/bin/env bash
# Cold start: CONNECTIONS (default 8) clients open at once with the same new
# credentials, as a job with a connection pool does; prints the slowest first answer
# of each of ROUNDS (default 3) users. With one hash shared by them all it is about
# one scrypt; without, the hashes queue behind each other.
# The server starts here with production hashing on a fresh SQLite file, on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${CONNECTIONS:-8}
rounds=${ROUNDS:-3}
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/mlflow-auth" ./cmd/mlflow-auth
http=127.0.0.1:18880
MLFLOW_AUTH_ADMIN_PASSWORD=cold-admin-password "$work/mlflow-auth" serve --http-addr $http \
  --grpc-addr 127.0.0.1:18890 --database-url "sqlite:///$work/cold.db" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://$http/health" >/dev/null && break; sleep 0.1; done
echo "$connections connections with the same new credentials at once, $(nproc) cores; slowest first answer:"
for r in $(seq "$rounds"); do
  curl -sf -u admin:cold-admin-password -X POST "http://$http/api/2.0/mlflow/users/create" \
    -d "{\"username\": \"cold-$r\", \"password\": \"cold-password-$r\"}" >/dev/null
  for _ in $(seq "$connections"); do
    curl -s -o /dev/null -w '%{time_total}\n' -u "cold-$r:cold-password-$r" "http://$http/api/2.0/mlflow/users/current" &
  done | sort -n | tail -1 | awk '{printf "  user %d: %.0f ms\n", '"$r"', $1 * 1000}'
done

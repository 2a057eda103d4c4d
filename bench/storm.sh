#!/usr/bin/env bash
# A wrong-password storm: CLIENTS (default 64) connections send wrong passwords as
# fast as the server answers, while an admin whose credentials are cached keeps
# calling users/get on one connection. The server starts here with production
# password hashing on a fresh SQLite file, on loopback ports, and stops when the
# script ends (each wrk run lasts DURATION, default 10s). Failed-login throttling
# is off, since it would answer the storm before any hash: this measures the hash
# gate alone, what is left when guesses come from many names and addresses.
#
# Prints the admin's latency and the server's peak memory; exits 1 when the admin's
# p99 reaches MAX_P99_MS (default 50) or the peak RSS MAX_RSS_MB (default 400), so
# CI runs it as the check that wrong passwords cannot starve cached logins.
# Needs wrk (apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
clients=${CLIENTS:-64}
duration=${DURATION:-10s}
max_p99_ms=${MAX_P99_MS:-50}
max_rss_mb=${MAX_RSS_MB:-400}
needs wrk curl

work=$(mktemp -d)
server=
storm=
trap '[ -n "$storm" ] && kill "$storm" 2>/dev/null; [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/mlflow-auth" ./cmd/mlflow-auth
http=127.0.0.1:18680
admin_pass=storm-admin-password
MLFLOW_AUTH_ADMIN_PASSWORD=$admin_pass "$work/mlflow-auth" serve --http-addr $http --grpc-addr 127.0.0.1:18690 \
  --database-url "sqlite:///$work/storm.db" --failed-login-limit 0 --log-format json 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://$http/health" >/dev/null && break; sleep 0.1; done
path="/api/2.0/mlflow/users/get?username=admin"
curl -sf -u "admin:$admin_pass" "http://$http$path" >/dev/null || { # the admin's credentials are now cached
  echo "bench/storm.sh: the server on $http did not answer the admin (port taken?):" >&2; cat "$work/server.log" >&2; exit 1; }

# The storm starts first and ends after the admin's run.
wrk -t1 -c"$clients" -d"$(( ${duration%s} + 2 ))s" --timeout 10s \
  -H "Authorization: Basic $(printf %s 'admin:not-the-password' | base64 -w0)" "http://$http$path" >"$work/storm.out" &
storm=$!
sleep 1
wrk -t1 -c1 -d"$duration" --timeout 10s --latency \
  -H "Authorization: Basic $(printf %s "admin:$admin_pass" | base64 -w0)" "http://$http$path" >"$work/admin.out"
wait "$storm"
storm=

ms() { # a wrk latency such as 812.00us, 3.20ms or 1.10s, in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; print n }'
}
p50=$(awk '$1 == "50%" {print $2}' "$work/admin.out")
p99=$(awk '$1 == "99%" {print $2}' "$work/admin.out")
admin_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/admin.out")
admin_errors=$(awk '/Non-2xx|Socket errors/' "$work/admin.out")
storm_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/storm.out")
rss_mb=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$server/status")
echo "wrong-password storm: $clients connections, $storm_rps answers/s (401 or 503), $(nproc) cores, load tool on the same machine"
echo "cached admin: $admin_rps req/s, p50 $p50, p99 $p99${admin_errors:+, errors: $admin_errors}"
echo "server peak RSS: $rss_mb MB"
fail=0
if [ -n "$admin_errors" ]; then echo "FAIL: the admin got errors"; fail=1; fi
if awk -v p="$(ms "$p99")" -v m="$max_p99_ms" 'BEGIN { exit !(p >= m) }'; then
  echo "FAIL: the admin's p99 $p99 is not under $max_p99_ms ms"; fail=1
fi
if [ "$rss_mb" -ge "$max_rss_mb" ]; then echo "FAIL: peak RSS $rss_mb MB is not under $max_rss_mb MB"; fail=1; fi
exit $fail

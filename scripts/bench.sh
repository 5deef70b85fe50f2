#!/usr/bin/env bash
# A first benchmark (not a test): how close one run gets to the ideal makespan N*L/C.
#   scripts/bench.sh                      N=2000 users, fake crew latency L=200 ms, CREW_MAX_CONCURRENCY C=32
#   N=500 L=1000 C=16 scripts/bench.sh
# Brings the local stack up (scripts/run-local.sh) on a private database and RabbitMQ virtual host, loads N users,
# triggers run-now through the gateway, waits until the run completes and prints N, L, C, the measured makespan,
# the ideal N*L/C and their ratio. Stops the stack and removes the database and virtual host afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${N:-2000}"; L="${L:-200}"; C="${C:-32}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-1800}"
NAME="crewbench_$(date +%s)"
TOKEN="bench-token"
GATEWAY="http://127.0.0.1:8080"

scripts/infra.sh up

psql_admin() { PGPASSWORD=crew psql -h 127.0.0.1 -U crew -v ON_ERROR_STOP=1 -qtA "$@"; }
mgmt() { curl -fsS -u guest:guest -H 'content-type: application/json' "$@"; }

cleanup() {
  scripts/run-local.sh down >/dev/null 2>&1 || true
  mgmt -X DELETE "http://127.0.0.1:15672/api/vhosts/$NAME" >/dev/null 2>&1 || true
  psql_admin -d crewplatform -c "DROP DATABASE IF EXISTS \"$NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if scripts/run-local.sh status >/dev/null 2>&1; then
  echo "the local stack is running; stop it first (scripts/run-local.sh down)" >&2
  exit 1
fi

psql_admin -d crewplatform -c "CREATE DATABASE \"$NAME\""
psql_admin -d "$NAME" -f deploy/postgres/init/01-users.sql >/dev/null
psql_admin -d "$NAME" -c "INSERT INTO users (uid, context, goal)
  SELECT 'bench-' || lpad(i::text, 7, '0'), 'Business ' || i, 'Goal ' || i FROM generate_series(1, $N) AS i"
mgmt -X PUT "http://127.0.0.1:15672/api/vhosts/$NAME" >/dev/null
mgmt -X PUT "http://127.0.0.1:15672/api/permissions/$NAME/guest" -d '{"configure":".*","write":".*","read":".*"}' >/dev/null

export ConnectionStrings__Postgres="Host=127.0.0.1;Port=5432;Database=$NAME;Username=crew;Password=crew"
export RabbitMq__VirtualHost="$NAME" RabbitMq__Username=guest RabbitMq__Password=guest
export CREW_ADMIN_TOKEN="$TOKEN" CREW_RATE_LIMIT_PER_MINUTE=0 CREW_MAX_CONCURRENCY="$C"
export FakeCrew__LatencyMs="$L" FakeCrew__JitterMs=0 FakeCrew__FailureRate=0 FakeCrew__RateLimitRate=0 FakeCrew__HangRate=0 FakeCrew__NonJsonRate=0
unset CREW_API_URL
scripts/run-local.sh up >/dev/null

auth=(-H "Authorization: Bearer $TOKEN")
start_ns=$(date +%s%N)
run_id=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' -d '{"action":"run-now"}' "$GATEWAY/api/scheduler" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["runId"])')

deadline=$((SECONDS + BENCH_TIMEOUT))
while :; do
  run=$(curl -fsS "${auth[@]}" "$GATEWAY/api/scheduler/runs/$run_id")
  status=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["status"])' <<<"$run")
  [ "$status" = completed ] && break
  if [ $SECONDS -ge $deadline ]; then echo "run $run_id not completed after ${BENCH_TIMEOUT}s: $run" >&2; exit 1; fi
  sleep 0.2
done
end_ns=$(date +%s%N)

python3 - "$N" "$L" "$C" "$start_ns" "$end_ns" "$run" <<'PY'
import json, sys
n, l, c, start, end, run = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), json.loads(sys.argv[6])["data"]
makespan = (end - start) / 1e9
ideal = n * l / 1000 / c
print(f"N={n} L={l}ms C={c}")
print(f"run: dispatched={run['dispatched']} succeeded={run['succeeded']} failed={run['failed']} skipped={run['skipped']}")
print(f"makespan={makespan:.1f}s ideal=N*L/C={ideal:.1f}s ratio={makespan / ideal:.2f}")
PY

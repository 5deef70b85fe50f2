#!/usr/bin/env bash
# The benchmark (not a test): CrewPlatform and, when PEER_DIR is set, the Hangfire + PostgreSQL peer, one after the
# other in one invocation, on the same fake crew API with the same N users, latency L ms and concurrency C.
#   scripts/bench.sh [scenario]      quick (default): N=1000 L=0 C=32
#                                    throughput:      N=5000 L=0 C=32
#                                    latency:         N=2000 L=200 C=32
#                                    slow:            N=500 L=1000 C=64
#                                    memory:          N=100000 L=0 C=32 (is RSS flat in N?)
#                                    scaleout:        N=320 L=1000 C=16, with one CrewCaller and then two on the one
#                                                     queue (C per instance): the makespan x2/x1 and the crew calls
#                                                     beyond N (a user called twice); no peer
#                                    retention:       N=5000 L=0 C=32 over RETENTION_ROWS (default 10,000,000) old
#                                                     answers, half of them older than a year: a run without the
#                                                     answer retention pass, then one while the pass
#                                                     (CREW_RESPONSES_RETAIN_DAYS=365) deletes the older half, and
#                                                     the pass's own rows/s when it ends; no peer
#   CREW_CALLER_REPLICAS=2 scripts/bench.sh throughput   the other scenarios with several CrewCaller instances
#   BENCH_WARMUP=0                    CrewPlatform runs every user once before the measured run (a long-running
#                                     service's paths are compiled; the first run pays the JIT), reported as
#                                     <label>-cold; 0 skips it (the default for memory)
#   N=300 L=50 C=8 scripts/bench.sh   N, L and C from the environment win over the scenario's
#   PEER_DIR=<peers folder>           holds run-hangfire.sh and fakecrew/fakecrew.py; without it the peer is skipped
#                                     and CrewPlatform runs against its own fake (tools/FakeCrewApi)
# For each it prints the makespan (run-now to the run's completion; the peer's own clock from its fan-out), the
# ideal N*L/C, their ratio, users per second, CPU ms per user (utime+stime of every process of the stack, sampled
# from /proc: the services, RabbitMQ's beam.smp and the PostgreSQL backends of the bench's database; for the peer
# its process, which includes its start-up and loading the users, and its database's backends) and each process's
# peak RSS/PSS in MB (PSS counts pages shared with other processes, such as the .NET framework files every service
# maps, by share, so it is what each process adds); the crew calls the fake received and its peak in flight; then
# CrewPlatform/peer ratios. RabbitMQ is shared with whatever else runs on the machine.
# CrewPlatform runs through scripts/run-local.sh (ports 8080-8084) on a private database and RabbitMQ virtual host,
# removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIO="${1:-quick}"
case "$SCENARIO" in
  quick) defaults=(1000 0 32) ;;
  throughput) defaults=(5000 0 32) ;;
  latency) defaults=(2000 200 32) ;;
  slow) defaults=(500 1000 64) ;;
  memory) defaults=(100000 0 32); BENCH_WARMUP="${BENCH_WARMUP:-0}" ;;
  scaleout) defaults=(320 1000 16) ;;
  retention) defaults=(5000 0 32) ;;
  *) echo "usage: $0 [quick|throughput|latency|slow|memory|scaleout|retention]" >&2; exit 2 ;;
esac
N="${N:-${defaults[0]}}"; L="${L:-${defaults[1]}}"; C="${C:-${defaults[2]}}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-1800}"
NAME="crewbench_$(date +%s)"
TOKEN="bench-token"
GATEWAY="http://127.0.0.1:8080"
WORK="$(mktemp -d)"
PEER_PG="Host=127.0.0.1;Username=crew;Password=crew"

psql_admin() { PGPASSWORD=crew psql -h 127.0.0.1 -U crew -v ON_ERROR_STOP=1 -qtA "$@"; }
mgmt() { curl -fsS -u guest:guest -H 'content-type: application/json' "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

FAKE_PID=""; SAMPLER_PID=""; CLEANUP_DBS=()
cleanup() {
  [ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
  [ -z "$FAKE_PID" ] || kill "$FAKE_PID" 2>/dev/null || true
  scripts/run-local.sh down >/dev/null 2>&1 || true
  for db in "${CLEANUP_DBS[@]}"; do
    mgmt -X DELETE "http://127.0.0.1:15672/api/vhosts/$db" >/dev/null 2>&1 || true
    psql_admin -d crewplatform -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# sample <label> <database> <pid files or "peer:<ancestor pid>">...: every 200 ms, until killed, the CPU ticks and
# RSS of the stack's processes; writes $WORK/<label>.json on exit.
sample() {
  python3 - "$WORK/$1.json" "$2" "${@:3}" <<'PY' &
import json, os, signal, sys, time
out, database, sources = sys.argv[1], sys.argv[2], sys.argv[3:]
tick = os.sysconf("SC_CLK_TCK")
first, last, rss, pss_peak, names = {}, {}, {}, {}, {}

def read(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        kb = next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
    return int(fields[11]) + int(fields[12]), kb, int(fields[1])

# PSS: the process's private pages plus its share of pages shared with others (the .NET shared framework's files are
# mapped by every service), so the PSS of all services adds up to what they take together.
def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next((int(l.split()[1]) for l in f if l.startswith("Pss:")), 0)

def processes():
    found = {}
    for source in sources:
        if source.startswith("peer:"):
            continue
        try:
            found[int(open(source).read())] = os.path.basename(source).removesuffix(".pid")
        except (OSError, ValueError):
            pass
    ancestors = {int(s[5:]) for s in sources if s.startswith("peer:")}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            comm = open(f"/proc/{entry}/comm").read().strip()
        except OSError:
            continue
        if comm == "beam.smp" and not ancestors:
            found[int(entry)] = "rabbitmq"
        elif cmd.startswith("postgres: ") and f" {database} " in cmd:
            found[int(entry)] = "postgres"
        elif "HangfireBench.dll" in cmd and ancestors:
            found[int(entry)] = "hangfire"
    return found

def stop():
    cpu = {}
    for pid, ticks in last.items():
        cpu[names[pid]] = cpu.get(names[pid], 0) + (ticks - first[pid]) * 1000 / tick
    peak, peak_pss = {}, {}
    for pid, kb in rss.items():
        if names[pid] != "postgres":
            peak[f"{names[pid]}[{pid}]"] = kb // 1024
            peak_pss[f"{names[pid]}[{pid}]"] = pss_peak.get(pid, 0) // 1024
    json.dump({"cpu_ms": cpu, "peak_rss_mb": peak, "peak_pss_mb": peak_pss}, open(out, "w"))
    sys.exit(0)

# The handler only raises a flag: an exception raised from a signal handler while a file object is being finalized
# is swallowed ("Exception ignored in ..."), and the sampler would never stop.
stopping = False
def request_stop(*_):
    global stopping
    stopping = True

signal.signal(signal.SIGTERM, request_stop)
rounds = 0
while not stopping:
    for pid, name in processes().items():
        try:
            ticks, kb, _ = read(pid)
            if rounds % 5 == 0 and name != "postgres":
                pss_peak[pid] = max(pss_peak.get(pid, 0), pss(pid))
        except (OSError, IndexError):
            continue
        names[pid] = name
        first.setdefault(pid, ticks)
        last[pid] = ticks
        rss[pid] = max(rss.get(pid, 0), kb)
    rounds += 1
    time.sleep(0.2)
stop()
PY
  SAMPLER_PID=$!
}

stop_sampling() { kill "$SAMPLER_PID"; while kill -0 "$SAMPLER_PID" 2>/dev/null; do sleep 0.1; done; SAMPLER_PID=""; }

if ss -ltn | grep -qE ':80(8[0-9]|90)\b'; then
  echo "ports 8080-8090 are in use (a local stack or another benchmark runs); stop it first" >&2
  exit 1
fi
scripts/infra.sh up >/dev/null

if [ "$SCENARIO" = scaleout ] || [ "$SCENARIO" = retention ]; then unset PEER_DIR; fi
if [ -n "${PEER_DIR:-}" ] && [ -x "$PEER_DIR/run-hangfire.sh" ] && [ -f "$PEER_DIR/fakecrew/fakecrew.py" ]; then
  FAKE_PORT="$(free_port)"
  python3 "$PEER_DIR/fakecrew/fakecrew.py" --port "$FAKE_PORT" --latency-ms "$L" >/dev/null 2>&1 &
  FAKE_PID=$!
  export CREW_API_URL="http://127.0.0.1:$FAKE_PORT/run-crew"
  FAKE_STATS_URL="http://127.0.0.1:$FAKE_PORT/stats" FAKE_RESET_URL="http://127.0.0.1:$FAKE_PORT/reset"
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$FAKE_PORT/stats" >/dev/null && break; sleep 0.1; done
  FAKE="fakecrew.py (the peer's)"
else
  echo "# peer skipped: set PEER_DIR to the folder holding run-hangfire.sh and fakecrew/fakecrew.py to compare" >&2
  unset CREW_API_URL PEER_DIR
  FAKE="tools/FakeCrewApi"
fi

# measure_run <label> <database>: one run-now of every user, sampled; its makespan is the run's own startedAt to
# completedAt (the Scheduler's clock, as the peer's makespan is its own), so polling for it adds nothing.
measure_run() {
  local label="$1" run_id run status deadline stats auth=(-H "Authorization: Bearer $TOKEN") pids=()
  curl -fsS -X POST "${FAKE_RESET_URL:-http://127.0.0.1:8090/admin/reset}" >/dev/null || true
  for pid_file in .run-local/pids/*.pid; do [[ $pid_file == */fake-crew-api.pid ]] || pids+=("$pid_file"); done
  sample "$label" "$2" "${pids[@]}"
  run_id=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' -d '{"action":"run-now"}' "$GATEWAY/api/scheduler" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["runId"])')
  deadline=$((SECONDS + BENCH_TIMEOUT))
  while :; do
    run=$(curl -fsS "${auth[@]}" "$GATEWAY/api/scheduler/runs/$run_id")
    status=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["status"])' <<<"$run")
    [ "$status" = completed ] && break
    if [ $SECONDS -ge $deadline ]; then echo "run $run_id not completed after ${BENCH_TIMEOUT}s: $run" >&2; exit 1; fi
    sleep 0.5
  done
  stop_sampling
  stats=$(curl -fsS "${FAKE_STATS_URL:-http://127.0.0.1:8090/stats}" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s.get("calls", s.get("received", -1)), s.get("peak_in_flight", s.get("peakInFlight", -1)))')
  python3 - "$run" "$label" "$stats" "$WORK/makespans" <<'PY'
import json, sys
from datetime import datetime
r = json.loads(sys.argv[1])["data"]
print(f"# {sys.argv[2]} run: " + " ".join(f"{k}={r[k]}" for k in ("dispatched", "succeeded", "failed", "skipped")))
ms = (datetime.fromisoformat(r["completedAt"]) - datetime.fromisoformat(r["startedAt"])).total_seconds() * 1000
with open(sys.argv[4], "a") as makespans:
    print(sys.argv[2], round(ms), sys.argv[3], file=makespans)
PY
}

# stack_env <database> <CrewCaller instances>: the settings every service of a bench's stack starts with.
stack_env() {
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=5432;Database=$1;Username=crew;Password=crew"
  export RabbitMq__VirtualHost="$1" RabbitMq__Username=guest RabbitMq__Password=guest
  export CREW_ADMIN_TOKEN="$TOKEN" CREW_RATE_LIMIT_PER_MINUTE=0 CREW_MAX_CONCURRENCY="$C" CREW_CALLER_REPLICAS="$2"
  export FakeCrew__LatencyMs="$L" FakeCrew__JitterMs=0 FakeCrew__FailureRate=0 FakeCrew__RateLimitRate=0 FakeCrew__HangRate=0 FakeCrew__NonJsonRate=0
}

# bench_crewplatform <label> <CrewCaller instances>: one run of CrewPlatform on a fresh database and RabbitMQ virtual
# host (removed afterwards); writes "<label> <makespan ms> <crew calls received> <peak calls in flight>" to makespans.
bench_crewplatform() {
  local label="$1" replicas="$2" db="${NAME}_$1"
  psql_admin -d crewplatform -c "CREATE DATABASE \"$db\""
  psql_admin -d "$db" -f deploy/postgres/init/01-users.sql >/dev/null
  psql_admin -d "$db" -f deploy/postgres/audit.sql >/dev/null
  psql_admin -d "$db" -c "INSERT INTO users (uid, context, goal)
    SELECT 'bench-' || lpad(i::text, 7, '0'), 'Business ' || i, 'Goal ' || i FROM generate_series(1, $N) AS i"
  if [ "$SCENARIO" = retention ]; then preload_answers "$db"; fi
  mgmt -X PUT "http://127.0.0.1:15672/api/vhosts/$db" >/dev/null
  mgmt -X PUT "http://127.0.0.1:15672/api/permissions/$db/guest" -d '{"configure":".*","write":".*","read":".*"}' >/dev/null
  CLEANUP_DBS+=("$db")
  (stack_env "$db" "$replicas"; scripts/run-local.sh up >/dev/null)
  if [ "${BENCH_WARMUP:-1}" = 1 ]; then measure_run "$label-cold" "$db"; fi
  measure_run "$label" "$db"
  if [ "$SCENARIO" = retention ]; then measure_run_beside_retention "$db"; fi
  scripts/run-local.sh down >/dev/null 2>&1
}

# preload_answers <database>: RETENTION_ROWS answers of the bench's users, created evenly over the two years before
# now, through the ResponseStore's own schema (its migrations run first, so the indexes are the real ones).
preload_answers() {
  local rows="${RETENTION_ROWS:-10000000}" started=$SECONDS
  (cd services/ResponseStore && dotnet build -c Release -nologo -v quiet >/dev/null && cd bin/Release/net10.0 &&
    ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__Postgres="Host=127.0.0.1;Port=5432;Database=$1;Username=crew;Password=crew" \
    dotnet CrewPlatform.ResponseStore.dll --migrate-only >/dev/null)
  # Loaded without the secondary indexes and each built again at once afterwards: much faster than keeping the GIN
  # indexes up to date row by row, and the same indexes in the end.
  psql_admin -d "$1" -c "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'crew_responses'
    AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'public.crew_responses'::regclass)" >"$WORK/indexes.sql"
  psql_admin -d "$1" -c "SELECT format('DROP INDEX %I;', indexname) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'crew_responses'
    AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'public.crew_responses'::regclass)" | psql_admin -d "$1" >/dev/null
  psql_admin -d "$1" -c "INSERT INTO crew_responses (user_uid, request_context, request_goal, response_data, created_at)
    SELECT 'bench-' || lpad((1 + (i::bigint * 7919) % $N)::text, 7, '0'), 'Business', 'Goal',
           jsonb_build_object('Questions', jsonb_build_array(jsonb_build_object('Question 1', 'Who buys?',
             'Answers', jsonb_build_array('Riders ' || (i % 97), 'Shops')))),
           (now() AT TIME ZONE 'utc') - (i * (interval '730 days' / $rows))
    FROM generate_series(1, $rows) AS i" >/dev/null
  { echo "SET maintenance_work_mem = '1GB';"; sed 's/$/;/' "$WORK/indexes.sql"; } | psql_admin -d "$1" >/dev/null
  psql_admin -d "$1" -c "VACUUM ANALYZE crew_responses" >/dev/null
  echo "# preloaded $rows answers in $((SECONDS - started)) s" >&2
}

# measure_run_beside_retention <database>: the ResponseStore restarted with CREW_RESPONSES_RETAIN_DAYS=365, whose
# first pass starts at once; a run measured while it deletes, then the pass's own figures once it ends.
measure_run_beside_retention() {
  local log=.run-local/logs/response-store.log left deadline
  kill "$(cat .run-local/pids/response-store.pid)"
  while scripts/run-local.sh status 2>/dev/null | grep -q '^response-store  *running'; do sleep 0.2; done
  (stack_env "$1" 1; CREW_RESPONSES_RETAIN_DAYS=365 RUN_LOCAL_NO_BUILD=1 scripts/run-local.sh up >/dev/null)
  until curl -sf http://127.0.0.1:8083/health/ready >/dev/null; do sleep 0.2; done
  measure_run crewplatform-retention "$1"
  left=$(psql_admin -d "$1" -c "SELECT count(*) FROM crew_responses WHERE created_at < (now() AT TIME ZONE 'utc') - interval '365 days'")
  echo "# when that run completed, the pass had $left answers older than 365 days still to delete" >&2
  deadline=$((SECONDS + BENCH_TIMEOUT))
  until grep -q 'Answer retention pass:' "$log"; do
    if [ $SECONDS -ge $deadline ]; then echo "retention pass not done after ${BENCH_TIMEOUT}s" >&2; exit 1; fi
    sleep 1
  done
  grep -o 'Answer retention pass:[^"]*' "$log" | head -1 | python3 -c '
import re, sys
line = sys.stdin.read().strip()
deleted, ms = (int(x) for x in re.search(r"(\d+) deleted by age.* in (\d+) ms", line).groups())
print(f"# {line}: {deleted / (ms / 1000):.0f} rows/s")'
}

# --- CrewPlatform ---
if [ "$SCENARIO" = scaleout ]; then
  bench_crewplatform crewplatform-x1 1
  bench_crewplatform crewplatform-x2 2
else
  bench_crewplatform crewplatform "${CREW_CALLER_REPLICAS:-1}"
fi

# --- the peer ---
if [ -n "${PEER_DIR:-}" ]; then
  kill "$FAKE_PID"; FAKE_PID="" # run-hangfire.sh starts its own fakecrew.py with the same latency
  PG="$PEER_PG" "$PEER_DIR/run-hangfire.sh" "$N" "$L" "$C" >"$WORK/peer.out" 2>&1 &
  peer=$!
  sample hangfire hfbench "peer:$peer"
  wait "$peer" || { cat "$WORK/peer.out" >&2; exit 1; }
  stop_sampling
  grep '^#' "$WORK/peer.out" | sed 's/^# /# hangfire /' || true
  python3 -c 'import re,sys; print("hangfire", round(float(re.search(r"makespan=([0-9.]+)s", open(sys.argv[1]).read()).group(1)) * 1000))' \
    "$WORK/peer.out" >>"$WORK/makespans"
fi

python3 - "$WORK" "$N" "$L" "$C" "$FAKE" <<'PY'
import json, os, sys
work, n, l, c, fake = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ideal = n * l / 1000 / c
print(f"N={n} L={l}ms C={c} fake={fake} ideal=N*L/C={ideal:.1f}s")
results = {}
for line in open(os.path.join(work, "makespans")):
    name, ms, *calls = line.split()
    makespan = int(ms) / 1000
    sampled = json.load(open(os.path.join(work, f"{name}.json")))
    cpu = sum(sampled["cpu_ms"].values())
    results[name] = (makespan, n / makespan, cpu / n)
    parts = " ".join(f"{k}={v / n:.2f}" for k, v in sorted(sampled["cpu_ms"].items()))
    rss = " ".join(f"{k}={v}/{sampled['peak_pss_mb'].get(k, 0)}" for k, v in sorted(sampled["peak_rss_mb"].items()))
    ratio = f"{makespan / ideal:.2f}" if ideal else "n/a"
    crew = f" crew_calls={calls[0]} (beyond N: {int(calls[0]) - n}) peak_in_flight={calls[1]}" if calls else ""
    print(f"{name:15} makespan={makespan:.1f}s ratio={ratio} users/s={n / makespan:.1f} "
          f"cpu_ms_per_user={cpu / n:.2f} ({parts}){crew} peak_rss/pss_mb: {rss}")
if "hangfire" in results:
    (cm, cu, cc), (hm, hu, hc) = results["crewplatform"], results["hangfire"]
    print(f"crewplatform/hangfire: makespan={cm / hm:.2f} users/s={cu / hu:.2f} cpu_per_user={cc / hc:.2f}")
if "crewplatform-retention" in results:
    print(f"beside the retention pass / without: users/s={results['crewplatform-retention'][1] / results['crewplatform'][1]:.2f}"
          f" cpu_per_user={results['crewplatform-retention'][2] / results['crewplatform'][2]:.2f}")
if "crewplatform-x2" in results:
    print(f"two CrewCallers / one: makespan={results['crewplatform-x2'][0] / results['crewplatform-x1'][0]:.2f} (ideal 0.50)")
PY

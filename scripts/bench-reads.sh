#!/usr/bin/env bash
# A benchmark of the crew-responses list at scale (not a test): loads ROWS answers (default 1,000,000, for USERS
# users, created over the last year) into a private database, starts ResponseStore and the Gateway on free ports
# (not the stack's fixed ones, so it can run next to scripts/run-local.sh), and prints, for each kind of page, the
# API's p50/p99 through the gateway next to PostgreSQL's own execution time for the same SQL, content searches
# (a selective jsonPath, a full-text q) included.
#   scripts/bench-reads.sh
#   ROWS=200000 SAMPLES=100 scripts/bench-reads.sh
# Needs RabbitMQ and PostgreSQL (scripts/infra.sh up) and a Release build (it builds the two services).
# Drops the database and the RabbitMQ virtual host afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${ROWS:-1000000}"; USERS="${USERS:-10000}"; SAMPLES="${SAMPLES:-200}"; LIMIT="${LIMIT:-50}"
NAME="crewreads_$(date +%s)"
TOKEN="bench-token"
PIDS=()

psql_admin() { PGPASSWORD=crew psql -h 127.0.0.1 -U crew -v ON_ERROR_STOP=1 -qtA "$@"; }
mgmt() { curl -fsS -u guest:guest -H 'content-type: application/json' "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do timeout 20 tail -s 0.5 --pid="$pid" -f /dev/null || true; done
  mgmt -X DELETE "http://127.0.0.1:15672/api/vhosts/$NAME" >/dev/null 2>&1 || true
  psql_admin -d crewplatform -c "DROP DATABASE IF EXISTS \"$NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "building ResponseStore and Gateway (Release)" >&2
dotnet build services/ResponseStore -c Release -nologo -v quiet >/dev/null
dotnet build services/Gateway -c Release -nologo -v quiet >/dev/null

psql_admin -d crewplatform -c "CREATE DATABASE \"$NAME\""
psql_admin -d "$NAME" -f deploy/postgres/init/01-users.sql >/dev/null
psql_admin -d "$NAME" -f deploy/postgres/audit.sql >/dev/null
mgmt -X PUT "http://127.0.0.1:15672/api/vhosts/$NAME" >/dev/null
mgmt -X PUT "http://127.0.0.1:15672/api/permissions/$NAME/guest" -d '{"configure":".*","write":".*","read":".*"}' >/dev/null

CONNECTION="Host=127.0.0.1;Port=5432;Database=$NAME;Username=crew;Password=crew"
STORE_URL="http://127.0.0.1:$(free_port)"
GATEWAY="http://127.0.0.1:$(free_port)"

(cd services/ResponseStore/bin/Release/net10.0 && ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__Postgres="$CONNECTION" \
  dotnet CrewPlatform.ResponseStore.dll --migrate-only >/dev/null)

echo "loading $ROWS rows for $USERS users" >&2
psql_admin -d "$NAME" <<SQL
INSERT INTO users (uid, context, goal)
  SELECT 'reads-' || lpad(i::text, 7, '0'), 'Business ' || i, 'Goal ' || i FROM generate_series(1, $USERS) AS i;
-- One answer in a thousand recommends a price rise: what the content-search pages look for.
INSERT INTO crew_responses (user_uid, request_context, request_goal, response_data, created_at)
  SELECT 'reads-' || lpad((1 + (i::bigint * 7919) % $USERS)::text, 7, '0'), 'Business', 'Goal',
         jsonb_build_object('Questions', jsonb_build_array(jsonb_build_object('Question 1', 'Who buys?',
           'Answers', jsonb_build_array(CASE WHEN i % 1000 = 0 THEN 'Raise the price by 5%' ELSE 'Riders ' || (i % 97) END, 'Shops')))),
         (now() AT TIME ZONE 'utc') - (i * (interval '1 year' / $ROWS))
  FROM generate_series(1, $ROWS) AS i;
VACUUM ANALYZE crew_responses;
SQL

start() { # start <dll folder> <url> <env...>
  local folder="$1" url="$2"; shift 2
  (cd "$folder/bin/Release/net10.0" && exec env ASPNETCORE_ENVIRONMENT=Development "$@" \
    dotnet "CrewPlatform.${folder##*/}.dll" --urls "$url" >/dev/null 2>&1) &
  PIDS+=($!)
}
start services/ResponseStore "$STORE_URL" ConnectionStrings__Postgres="$CONNECTION" \
  RabbitMq__Host=127.0.0.1 RabbitMq__VirtualHost="$NAME" RabbitMq__Username=guest RabbitMq__Password=guest
start services/Gateway "$GATEWAY" GATEWAY_RESPONSE_STORE_URL="$STORE_URL" GATEWAY_SCHEDULER_URL="$STORE_URL" \
  CREW_ADMIN_TOKEN="$TOKEN" CREW_RATE_LIMIT_PER_MINUTE=0 CREW_AUTH_DISABLED=false \
  GATEWAY_MANAGEMENT_URLS="http://127.0.0.1:$(free_port)" # not the fixed 9464 a running stack's gateway holds
for _ in $(seq 180); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$GATEWAY/api/crew-responses?limit=1")" = 200 ] && break
  sleep 1
done

# The SQL is the one the service sends (EF Core's, with the same plan shape); PostgreSQL's time is EXPLAIN
# ANALYZE's execution time, the API's is the round trip through the gateway with a kept-alive connection.
python3 - "$GATEWAY" "$TOKEN" "$NAME" "$SAMPLES" "$LIMIT" "$ROWS" <<'PY'
import http.client, json, statistics, subprocess, sys, time, urllib.parse
gateway, token, db, samples, limit, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
host = urllib.parse.urlparse(gateway)
conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)

def get(query):
    conn.request("GET", "/api/crew-responses?" + query, headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{query}: {response.status} {body[:300]!r}")
    return json.loads(body)

def psql(sql):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "crew", "-d", db, "-qtA", "-v", "ON_ERROR_STOP=1"], input=sql,
                          env={"PGPASSWORD": "crew", "PATH": "/usr/bin:/bin"}, check=True, capture_output=True, text=True).stdout

def percentiles(times):
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]

deep = int(rows * 0.9)
user = psql("SELECT user_uid FROM crew_responses ORDER BY created_at DESC, id DESC LIMIT 1").strip()
mid = psql(f"SELECT to_char(created_at, 'YYYY-MM-DD') FROM crew_responses ORDER BY created_at DESC, id DESC OFFSET {rows // 2} LIMIT 1").strip()
cursor = get(f"limit=1&offset={deep - 1}")["nextCursor"]
deep_at, deep_id = psql(f"SELECT created_at, id FROM crew_responses ORDER BY created_at DESC, id DESC OFFSET {deep - 1} LIMIT 1").strip().split("|")

columns = "id, user_uid, request_context, request_goal, response_data, created_at, run_id, cost"
# The content searches: one answer in a thousand matches each. The service sends the same predicates with the path
# and the words as parameters, in a transaction that sets the search's statement_timeout first.
path = 'exists($.Questions[*] ? (@.Answers[*] == "Raise the price by 5%"))'
words = "raise price"
page = f"ORDER BY created_at DESC, id DESC LIMIT {limit}"
cases = [
    ("newest page", f"limit={limit}", f"SELECT {columns} FROM crew_responses {page}"),
    ("by userUid", f"limit={limit}&userUid={user}", f"SELECT {columns} FROM crew_responses WHERE user_uid = '{user}' {page}"),
    ("date range (one day)", f"limit={limit}&startDate={mid}&endDate={mid}",
     f"SELECT {columns} FROM crew_responses WHERE created_at >= '{mid}' AND created_at < date '{mid}' + 1 {page}"),
    (f"deep keyset page (row {deep})", f"limit={limit}&after={cursor}",
     f"SELECT {columns} FROM crew_responses WHERE created_at IS NOT NULL AND (created_at, id) < ('{deep_at}', {deep_id}) {page}"),
    ("selective jsonPath (1 in 1000)", f"limit={limit}&jsonPath={urllib.parse.quote(path)}",
     f"SELECT {columns} FROM crew_responses WHERE response_data @@ '{path}'::jsonpath {page}"),
    ("full-text q (1 in 1000)", f"limit={limit}&q={urllib.parse.quote(words)}",
     f"SELECT {columns} FROM crew_responses WHERE search_vector @@ websearch_to_tsquery('simple', '{words}') {page}"),
    ("newest page, includeTotal=true", f"limit={limit}&includeTotal=true", "SELECT count(*) FROM crew_responses"),
    (f"deep offset page (offset {deep})", f"limit={limit}&offset={deep}", f"SELECT {columns} FROM crew_responses {page} OFFSET {deep}"),
]

print(f"crew_responses: {rows} rows; {samples} calls per page kind ({max(5, samples // 20)} for the last two); limit={limit}")
print(f"{'page':40} {'API p50':>9} {'API p99':>9} {'SQL p50':>9} {'SQL p99':>9}")
for index, (label, query, sql) in enumerate(cases):
    n = samples if index < 6 else max(5, samples // 20)
    get(query)  # warm
    api = []
    for _ in range(n):
        started = time.perf_counter()
        get(query)
        api.append((time.perf_counter() - started) * 1000)
    sql_times = []
    explain = psql("\n".join([f"EXPLAIN (ANALYZE, FORMAT JSON) {sql};"] * min(n, 50)))
    for line in explain.splitlines():
        if '"Execution Time"' in line:
            sql_times.append(float(line.split(":")[1].strip().rstrip(",")))
    a50, a99 = percentiles(api)
    s50, s99 = percentiles(sql_times)
    print(f"{label:40} {a50:7.1f}ms {a99:7.1f}ms {s50:7.2f}ms {s99:7.2f}ms")
PY

#!/usr/bin/env bash
# Runs the whole CrewPlatform stack as processes on this machine, without Docker.
#   scripts/run-local.sh up      RabbitMQ + PostgreSQL (scripts/infra.sh up), the users table and demo users when
#                                absent, one Release build, the fake crew API (unless CREW_API_URL is set), then
#                                Scheduler :8081, CrewCaller :8082, ResponseStore :8083, Gateway :8080; waits until
#                                the gateway's /health/ready answers 200 and prints the URLs and the token
#   scripts/run-local.sh down    stops exactly the processes `up` started (from .run-local/pids/)
#   scripts/run-local.sh status  says whether each of them runs and answers
#
# Settings: deploy/env/<service>.env, the same files docker-compose.yml uses. A variable already set in your
# environment wins over the file (e.g. `CREW_MAX_CONCURRENCY=32 FakeCrew__LatencyMs=200 scripts/run-local.sh up`),
# except ASPNETCORE_URLS, which is the stack's port layout. Knobs of this script itself:
#   RUN_LOCAL_READY_TIMEOUT  seconds to wait for readiness (default 180)
#   RUN_LOCAL_NO_BUILD=1     skip the build (use what is in bin/Release)
# Logs: .run-local/logs/<service>.log; PIDs: .run-local/pids/<service>.pid.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

RUN_DIR="$ROOT/.run-local"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
ENV_DIR="$ROOT/deploy/env"
READY_TIMEOUT="${RUN_LOCAL_READY_TIMEOUT:-180}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# name | project folder | assembly; the env file is deploy/env/<name>.env. Started in this order.
SERVICES=(
  "fake-crew-api|tools/FakeCrewApi|CrewPlatform.FakeCrewApi"
  "scheduler|services/Scheduler|CrewPlatform.Scheduler"
  "crew-caller|services/CrewCaller|CrewPlatform.CrewCaller"
  "response-store|services/ResponseStore|CrewPlatform.ResponseStore"
  "gateway|services/Gateway|CrewPlatform.Gateway"
)

log() { printf '[run-local] %s\n' "$*" >&2; }

field() { local IFS='|'; read -r -a parts <<<"$1"; printf '%s' "${parts[$2]}"; }

# The value of KEY in an env file (first match), without exporting anything.
env_file_value() { # env_file_value <file> <key>
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in "$2="*) printf '%s' "${line#*=}"; return 0 ;; esac
  done <"$1"
  return 1
}

# Exports an env file's keys into the current (sub)shell; variables already set (non-empty) win, except ASPNETCORE_URLS.
# Read line by line rather than sourced: values such as a connection string contain ';' and spaces.
export_env_file() {
  local line key value
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    key="${line%%=*}"
    value="${line#*=}"
    if [ "$key" = ASPNETCORE_URLS ] || [ -z "${!key:-}" ]; then
      export "$key=$value"
    fi
  done <"$1"
}

service_url() { env_file_value "$ENV_DIR/$1.env" ASPNETCORE_URLS; }

admin_token() {
  if [ -n "${CREW_ADMIN_TOKEN:-}" ]; then printf '%s' "$CREW_ADMIN_TOKEN"; else env_file_value "$ENV_DIR/gateway.env" CREW_ADMIN_TOKEN; fi
}

# The PID recorded for a service, when that process still runs our assembly (a reused PID is not ours).
running_pid() { # running_pid <name> <assembly>
  local pidfile="$PID_DIR/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2.dll" || return 1
  printf '%s' "$pid"
}

http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true; }

port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

host_port() { # "http://127.0.0.1:8081" -> "127.0.0.1 8081"
  local hostport="${1#*://}"; hostport="${hostport%%/*}"
  printf '%s %s' "${hostport%:*}" "${hostport##*:}"
}

ensure_users_table() {
  local psql=(env PGPASSWORD=crew psql -h 127.0.0.1 -U crew -d crewplatform -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT to_regclass('public.users') IS NOT NULL")" = t ]; then
    log "users table present: left as it is"
    return
  fi
  log "creating the users table and demo users (deploy/postgres/init)"
  local sql
  for sql in "$ROOT"/deploy/postgres/init/*.sql; do "${psql[@]}" -f "$sql" >/dev/null; done
}

build() {
  if [ "${RUN_LOCAL_NO_BUILD:-0}" = 1 ]; then log "RUN_LOCAL_NO_BUILD=1: not building"; return; fi
  # One build of just the stack's projects (no tests), through a solution filter.
  local filter="$RUN_DIR/stack.slnf" entry projects=()
  for entry in "${SERVICES[@]}"; do
    local folder; folder="$(field "$entry" 1)"
    projects+=("\"$folder/$(field "$entry" 2).csproj\"")
  done
  printf '{"solution":{"path":"../CrewPlatform.sln","projects":[%s]}}\n' "$(IFS=,; echo "${projects[*]}")" >"$filter"
  log "building (Release)"
  dotnet build "$filter" -c Release -nologo -v quiet
}

start_service() { # start_service <name> <folder> <assembly>
  local name="$1" folder="$2" assembly="$3" pid url output
  if pid="$(running_pid "$name" "$assembly")"; then
    log "$name already running (pid $pid)"
    return
  fi
  url="$(service_url "$name")"
  # shellcheck disable=SC2046
  if port_in_use $(host_port "$url"); then
    log "cannot start $name: $url is already taken by another process"
    return 1
  fi
  output="$ROOT/$folder/bin/Release/net10.0"
  [ -f "$output/$assembly.dll" ] || { log "missing $output/$assembly.dll: build first"; return 1; }
  (
    export_env_file "$ENV_DIR/$name.env"
    # Only the gateway needs the admin secret, even when it came from your environment.
    [ "$name" = gateway ] || unset CREW_ADMIN_TOKEN
    # The content root is the build output, where the service's appsettings.json is.
    cd "$output"
    exec nohup dotnet "$assembly.dll" --urls "$ASPNETCORE_URLS" </dev/null >"$LOG_DIR/$name.log" 2>&1
  ) &
  echo $! >"$PID_DIR/$name.pid"
  log "started $name (pid $!, $url, log .run-local/logs/$name.log)"
}

# Fails as soon as a started process has died, showing the end of its log.
check_alive() {
  local entry name assembly
  for entry in "${SERVICES[@]}"; do
    name="$(field "$entry" 0)"; assembly="$(field "$entry" 2)"
    [ -f "$PID_DIR/$name.pid" ] || continue
    if ! running_pid "$name" "$assembly" >/dev/null; then
      log "$name exited; last lines of .run-local/logs/$name.log:"
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      log "scripts/run-local.sh down stops the processes that did start"
      return 1
    fi
  done
}

wait_ready() { # wait_ready <description> <url> <accept: ready|answers>
  local what="$1" url="$2" accept="$3" deadline=$((SECONDS + READY_TIMEOUT)) code
  while true; do
    code="$(http_code "$url")"
    if { [ "$accept" = ready ] && [ "$code" = 200 ]; } || { [ "$accept" = answers ] && [ -n "$code" ] && [ "$code" != 000 ]; }; then
      return 0
    fi
    check_alive || return 1
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${READY_TIMEOUT}s waiting for $what ($url answered ${code:-nothing})"
      return 1
    fi
    sleep 1
  done
}

up() {
  local started=$SECONDS entry name
  mkdir -p "$LOG_DIR" "$PID_DIR"
  for entry in "${SERVICES[@]}"; do # forget PIDs of processes that have since ended
    running_pid "$(field "$entry" 0)" "$(field "$entry" 2)" >/dev/null || rm -f "$PID_DIR/$(field "$entry" 0).pid"
  done
  scripts/infra.sh up
  ensure_users_table
  build

  local with_fake=1
  if [ -n "${CREW_API_URL:-}" ]; then
    with_fake=0
    log "CREW_API_URL is set ($CREW_API_URL): not starting the fake crew API"
  fi
  for entry in "${SERVICES[@]}"; do
    name="$(field "$entry" 0)"
    if [ "$name" = fake-crew-api ] && [ $with_fake = 0 ]; then continue; fi
    start_service "$name" "$(field "$entry" 1)" "$(field "$entry" 2)"
  done

  local gateway; gateway="$(service_url gateway)"
  if [ $with_fake = 1 ]; then wait_ready "the fake crew API" "$(service_url fake-crew-api)/stats" answers; fi
  wait_ready "CrewCaller" "$(service_url crew-caller)/health/ready" ready
  wait_ready "the gateway (and through it Scheduler and ResponseStore)" "$gateway/health/ready" ready

  local token; token="$(admin_token)"
  cat <<EOF

CrewPlatform is up: ready $((SECONDS - started)) s after \`up\`.
  gateway        $gateway          (every /api/* call needs the token)
  API reference  $gateway/docs
  RabbitMQ UI    http://127.0.0.1:15672  (guest/guest)
  token          $token
  try            curl -H "Authorization: Bearer $token" $gateway/api/scheduler
  logs           .run-local/logs/      stop: scripts/run-local.sh down
EOF
}

down() {
  local entry name assembly pid stopped=0
  for entry in "${SERVICES[@]}"; do
    name="$(field "$entry" 0)"; assembly="$(field "$entry" 2)"
    if pid="$(running_pid "$name" "$assembly")"; then
      kill -TERM "$pid" 2>/dev/null || true
      local deadline=$((SECONDS + 20))
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not stop in 20 s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      log "stopped $name (pid $pid)"
      stopped=$((stopped + 1))
    fi
    rm -f "$PID_DIR/$name.pid"
  done
  log "$stopped process(es) stopped; RabbitMQ and PostgreSQL keep running (scripts/infra.sh down stops them)"
}

status() {
  local entry name assembly pid url probe rc=0
  for entry in "${SERVICES[@]}"; do
    name="$(field "$entry" 0)"; assembly="$(field "$entry" 2)"
    url="$(service_url "$name")"
    if pid="$(running_pid "$name" "$assembly")"; then
      probe="$url/health/ready"
      [ "$name" = fake-crew-api ] && probe="$url/stats"
      printf '%-15s running  pid %-7s %-24s %s -> %s\n' "$name" "$pid" "$url" "${probe#"$url"}" "$(http_code "$probe")"
    else
      printf '%-15s not running\n' "$name"
      # The fake is not started when CREW_API_URL points elsewhere.
      [ "$name" = fake-crew-api ] || rc=1
    fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

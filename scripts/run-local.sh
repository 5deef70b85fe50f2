#!/usr/bin/env bash
# Runs the whole CrewPlatform stack as processes on this machine, without Docker.
#   scripts/run-local.sh up      RabbitMQ + PostgreSQL with the users table and each service's own role and user
#                                (scripts/infra.sh up), one Release build, the fake crew API (unless CREW_API_URL is
#                                set), then Scheduler :8081, CrewCaller :8082, ResponseStore :8083, Webhooks :8084,
#                                Gateway :8080 (its /metrics on its management port, :9464);
#                                waits until the gateway's /health/ready answers 200 and prints the URLs. The first
#                                `up` generates the gateway's admin token into .run-local/admin-token and prints it
#                                once (CREW_ADMIN_TOKEN from your environment wins). Run again, it starts only what
#                                is not running.
#   scripts/run-local.sh down    stops exactly the processes `up` started (from .run-local/pids/)
#   scripts/run-local.sh status  says whether each of them runs and answers
#
# Settings: deploy/env/<service>.env, the same files docker-compose.yml uses. A variable already set in your
# environment wins over the file (e.g. `CREW_MAX_CONCURRENCY=32 FakeCrew__LatencyMs=200 scripts/run-local.sh up`),
# except ASPNETCORE_URLS, which is the stack's port layout. Knobs of this script itself:
#   RUN_LOCAL_READY_TIMEOUT  seconds to wait for readiness (default 180)
#   RUN_LOCAL_NO_BUILD=1     skip the build (use what is in bin/Release)
#   CREW_CALLER_REPLICAS=N   start N CrewCaller instances on the one queue (default 1): the 2nd on port 8182, the 3rd
#                            on 8282, ...; logs and PIDs as crew-caller-2, crew-caller-3, ...
#   RESPONSE_STORE_REPLICAS=N, SCHEDULER_REPLICAS=N, WEBHOOKS_REPLICAS=N, GATEWAY_REPLICAS=N
#                            likewise N instances of that service (8183, 8283, ...; 8181, ...; 8184, ...; 8180, ...).
#                            Every gateway is given every instance of each backend (GATEWAY_*_URL as a list, unless your
#                            environment sets it); the k-th gateway's /metrics is on its management port + 100*(k-1),
#                            and all of them share .run-local/gateway-keys, so a dashboard session is valid at each.
#   RUN_LOCAL_MONITORING=1   also start Debian's prometheus (apt-get install prometheus) on 127.0.0.1:9090, scraping
#                            the stack with deploy/prometheus's rules; `down` stops it too
# Logs: .run-local/logs/<service>.log; PIDs: .run-local/pids/<service>.pid, each the service's own dotnet process.
# The services run as ASPNETCORE_ENVIRONMENT=Development (deploy/env), which accepts the local passwords.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
ENV_DIR="$ROOT/deploy/env"
LOG_DIR="$ROOT/.run-local/logs"
PID_DIR="$ROOT/.run-local/pids"
TOKEN_FILE="$ROOT/.run-local/admin-token"
READY_TIMEOUT="${RUN_LOCAL_READY_TIMEOUT:-180}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Started in this order. Each has deploy/env/<name>.env and the assembly CrewPlatform.<last part of its folder>. A
# replica <name>-<k> (k >= 2) shares its service's settings and listens on the service's port + 100*(k-1).
SERVICES=(fake-crew-api scheduler crew-caller response-store webhooks gateway)
declare -A FOLDER=([fake-crew-api]=tools/FakeCrewApi [scheduler]=services/Scheduler [crew-caller]=services/CrewCaller
  [response-store]=services/ResponseStore [webhooks]=services/Webhooks [gateway]=services/Gateway)
BACKENDS=(scheduler crew-caller response-store webhooks)
replicas_of() { local var; var="$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')_REPLICAS"; echo "${!var:-1}"; } # crew-caller -> CREW_CALLER_REPLICAS
for name in "${BACKENDS[@]}" gateway; do
  for k in $(seq 2 "$(replicas_of "$name")"); do SERVICES+=("$name-$k"); done
done
# Replicas an earlier `up` started are stopped and shown by `down` and `status` whatever the variables say now.
for pid_file in "$PID_DIR"/*-[0-9]*.pid; do
  [ -e "$pid_file" ] || continue
  name="$(basename "$pid_file" .pid)"
  [[ " ${SERVICES[*]} " == *" $name "* ]] || SERVICES+=("$name")
done

log() { printf '[run-local] %s\n' "$*" >&2; }
service_of() { if [[ $1 =~ ^(.+)-([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo "$1"; fi; } # crew-caller-2 -> crew-caller
assembly() { local folder="${FOLDER[$(service_of "$1")]}"; printf 'CrewPlatform.%s' "${folder##*/}"; }
file_value() { sed -n "/^$2=/{s///p;q}" "$ENV_DIR/$(service_of "$1").env"; } # file_value <service> <key>: the first value in its env file
url_of() {
  local url replica=1
  url="$(file_value "$1" ASPNETCORE_URLS)"
  [[ $1 =~ -([0-9]+)$ ]] && replica="${BASH_REMATCH[1]}"
  echo "${url%:*}:$((${url##*:} + 100 * (replica - 1)))"
}
http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true; }
port_taken() { local hp="${1#*://}"; hp="${hp%%/*}"; (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null; }

# The PID recorded for a service, while that process still runs the service's assembly (a reused PID is not ours).
running_pid() {
  local pid
  pid="$(cat "$PID_DIR/$1.pid" 2>/dev/null)" && [ -n "$pid" ] || return 1
  grep -qaF "$(assembly "$1").dll" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# The gateway's admin token: CREW_ADMIN_TOKEN from your environment, else the one generated on the first `up`
# (192 random bits, readable by you alone). Prints "new" when it was generated just now.
ensure_admin_token() {
  if [ -n "${CREW_ADMIN_TOKEN:-}" ] || [ -s "$TOKEN_FILE" ]; then return; fi
  (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$TOKEN_FILE")
  echo new
}

# One build of just the stack's projects (no tests), through a solution filter.
build() {
  if [ "${RUN_LOCAL_NO_BUILD:-0}" = 1 ]; then log "RUN_LOCAL_NO_BUILD=1: not building"; return; fi
  local name projects=()
  for name in "${!FOLDER[@]}"; do projects+=("\"${FOLDER[$name]}/$(assembly "$name").csproj\""); done
  printf '{"solution":{"path":"../CrewPlatform.sln","projects":[%s]}}\n' "$(IFS=,; echo "${projects[*]}")" >"$ROOT/.run-local/stack.slnf"
  log "building (Release)"
  dotnet build "$ROOT/.run-local/stack.slnf" -c Release -nologo -v quiet
}

start() {
  local name="$1" pid url dll out="$ROOT/${FOLDER[$(service_of "$1")]}/bin/Release/net10.0"
  dll="$(assembly "$name").dll"
  if pid="$(running_pid "$name")"; then log "$name already running (pid $pid)"; return; fi
  url="$(url_of "$name")"
  if port_taken "$url"; then log "cannot start $name: $url is already taken by another process"; return 1; fi
  [ -f "$out/$dll" ] || { log "missing $out/$dll: build first"; return 1; }
  (
    if [ "$(service_of "$name")" = gateway ]; then
      # Every instance of each backend, unless your environment names them (then the file's value is skipped too).
      for backend in "${BACKENDS[@]}"; do
        key="GATEWAY_$(printf '%s' "$backend" | tr 'a-z-' 'A-Z_')_URL"
        if [ -z "${!key:-}" ] && [ "$(replicas_of "$backend")" -gt 1 ]; then
          instances="$(url_of "$backend")"
          for k in $(seq 2 "$(replicas_of "$backend")"); do instances+=",$(url_of "$backend-$k")"; done
          export "$key=$instances"
        fi
      done
    fi
    if [ "$(service_of "$name")" != gateway ]; then
      unset CREW_ADMIN_TOKEN CREW_API_KEYS # only the gateway gets the keys, even from your environment
    fi
    # The env file line by line rather than sourced: values such as a connection string contain ';' and spaces.
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in '' | '#'*) continue ;; esac
      key="${line%%=*}"
      if [ "$key" = ASPNETCORE_URLS ] || [ -z "${!key:-}" ]; then export "$line"; fi
    done <"$ENV_DIR/$(service_of "$name").env"
    if [ "$(service_of "$name")" = gateway ]; then
      export CREW_ADMIN_TOKEN="${CREW_ADMIN_TOKEN:-$(cat "$TOKEN_FILE")}"
      if [ -z "${CREW_GATEWAY_KEYS_DIRECTORY:-}" ]; then
        export CREW_GATEWAY_KEYS_DIRECTORY="$ROOT/.run-local/gateway-keys" && mkdir -p "$CREW_GATEWAY_KEYS_DIRECTORY"
      fi
      if [[ $name =~ -([0-9]+)$ ]]; then
        management="${GATEWAY_MANAGEMENT_URLS%%;*}" && management="${management%/}"
        export GATEWAY_MANAGEMENT_URLS="${management%:*}:$((${management##*:} + 100 * (BASH_REMATCH[1] - 1)))"
      fi
    fi
    cd "$out" # the content root, where the service's appsettings.json is
    # exec, twice over: the PID recorded below is the service's own dotnet process.
    export ASPNETCORE_URLS="$url"
    exec nohup dotnet "$dll" --urls "$url" </dev/null >"$LOG_DIR/$name.log" 2>&1
  ) &
  echo $! >"$PID_DIR/$name.pid"
  log "started $name (pid $!, $url, log .run-local/logs/$name.log)"
}

# Waits for a URL to answer with an HTTP status matching the pattern; fails as soon as a started process has
# died, showing the end of its log.
wait_ready() { # wait_ready <what> <url> <status pattern>
  local deadline=$((SECONDS + READY_TIMEOUT)) code name
  while code="$(http_code "$2")"; [[ $code != $3 ]]; do
    for name in "${SERVICES[@]}"; do
      # Gone, not merely still starting (until its exec the PID is this script's subshell, not the service's dotnet).
      if [ -f "$PID_DIR/$name.pid" ] && ! kill -0 "$(cat "$PID_DIR/$name.pid")" 2>/dev/null; then
        log "$name exited; last lines of .run-local/logs/$name.log:"
        tail -n 20 "$LOG_DIR/$name.log" >&2 || true
        log "scripts/run-local.sh down stops the processes that did start"
        return 1
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${READY_TIMEOUT}s waiting for $1 ($2 answered ${code:-nothing})"
      return 1
    fi
    sleep 1
  done
}

# deploy/prometheus/prometheus.yml with the compose host names turned into this machine's ports.
monitoring_up() {
  local dir="$ROOT/.run-local/prometheus" name pid management edits=(-e 's/rabbitmq:15692/127.0.0.1:15692/' -e 's/alertmanager:9093/127.0.0.1:9093/')
  command -v prometheus >/dev/null || { log "RUN_LOCAL_MONITORING=1 needs Debian's prometheus package"; return 1; }
  if pid="$(cat "$PID_DIR/prometheus.pid" 2>/dev/null)" && grep -qa prometheus "/proc/$pid/cmdline" 2>/dev/null; then return; fi
  if port_taken http://127.0.0.1:9090; then log "not starting prometheus: 127.0.0.1:9090 is taken (the package's own service?)"; return; fi
  mkdir -p "$dir"
  for name in scheduler crew-caller response-store webhooks; do edits+=(-e "s|$name:8080|$(url_of "$name" | sed 's|^http://||')|"); done
  # The gateway's /metrics is on its (first) management address, as start gives it: your environment's, else the file's.
  management="${GATEWAY_MANAGEMENT_URLS:-$(file_value gateway GATEWAY_MANAGEMENT_URLS)}"
  management="${management%%;*}" && management="${management#http://}" && edits+=(-e "s|gateway:9464|${management%/}|")
  sed "${edits[@]}" deploy/prometheus/prometheus.yml >"$dir/prometheus.yml"
  cp deploy/prometheus/alerts.yml "$dir/"
  nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" --web.listen-address=127.0.0.1:9090 \
    </dev/null >"$LOG_DIR/prometheus.log" 2>&1 &
  echo $! >"$PID_DIR/prometheus.pid"
  log "started prometheus (pid $!, http://127.0.0.1:9090, log .run-local/logs/prometheus.log)"
}

up() {
  local started=$SECONDS name gateway token_state
  mkdir -p "$LOG_DIR" "$PID_DIR"
  for name in "${SERVICES[@]}"; do running_pid "$name" >/dev/null || rm -f "$PID_DIR/$name.pid"; done # forget ended ones
  scripts/infra.sh up
  token_state="$(ensure_admin_token)"
  build
  for name in "${SERVICES[@]}"; do
    if [ "$name" = fake-crew-api ] && [ -n "${CREW_API_URL:-}" ]; then
      log "CREW_API_URL is set ($CREW_API_URL): not starting the fake crew API"
    else
      start "$name"
    fi
  done

  if [ -z "${CREW_API_URL:-}" ]; then wait_ready "the fake crew API" "$(url_of fake-crew-api)/stats" '[1-9][0-9][0-9]'; fi
  for name in "${SERVICES[@]}"; do [[ $name = fake-crew-api || $name = gateway ]] || wait_ready "$name" "$(url_of "$name")/health/ready" 200; done
  gateway="$(url_of gateway)"
  wait_ready "the gateway (its health checks of Scheduler, ResponseStore and Webhooks)" "$gateway/health/ready" 200
  if [ "${RUN_LOCAL_MONITORING:-0}" = 1 ]; then monitoring_up; fi

  cat <<INFO

CrewPlatform is up: ready $((SECONDS - started)) s after \`up\`.
  gateway        $gateway          (every /api/* call needs the admin token)
  API reference  $gateway/docs
  RabbitMQ UI    http://127.0.0.1:15672  (guest/guest, from this machine only)
  logs           .run-local/logs/      stop: scripts/run-local.sh down
INFO
  if [ -n "${CREW_ADMIN_TOKEN:-}" ]; then
    echo "  token          CREW_ADMIN_TOKEN from your environment"
  elif [ "$token_state" = new ]; then
    cat <<INFO
  token          $(cat "$TOKEN_FILE")
                 generated now and shown this once; kept in .run-local/admin-token for the next \`up\`
  try            curl -H "Authorization: Bearer \$(cat .run-local/admin-token)" $gateway/api/scheduler
INFO
  else
    echo "  token          in .run-local/admin-token: curl -H \"Authorization: Bearer \$(cat .run-local/admin-token)\" $gateway/api/scheduler"
  fi
}

down() {
  local name pid stopped=0
  for name in "${SERVICES[@]}"; do
    if pid="$(running_pid "$name")"; then
      kill -TERM "$pid" 2>/dev/null || true
      if ! timeout 20 tail -s 0.5 --pid="$pid" -f /dev/null; then # waits up to 20 s for it to exit
        log "$name (pid $pid) did not stop in 20 s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      log "stopped $name (pid $pid)"
      stopped=$((stopped + 1))
    fi
    rm -f "$PID_DIR/$name.pid"
  done
  if pid="$(cat "$PID_DIR/prometheus.pid" 2>/dev/null)" && grep -qa prometheus "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" && log "stopped prometheus (pid $pid)"
  fi
  rm -f "$PID_DIR/prometheus.pid"
  log "$stopped process(es) stopped; RabbitMQ and PostgreSQL keep running (scripts/infra.sh down stops them)"
}

status() {
  local name pid url probe rc=0
  for name in "${SERVICES[@]}"; do
    url="$(url_of "$name")"
    if pid="$(running_pid "$name")"; then
      probe="$url/health/ready"
      [ "$name" = fake-crew-api ] && probe="$url/stats"
      printf '%-15s running  pid %-7s %-24s %s -> %s\n' "$name" "$pid" "$url" "${probe#"$url"}" "$(http_code "$probe")"
    else
      printf '%-15s not running\n' "$name"
      [ "$name" = fake-crew-api ] || rc=1 # the fake is not started when CREW_API_URL points elsewhere
    fi
  done
  return $rc
}

case "${1:-}" in
  up | down | status) "$1" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs docker-compose.yml, unchanged, under a real Docker engine and checks what a first `docker compose up --build`
# promises, through the published ports only:
#   - every image builds or exists, the one-shot provisioning containers finish, every health check passes;
#   - the gateway's /health/ready answers 200 and a run-now over the demo users stores one answer per eligible user;
#   - the RabbitMQ UI on 127.0.0.1:15672 lets the administrator in; Prometheus scrapes every service, all up;
#   - `down` then `up` keeps every answer, run and schedule (the named volumes);
#   - a service whose process is killed (kill -9 of its PID) is brought back by `restart: unless-stopped`, and a run
#     still completes.
# It prints one line per check and, last, `compose-check: passed (...)` or `compose-check: FAILED (...)`.
#
# Needs root. Starts `dockerd` when no engine answers (installing Debian's docker.io and docker-compose when missing)
# and stops it again at the end; the stack is taken down with its volumes whatever happens. The images are cached in
# the engine between runs. An image the file names that the engine does not have and cannot pull is built locally as
# a stand-in under the same name:tag, from tests/Compose/stand-ins (a Debian bookworm base made by debootstrap and
# Debian's packages; the .NET images from this machine's own dotnet). A stand-in is labelled, and rebuilt when its
# recipe changes; an image that is really there is used as it is.
#   COMPOSE_CHECK_TIMEOUT   seconds allowed for each wait (default 600: the first build restores and compiles all)
# Exit codes: 0 passed, 1 a check failed, 2 no Docker engine can be started here (nothing was checked).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

PROJECT=crewplatform-compose-check
STAND_INS="$ROOT/tests/Compose/stand-ins"
BASE_IMAGE=crewplatform-stand-in/debian:bookworm
STAND_IN_LABEL=org.crewplatform.stand-in
CACHE_DIR=/var/cache/crewplatform-compose-check
TIMEOUT="${COMPOSE_CHECK_TIMEOUT:-600}"
GATEWAY=http://127.0.0.1:8080
started=$SECONDS

log() { printf '[compose-check] %s\n' "$*" >&2; }
ok() { printf 'compose-check: ok   %s\n' "$*"; }
summary() { printf 'compose-check: %s (%ss)\n' "$1" "$((SECONDS - started))"; }

wait_until() { # wait_until <description> <command...>: polls once a second up to TIMEOUT
  local what="$1"; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then fail "timed out after ${TIMEOUT}s waiting for $what"; fi
    sleep 1
  done
}

# ---------- the engine ----------
DOCKERD_PID=""
apt_install() {
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

engine_up() {
  if [ "$(id -u)" -ne 0 ]; then log "needs root (to start dockerd and build images)"; return 1; fi
  command -v dockerd >/dev/null || apt_install docker.io || return 1
  command -v docker-compose >/dev/null || apt_install docker-compose || return 1
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd (log $CACHE_DIR/dockerd.log)"
  mkdir -p "$CACHE_DIR"
  dockerd >"$CACHE_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 5 "$CACHE_DIR/dockerd.log" >&2; DOCKERD_PID=""; return 1
    fi
    sleep 1
  done
}

engine_down() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || return 0; sleep 1; done
  kill -9 "$DOCKERD_PID" 2>/dev/null || true
}

# ---------- the images ----------
# The recipe's fingerprint: its files, and for the .NET stand-ins the dotnet they copy.
stand_in_hash() { # stand_in_hash <stand-in folder>
  { tar -C "$STAND_INS/$1" -c --sort=name --mtime=@0 --owner=0 --group=0 . ; [[ "$1" != dotnet-* ]] || dotnet --info; [ "$1" != dotnet-sdk ] || cat /usr/local/share/ca-certificates/* 2>/dev/null || true; } \
    | sha256sum | cut -c1-16
}

base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return
  command -v debootstrap >/dev/null || apt_install debootstrap
  local rootfs="$CACHE_DIR/rootfs"
  log "making $BASE_IMAGE with debootstrap (Debian bookworm, minbase)"
  rm -rf "$rootfs"; mkdir -p "$CACHE_DIR"
  debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,zlib1g,tzdata bookworm "$rootfs" \
    http://deb.debian.org/debian >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 5 "$CACHE_DIR/debootstrap.log" >&2; return 1; }
  # As in Debian's own images: a package's install starts no service, and pulls in no recommended package.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"; chmod +x "$rootfs/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90stand-in"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

stand_in_for() { # stand_in_for <image>: the stand-in folder that builds it
  case "$1" in
    postgres:15) echo postgres ;;
    rabbitmq:3-management) echo rabbitmq ;;
    curlimages/curl:*) echo curl ;;
    prom/prometheus:*) echo prometheus ;;
    prom/alertmanager:*) echo alertmanager ;;
    mcr.microsoft.com/dotnet/sdk:10.0) echo dotnet-sdk ;;
    mcr.microsoft.com/dotnet/aspnet:10.0) echo dotnet-aspnet ;;
    *) return 1 ;;
  esac
}

ensure_image() { # ensure_image <image>
  local image="$1" dir hash label dotnet_root
  if ! dir="$(stand_in_for "$image")"; then
    docker image inspect "$image" >/dev/null 2>&1 && return
    fail "the engine has no $image and there is no stand-in for it in tests/Compose/stand-ins"
  fi
  hash="$(stand_in_hash "$dir")"
  if label="$(docker image inspect -f "{{ index .Config.Labels \"$STAND_IN_LABEL\" }}" "$image" 2>/dev/null)"; then
    # A real image (no label), or a stand-in from this very recipe.
    if [ -z "$label" ] || [ "$label" = "<no value>" ] || [ "$label" = "$hash" ]; then return; fi
  fi
  base_image || fail "could not make the stand-ins' base image $BASE_IMAGE"
  log "building a stand-in for $image (tests/Compose/stand-ins/$dir)"
  local build=(docker build -q --label "$STAND_IN_LABEL=$hash" -t "$image")
  [[ "$dir" != dotnet-* ]] || dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  case "$dir" in
    dotnet-sdk)
      mkdir -p /usr/local/share/ca-certificates
      tar -c -C "$STAND_INS/$dir" Dockerfile -C /usr/local/share ca-certificates \
          -C "$dotnet_root" --transform 's,^\.,dotnet,' . \
        | "${build[@]}" --build-arg "NUGET_CERT_REVOCATION_MODE=${NUGET_CERT_REVOCATION_MODE:-online}" - >/dev/null ;;
    dotnet-aspnet)
      tar -c -C "$STAND_INS/$dir" Dockerfile -C "$dotnet_root" --transform 's,^\(dotnet\|host\|shared\),dotnet/\1,' \
          dotnet host shared/Microsoft.NETCore.App shared/Microsoft.AspNetCore.App \
        | "${build[@]}" - >/dev/null ;;
    *) "${build[@]}" "$STAND_INS/$dir" >/dev/null ;;
  esac || fail "building the stand-in for $image failed"
}

# ---------- the stack ----------
ENV_FILE=""
COMPOSE=()
compose() { "${COMPOSE[@]}" "$@"; }

write_env() { # every secret .env.example lists, random, as a user following it would
  ENV_FILE="$(mktemp)"
  COMPOSE=(docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f "$ROOT/docker-compose.yml")
  local name
  for name in $(sed -n 's/^\([A-Z_]*\)=$/\1/p' .env.example); do echo "$name=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done >"$ENV_FILE"
  ADMIN_TOKEN="$(sed -n 's/^CREW_ADMIN_TOKEN=//p' "$ENV_FILE")"
  RABBITMQ_ADMIN_PASSWORD="$(sed -n 's/^RABBITMQ_ADMIN_PASSWORD=//p' "$ENV_FILE")"
}

FAILED=""
fail() {
  log "FAILED: $*"
  if [ -n "$ENV_FILE" ] && docker info >/dev/null 2>&1; then
    compose ps >&2 || true
    compose logs --no-color --tail 40 >&2 || true
  fi
  FAILED="$*"
  exit 1
}

cleanup() {
  local rc=$?
  trap - EXIT
  if [ -n "$ENV_FILE" ]; then
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -f "$ENV_FILE"
    # The images a rebuild replaced; the current ones and their build cache stay for the next run.
    docker image prune -f >/dev/null 2>&1 || true
  fi
  engine_down
  if [ "$rc" -eq 0 ]; then summary "passed"
  elif [ "$rc" -eq 2 ]; then summary "skipped, no Docker engine can be started here"
  else summary "FAILED: ${FAILED:-exit code $rc}"; fi
  exit "$rc"
}

api() { # api <method> <path> [json body]: the body of a 2xx answer on stdout
  local args=(-fsS -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" "$GATEWAY$2")
  [ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}

ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY/health/ready")" = 200 ]; }

run_completed() { [ "$(api GET "/api/scheduler/runs/$1" | jq -r .data.status)" = completed ]; }

# Starts a run-now over every user, waits for it, and checks it stored exactly one answer per eligible demo user.
run_now_stores_one_answer_per_eligible_user() { # <label>
  local run_id answers expected
  run_id="$(api POST /api/scheduler '{"action":"run-now"}' | jq -r .data.runId)"
  [ -n "$run_id" ] && [ "$run_id" != null ] || fail "run-now did not answer a run id"
  wait_until "run $run_id to complete" run_completed "$run_id"
  expected="$(compose exec -T postgres psql -U postgres -d crewplatform -tAc \
    "SELECT string_agg(uid, ',' ORDER BY uid) FROM users WHERE coalesce(trim(context), '') <> '' OR coalesce(trim(goal), '') <> ''")"
  answers="$(compose exec -T postgres psql -U postgres -d crewplatform -tAc \
    "SELECT string_agg(user_uid, ',' ORDER BY user_uid) FROM public.crew_responses WHERE run_id = '$run_id'")"
  [ -n "$expected" ] || fail "no eligible demo user in the users table"
  [ "$answers" = "$expected" ] || fail "$1: run $run_id stored answers for [$answers], expected one for each of [$expected]"
  ok "$1: run-now completed, one answer for each eligible user ($expected)"
}

counts() { # answers, runs and schedules, as the API gives them
  printf '%s answers, %s runs, %s schedules' \
    "$(api GET '/api/crew-responses?limit=1000' | jq '.data | length')" \
    "$(api GET '/api/scheduler/runs' | jq '.data | length')" \
    "$(api GET /api/scheduler/schedules | jq '.data | length')"
}

main() {
  trap cleanup EXIT
  engine_up || exit 2
  write_env
  local port
  for port in 8080 15672 9090 9093; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "127.0.0.1:$port, which the stack publishes, is taken on this machine"; fi
  done
  compose down -v --remove-orphans >/dev/null 2>&1 || true

  local image
  # The images of the services `up` starts (none of a profile), and the ones deploy/Dockerfile builds from.
  for image in $(compose config | /usr/bin/python3 -c 'import sys, yaml
for s in yaml.safe_load(sys.stdin)["services"].values():
    if "image" in s and not s.get("profiles"): print(s["image"])' | sort -u) \
               $(sed -n 's/^FROM \([^ ]*\).*/\1/p' deploy/Dockerfile | sort -u); do
    ensure_image "$image"
  done
  ok "every image the stack needs is here ($(( SECONDS - started ))s)"

  log "docker-compose up --build (the first build restores and compiles every service)"
  timeout "$TIMEOUT" "${COMPOSE[@]}" up -d --build >&2 \
    || fail "docker-compose up failed"
  wait_until "the gateway's /health/ready to answer 200" ready
  ok "up: provisioning finished, every health check passed, /health/ready 200 ($(( SECONDS - started ))s)"

  run_now_stores_one_answer_per_eligible_user "first run"

  [ "$(curl -fsS -u "admin:$RABBITMQ_ADMIN_PASSWORD" http://127.0.0.1:15672/api/whoami | jq -r .name)" = admin ] \
    || fail "the RabbitMQ UI on 127.0.0.1:15672 does not let admin in"
  ok "RabbitMQ UI on 127.0.0.1:15672 lets admin in"

  local jobs
  jobs="$(sed -n 's/^ *- job_name: *//p' deploy/prometheus/prometheus.yml | sort | tr '\n' ' ')"
  prometheus_all_up() {
    curl -fsS http://127.0.0.1:9090/api/v1/targets \
      | jq -e --arg jobs "$jobs" '[.data.activeTargets[] | select(.health == "up") | .labels.job] | unique | join(" ") + " " == $jobs'
  }
  wait_until "Prometheus to scrape every target ($jobs) up" prometheus_all_up
  ok "Prometheus on 127.0.0.1:9090 scrapes every target up: $jobs"

  local schedule_id before after
  schedule_id="$(api POST /api/scheduler/schedules '{"name":"compose-check","intervalMinutes":1440}' | jq -r .data.id)"
  api POST "/api/scheduler/schedules/$schedule_id/pause" >/dev/null || fail "could not pause schedule $schedule_id"
  before="$(counts)"
  compose down >&2 || fail "docker-compose down failed"
  timeout "$TIMEOUT" "${COMPOSE[@]}" up -d >&2 \
    || fail "docker-compose up after down failed"
  wait_until "the gateway's /health/ready after down and up" ready
  after="$(counts)"
  [ "$before" = "$after" ] || fail "down then up: before $before, after $after"
  ok "down then up keeps everything: $after"

  local container pid restarts
  container="$(compose ps -q crew-caller | head -n 1)"
  pid="$(docker inspect -f '{{.State.Pid}}' "$container")"
  restarts="$(docker inspect -f '{{.RestartCount}}' "$container")"
  kill -9 "$pid"
  restarted() { [ "$(docker inspect -f '{{.RestartCount}} {{.State.Health.Status}}' "$container")" = "$((restarts + 1)) healthy" ]; }
  wait_until "crew-caller to be restarted and healthy after kill -9 of its process $pid" restarted
  ok "crew-caller's process killed (kill -9 $pid): restarted by its restart policy, healthy again"
  run_now_stores_one_answer_per_eligible_user "after the kill"
}

main "$@"

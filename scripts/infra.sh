#!/usr/bin/env bash
# Installs (when missing) and starts RabbitMQ and PostgreSQL on this machine, without systemd or Docker.
#   scripts/infra.sh up      install what is missing, start both, wait until they answer, create the admin role
#                            crew and the database crewplatform, the host's users table (and demo users) when absent,
#                            then each service's own role and RabbitMQ user (deploy/postgres/provision.sh,
#                            deploy/rabbitmq/provision.sh: the same provisioning as docker-compose.yml)
#   scripts/infra.sh down    stop both
#   scripts/infra.sh status  say whether each answers
# Idempotent: running `up` twice is harmless. Needs root (or sudo) for the install and to start the servers.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
DB_NAME="crewplatform"
DB_USER="crew"
DB_PASSWORD="crew"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# Each service's PostgreSQL role and RabbitMQ user, as deploy/env/<service>.env names them. Locally a password is its
# user name; the services refuse such a password in Production.
export SCHEDULER_DB_PASSWORD=scheduler CREW_CALLER_DB_PASSWORD=crew_caller RESPONSE_STORE_DB_PASSWORD=response_store WEBHOOKS_DB_PASSWORD=webhooks
export SCHEDULER_RABBITMQ_PASSWORD=scheduler CREW_CALLER_RABBITMQ_PASSWORD=crew-caller RESPONSE_STORE_RABBITMQ_PASSWORD=response-store WEBHOOKS_RABBITMQ_PASSWORD=webhooks

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

log() { printf '[infra] %s\n' "$*" >&2; }

wait_for() { # wait_for <seconds> <description> <command...>
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "timed out after ${seconds}s waiting for $what"; return 1; fi
    sleep 1
  done
}

apt_install() {
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq "$@" >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "$@" >/dev/null
  fi
}

# ---------- PostgreSQL ----------
pg_installed() { [ -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]; }
pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q; }

pg_up() {
  pg_installed || apt_install "postgresql-$PG_VERSION" postgresql-client
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_VERSION $PG_CLUSTER"; then
    $SUDO pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null
  fi
  if ! pg_ready; then
    log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
    $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start || true
  fi
  wait_for 60 "PostgreSQL" pg_ready
  # The local admin role and the database; CREATEDB and CREATEROLE let the tests make a database and roles of their own.
  as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB CREATEROLE PASSWORD '$DB_PASSWORD';
  ELSE
    ALTER ROLE $DB_USER LOGIN CREATEDB CREATEROLE PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;
SQL
  if ! as_postgres psql -tAq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    as_postgres createdb -O "$DB_USER" "$DB_NAME"
  fi
  wait_for 30 "a password login as $DB_USER" env PGPASSWORD="$DB_PASSWORD" psql -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME" -tAqc "SELECT 1"
  ensure_users_table
  PGHOST=127.0.0.1 PGPORT=5432 PGUSER="$DB_USER" PGPASSWORD="$DB_PASSWORD" PGDATABASE="$DB_NAME" "$ROOT/deploy/postgres/provision.sh"
  log "PostgreSQL ready on 127.0.0.1:5432 (database $DB_NAME; admin $DB_USER, services scheduler, crew_caller, response_store, webhooks)"
}

# The host application's table, which the services' roles are granted: created, with demo users, only when absent.
ensure_users_table() {
  local psql=(env PGPASSWORD="$DB_PASSWORD" psql -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 -qtA) sql
  if [ "$("${psql[@]}" -c "SELECT to_regclass('public.users') IS NOT NULL")" = t ]; then return; fi
  log "creating the users table and demo users (deploy/postgres/init)"
  for sql in "$ROOT"/deploy/postgres/init/*.sql; do "${psql[@]}" -f "$sql" >/dev/null; done
}

pg_down() {
  if pg_installed && pg_ready; then $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast || true; fi
}

# ---------- RabbitMQ ----------
rabbit_installed() { [ -x /usr/sbin/rabbitmq-server ]; }
rabbit_ping() { $SUDO rabbitmq-diagnostics -q ping; }
rabbit_mgmt() { curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview; }

rabbit_up() {
  if ! rabbit_installed; then
    apt_install rabbitmq-server
    # The Debian package starts the node through systemd where there is one; stop it so we own it below.
    $SUDO rabbitmqctl shutdown >/dev/null 2>&1 || true
  fi
  command -v curl >/dev/null || apt_install curl
  # rabbitmq_prometheus: queue depths for Prometheus on :15692 (/metrics/per-object per queue).
  $SUDO rabbitmq-plugins enable --offline rabbitmq_management rabbitmq_prometheus >/dev/null
  # A crew call may take up to CREW_MAX_ATTEMPTS x 10 minutes; RabbitMQ's default 30-minute consumer_timeout
  # would close the channel under a message still being worked on. Takes effect when the node (re)starts.
  if ! grep -qs '^consumer_timeout' /etc/rabbitmq/rabbitmq.conf; then
    echo 'consumer_timeout = 7200000' | $SUDO tee -a /etc/rabbitmq/rabbitmq.conf >/dev/null
  fi
  if ! rabbit_ping >/dev/null 2>&1; then
    log "starting RabbitMQ"
    $SUDO /usr/sbin/rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  # `await_startup` exits at once while the node is not yet registered, so ping first.
  wait_for 120 "RabbitMQ node" rabbit_ping
  $SUDO rabbitmqctl await_startup --timeout 120 >/dev/null
  wait_for 60 "RabbitMQ management API" rabbit_mgmt
  RABBITMQ_ADMIN_USER=guest RABBITMQ_ADMIN_PASSWORD=guest "$ROOT/deploy/rabbitmq/provision.sh"
  # A node started before the plugin was enabled offline loads it now, without a restart.
  $SUDO rabbitmq-plugins enable rabbitmq_prometheus >/dev/null || log "could not enable rabbitmq_prometheus: no queue metrics"
  log "RabbitMQ ready on 127.0.0.1:5672 (vhost crewplatform; management UI http://127.0.0.1:15672, guest/guest from this machine only; metrics :15692)"
}

rabbit_down() {
  if rabbit_installed; then
    $SUDO rabbitmqctl shutdown >/dev/null 2>&1 || true
    $SUDO epmd -kill >/dev/null 2>&1 || true
  fi
}

status() {
  local rc=0
  if pg_installed && pg_ready; then echo "postgresql: up (127.0.0.1:5432)"; else echo "postgresql: down"; rc=1; fi
  if rabbit_installed && rabbit_ping >/dev/null 2>&1; then echo "rabbitmq: up (127.0.0.1:5672, ui :15672)"; else echo "rabbitmq: down"; rc=1; fi
  return $rc
}

# tests/Dashboard.Tests drives the dashboard in Debian's headless Chromium through its chromedriver.
browser_up() {
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || apt_install chromium chromium-driver
}

case "${1:-}" in
  up) pg_up; rabbit_up; browser_up ;;
  down) rabbit_down; pg_down; log "stopped" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

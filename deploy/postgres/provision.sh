#!/usr/bin/env bash
# Creates or updates CrewPlatform's PostgreSQL roles in one database: deploy/postgres/provision.sql says what each
# service may do. The one provisioning of the database, run by docker-compose.yml (the postgres-provision container),
# scripts/infra.sh (local runs) and tests/Deploy.Tests.
#   connection (libpq)  PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE: the database's owner with CREATEROLE, or a superuser
#   passwords           SCHEDULER_DB_PASSWORD, CREW_CALLER_DB_PASSWORD, RESPONSE_STORE_DB_PASSWORD (required)
#   role names          SCHEDULER_DB_USER, CREW_CALLER_DB_USER, RESPONSE_STORE_DB_USER (default scheduler, crew_caller,
#                       response_store)
# Waits up to 60 s for the server. Idempotent: run again, it sets the passwords again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

for _ in $(seq 60); do pg_isready -q && break; sleep 1; done

psql -X -q -v ON_ERROR_STOP=1 \
  -v scheduler_role="${SCHEDULER_DB_USER:-scheduler}" \
  -v scheduler_password="${SCHEDULER_DB_PASSWORD:?set SCHEDULER_DB_PASSWORD}" \
  -v crew_caller_role="${CREW_CALLER_DB_USER:-crew_caller}" \
  -v crew_caller_password="${CREW_CALLER_DB_PASSWORD:?set CREW_CALLER_DB_PASSWORD}" \
  -v response_store_role="${RESPONSE_STORE_DB_USER:-response_store}" \
  -v response_store_password="${RESPONSE_STORE_DB_PASSWORD:?set RESPONSE_STORE_DB_PASSWORD}" \
  -v webhooks_role="${WEBHOOKS_DB_USER:-webhooks}" \
  -v webhooks_password="${WEBHOOKS_DB_PASSWORD:?set WEBHOOKS_DB_PASSWORD}" \
  -f "$here/provision.sql"
echo "[provision] PostgreSQL roles ${SCHEDULER_DB_USER:-scheduler}, ${CREW_CALLER_DB_USER:-crew_caller}, ${RESPONSE_STORE_DB_USER:-response_store}, ${WEBHOOKS_DB_USER:-webhooks} ready in database ${PGDATABASE:-?}" >&2

#!/bin/sh
# Creates or updates CrewPlatform's RabbitMQ virtual host and one user per service, each with rights on that virtual
# host alone and no management access, through the management HTTP API. The one provisioning of the broker, run by
# docker-compose.yml (the rabbitmq-provision container), scripts/infra.sh (local runs) and tests/Deploy.Tests.
#   RABBITMQ_MANAGEMENT_URL                         default http://127.0.0.1:15672
#   RABBITMQ_ADMIN_USER, RABBITMQ_ADMIN_PASSWORD    an administrator of the broker (required)
#   CREW_RABBITMQ_VHOST                             default crewplatform
#   SCHEDULER_RABBITMQ_PASSWORD, CREW_CALLER_RABBITMQ_PASSWORD, RESPONSE_STORE_RABBITMQ_PASSWORD, WEBHOOKS_RABBITMQ_PASSWORD (required)
#   SCHEDULER_RABBITMQ_USER, CREW_CALLER_RABBITMQ_USER, RESPONSE_STORE_RABBITMQ_USER, WEBHOOKS_RABBITMQ_USER
#                                                   default scheduler, crew-caller, response-store, webhooks
# POSIX sh and curl only (the compose container is curlimages/curl). Waits up to 60 s for the API. Idempotent: run
# again, it sets the passwords again and takes away any right a user has on another virtual host.
set -eu

api="${RABBITMQ_MANAGEMENT_URL:-http://127.0.0.1:15672}/api"
admin="${RABBITMQ_ADMIN_USER:?set RABBITMQ_ADMIN_USER}:${RABBITMQ_ADMIN_PASSWORD:?set RABBITMQ_ADMIN_PASSWORD}"
vhost="${CREW_RABBITMQ_VHOST:-crewplatform}"

call() { # call <method> <path> [json body on stdin]
  curl -fsS -u "$admin" -H 'content-type: application/json' -X "$1" --data-binary @- "$api/$2" >/dev/null
}
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
encoded() { printf '%s' "$1" | sed 's|%|%25|g; s|/|%2F|g'; }

i=0
until curl -fsS -o /dev/null -u "$admin" "$api/overview"; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then echo "[provision] the RabbitMQ management API at $api does not let $RABBITMQ_ADMIN_USER in" >&2; exit 1; fi
  sleep 1
done

call PUT "vhosts/$(encoded "$vhost")" <<JSON
{}
JSON

provision_user() { # provision_user <user> <password>
  call PUT "users/$(encoded "$1")" <<JSON
{"password": $(json_string "$2"), "tags": ""}
JSON
  call PUT "permissions/$(encoded "$vhost")/$(encoded "$1")" <<JSON
{"configure": ".*", "write": ".*", "read": ".*"}
JSON
  for other in $(curl -fsS -u "$admin" "$api/users/$(encoded "$1")/permissions" | grep -o '"vhost":"[^"]*"' | cut -d'"' -f4); do
    [ "$other" = "$vhost" ] || call DELETE "permissions/$(encoded "$other")/$(encoded "$1")" </dev/null
  done
}

provision_user "${SCHEDULER_RABBITMQ_USER:-scheduler}" "${SCHEDULER_RABBITMQ_PASSWORD:?set SCHEDULER_RABBITMQ_PASSWORD}"
provision_user "${CREW_CALLER_RABBITMQ_USER:-crew-caller}" "${CREW_CALLER_RABBITMQ_PASSWORD:?set CREW_CALLER_RABBITMQ_PASSWORD}"
provision_user "${RESPONSE_STORE_RABBITMQ_USER:-response-store}" "${RESPONSE_STORE_RABBITMQ_PASSWORD:?set RESPONSE_STORE_RABBITMQ_PASSWORD}"
provision_user "${WEBHOOKS_RABBITMQ_USER:-webhooks}" "${WEBHOOKS_RABBITMQ_PASSWORD:?set WEBHOOKS_RABBITMQ_PASSWORD}"
echo "[provision] RabbitMQ virtual host $vhost ready for ${SCHEDULER_RABBITMQ_USER:-scheduler}, ${CREW_CALLER_RABBITMQ_USER:-crew-caller}, ${RESPONSE_STORE_RABBITMQ_USER:-response-store}, ${WEBHOOKS_RABBITMQ_USER:-webhooks}" >&2

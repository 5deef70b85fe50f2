#!/bin/bash
# Writes RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS as the administrator a new data directory starts with, then
# runs the server as the rabbitmq user.
set -euo pipefail
if [ "${1:-}" != rabbitmq-server ]; then exec "$@"; fi
if [ -n "${RABBITMQ_DEFAULT_USER:-}" ] || [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then
  printf 'default_user = %s\ndefault_pass = %s\ndefault_user_tags.administrator = true\n' \
    "${RABBITMQ_DEFAULT_USER:-guest}" "${RABBITMQ_DEFAULT_PASS:-guest}" > /etc/rabbitmq/conf.d/20-default-user.conf
fi
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec runuser -u rabbitmq -- /usr/lib/rabbitmq/bin/rabbitmq-server

#!/usr/bin/env bash
# Runs every test of the platform against real RabbitMQ and PostgreSQL servers.
#   scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~ResponseStore]
# Starts the servers first (scripts/infra.sh up). The last line printed is `tests: N passed, N failed`,
# counted from the TRX result files; the exit code is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results="TestResults"
rm -rf "$results"
mkdir -p "$results"

# docker-compose.yml under a real Docker engine (scripts/compose-check.sh), first: the stack publishes ports the local
# servers use (15672), so those are stopped for it, and its engine and containers are gone before the tests start.
# Its `compose-check: ...` lines go to TestResults/compose-check.txt, the build and container output to
# compose-check.log. Where no Docker engine can be started it is left out, saying so (a failure where
# COMPOSE_CHECK_REQUIRED=1, as in CI); CREW_COMPOSE_CHECK=0 leaves it out on purpose (say, with a --filter).
compose_check_rc=0
if [ "${CREW_COMPOSE_CHECK:-1}" != 0 ]; then
  scripts/infra.sh down >/dev/null 2>&1 || true
  scripts/compose-check.sh >"$results/compose-check.txt" 2>"$results/compose-check.log"
  compose_check_rc=$?
  cat "$results/compose-check.txt"
  if [ $compose_check_rc -eq 2 ] && [ "${COMPOSE_CHECK_REQUIRED:-0}" != 1 ]; then compose_check_rc=0; fi
  [ $compose_check_rc -eq 0 ] || tail -n 60 "$results/compose-check.log"
fi

scripts/infra.sh up || { echo "tests: 0 passed, 1 failed"; exit 1; }
dotnet build CrewPlatform.sln -c Release -nologo -v quiet
build_rc=$?
if [ $build_rc -ne 0 ]; then
  echo "build failed"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

# The code style of .editorconfig: a file that `dotnet format` would change counts as a failed test (fix it with
# `dotnet format CrewPlatform.sln`).
format_rc=0
if dotnet format CrewPlatform.sln --verify-no-changes --no-restore -v q >"$results/format.log" 2>&1; then
  echo "dotnet format: no changes needed"
else
  grep -o '[^ ]*\.cs([0-9]*,[0-9]*): [a-z]* [A-Z0-9]*: [^[]*' "$results/format.log" | head -n 20
  echo "dotnet format: files differ from .editorconfig (run: dotnet format CrewPlatform.sln)"
  format_rc=1
fi

# The end-to-end tests start the stack with scripts/run-local.sh, which can use the Release build just made.
export RUN_LOCAL_NO_BUILD=1

# Installs a Debian package when its command is missing. Where systemd runs, the prometheus package starts a service
# on :9090; the tests do not use it (tests/Monitoring runs its own prometheus on a free port).
install_missing() {
  command -v "$1" >/dev/null && return
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1; } || true
}

# docker-compose.yml is validated without an engine by Debian's docker-compose (1.29).
compose_rc=0
install_missing docker-compose docker-compose
# It has no default secret: with every secret .env.example lists it must be valid; without them `config` must fail
# naming what to set. Any .env of yours is left out (an empty --env-file), so both checks see the file alone.
secrets=$(sed -n 's/^\([A-Z_]*\)=$/\1/p' .env.example)
no_env=$(mktemp)
with_secrets=(); without_secrets=()
for name in $secrets; do with_secrets+=("$name=ci-placeholder-$name"); without_secrets+=(-u "$name"); done
if env "${with_secrets[@]}" docker-compose --env-file "$no_env" -f docker-compose.yml config -q; then
  echo "docker-compose.yml: valid"
else
  echo "docker-compose.yml: INVALID"; compose_rc=1
fi
if missing=$(env "${without_secrets[@]}" docker-compose --env-file "$no_env" -f docker-compose.yml config -q 2>&1); then
  echo "docker-compose.yml: valid WITHOUT its secrets"; compose_rc=1
elif ! grep -q 'like every secret in .env.example' <<<"$missing"; then
  echo "docker-compose.yml: without its secrets it fails, but not saying what to set: $missing"; compose_rc=1
else
  echo "docker-compose.yml: without its secrets, stops: ${missing##*: }"
fi
rm -f "$no_env"

# The Prometheus configuration and alert rules, with the rules' unit tests, by Debian's prometheus package's promtool
# (its prometheus binary serves tests/Monitoring). A failure counts as a failed test, like the compose check.
prometheus_rc=0
install_missing promtool prometheus
if promtool_out=$(cd deploy/prometheus && promtool check config prometheus.yml && promtool check rules alerts.yml \
    && promtool test rules alerts.test.yml 2>&1); then
  echo "deploy/prometheus: valid, alert rule tests passed"
else
  echo "$promtool_out"
  echo "deploy/prometheus: INVALID or an alert rule test failed"
  prometheus_rc=1
fi

# One project at a time: each writes its own TRX, and two cores are not shared between test hosts. Two exceptions:
# tests/Pace mostly waits (a rate of 30 calls a minute, about 7 minutes) and needs little CPU, so it runs beside the
# others, on ports of its own, its output in TestResults/pace.log; and the fault suite comes last, alone, because it
# stops the real RabbitMQ and PostgreSQL servers every other project uses.
test_rc=0
run_tests() {
  local project=$1 name; shift
  name=$(basename "$project" .csproj)
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" --results-directory "$results" "$@"
}
pace=tests/Pace/CrewPlatform.Pace.Tests.csproj
faults=tests/Faults/CrewPlatform.Faults.csproj
pace_pid=
if [ -f "$pace" ]; then
  echo "== $(basename "$pace" .csproj) (beside the others; output in $results/pace.log)"
  run_tests "$pace" "$@" >"$results/pace.log" 2>&1 &
  pace_pid=$!
fi
for project in $(find tests -name '*.csproj' ! -path '*/CrewPlatform.Testing/*' ! -path "$pace" ! -path "$faults" | sort); do
  echo "== $(basename "$project" .csproj)"
  run_tests "$project" "$@" || test_rc=1
done
if [ -n "$pace_pid" ]; then
  wait "$pace_pid" || test_rc=1
  echo "== $(basename "$pace" .csproj)"
  grep -E '^\s*(Passed|Failed) |Total tests' "$results/pace.log" | tail -n 5
  grep -o 'pace: [^<]*' "$results/CrewPlatform.Pace.Tests.trx" 2>/dev/null
fi
echo "== $(basename "$faults" .csproj)"
run_tests "$faults" "$@" || test_rc=1

# The OpenAPI document each service's test wrote (TestResults/openapi/<service>.json, by OpenApiDocumentCheck), linted
# by Redocly CLI (tools/openapi-lint: its version pinned in package-lock.json, its rules in redocly.yaml: the
# recommended ones). A document with an error, or one an unfiltered run did not write, counts as a failed test.
openapi_rc=0
install_missing npm npm
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
lint() { tools/openapi-lint/node_modules/.bin/redocly lint --config tools/openapi-lint/redocly.yaml "$@" 2>/dev/null; }
if ! (cd tools/openapi-lint && npm ci --no-audit --no-fund --silent >/dev/null 2>&1); then
  echo "openapi: Redocly CLI did not install (npm ci in tools/openapi-lint)"; openapi_rc=1
else
  for service in scheduler crew-responses webhooks; do
    document="$results/openapi/$service.json"
    if [ ! -f "$document" ]; then
      # With a --filter, the test that writes it may not have run.
      [ $# -eq 0 ] && { echo "openapi $service: no document (its test did not write $document)"; openapi_rc=1; }
      continue
    fi
    # Redocly exits non-zero on an error: its totals are read all the same.
    totals=$(lint --format=json "$document" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      const t = JSON.parse(s).totals; console.log(`${t.errors} ${t.warnings}`); })')
    read -r errors warnings <<<"$totals"
    if [ -z "$errors" ]; then
      echo "openapi $service: the lint did not run"; openapi_rc=1
    else
      echo "openapi $service: $errors errors, $warnings warnings"
      [ "$errors" -eq 0 ] || { lint --format=stylish "$document"; openapi_rc=1; }
    fi
  done
fi

# The fault suite (tests/Faults) leaves one line per scenario and a summary line, and one per run of users the crew
# treats badly; the API fuzz (tests/ApiFuzz) one line per service it fuzzed.
[ -f "$results/fault-suite.txt" ] && cat "$results/fault-suite.txt"
[ -f "$results/per-user-failures.txt" ] && cat "$results/per-user-failures.txt"
[ -f "$results/fuzz-summary.txt" ] && cat "$results/fuzz-summary.txt"
[ -f "$results/compose-check.txt" ] && tail -n 1 "$results/compose-check.txt"

passed=0; failed=0; total=0
shopt -s nullglob

# Each failed test's name and the first lines of its message, so the end of the output says what failed.
for trx in "$results"/*.trx; do
  awk '
    /<UnitTestResult / { failedTest = ($0 ~ /outcome="Failed"/); if (failedTest) { name = $0; sub(/.*testName="/, "", name); sub(/".*/, "", name); print "FAILED " name; lines = 0 } }
    failedTest && /<ErrorInfo>/ { inError = 1 }
    failedTest && inError && /<Message>/ { inMessage = 1; inError = 0; sub(/.*<Message>/, "") }
    failedTest && inMessage { done = sub(/<\/Message>.*/, ""); if (lines++ < 6) print "  " $0; if (done) { inMessage = 0; failedTest = 0 } }
  ' "$trx" | sed -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
done
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); total=$((total + ${t:-0}))
done

if [ $test_rc -ne 0 ] && [ $failed -eq 0 ]; then
  # The runner failed without a failed test in any TRX (a crashed test host, say): count it as a failure.
  failed=1
fi
if [ $compose_rc -ne 0 ]; then failed=$((failed + 1)); fi
if [ $prometheus_rc -ne 0 ]; then failed=$((failed + 1)); fi
if [ $openapi_rc -ne 0 ]; then failed=$((failed + 1)); fi
if [ $format_rc -ne 0 ]; then failed=$((failed + 1)); fi
if [ $compose_check_rc -ne 0 ]; then failed=$((failed + 1)); fi
if [ $total -eq 0 ]; then
  echo "no test ran"
  failed=$((failed == 0 ? 1 : failed))
fi

echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ]

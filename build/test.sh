#!/usr/bin/env bash
# Runs every test suite of Approval Studio: the README's test command, and what .ci/run calls.
# Installs what the tests need when it is missing (Debian's PostgreSQL, Redis, chromium, nginx and
# python3-aiosmtpd, a real SMTP server), starts a throwaway
# PostgreSQL cluster on a free loopback port, builds once, runs all test projects, then the
# contract smoke check when ../shared/checks is beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d /tmp/approval-studio-tests.XXXXXX)
chmod 755 "$work"
pg_stop=""
redis_pid=""
cleanup() {
  if [ -n "$pg_stop" ]; then eval "$pg_stop" >/dev/null 2>&1 || true; fi
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" >/dev/null 2>&1 || true
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
# The cluster tests put nginx in front of two app processes.
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
# The SMTP server the email tests send to (each test starts its own on a free port).
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

. "$root/build/postgres.sh"   # start_postgres, free_port

# Tests need no durability: fsync off makes the suite faster.
if [ -z "${APPROVALSTUDIO_TEST_POSTGRES:-}" ]; then start_postgres "$work" -c fsync=off; fi

if [ -z "${APPROVALSTUDIO_TEST_REDIS:-}" ]; then
  redisport=$(free_port)
  echo "== starting Redis on 127.0.0.1:$redisport"
  redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work"
  for _ in $(seq 50); do [ -s "$work/redis.pid" ] && break; sleep 0.1; done
  redis_pid=$(cat "$work/redis.pid")
  export APPROVALSTUDIO_TEST_REDIS="127.0.0.1:$redisport"
fi

echo "== build"
dotnet build ApprovalStudio.sln -c Release -nologo -v q

echo "== tests"
rm -rf "$root/e2e/artifacts"   # this run's screenshots only
# One suite after another: run side by side on two cores, the browser suite starves and times out.
status=0
set +e
for project in tests/ApprovalStudio.Workflows.Tests tests/ApprovalStudio.Web.Tests e2e/ApprovalStudio.E2E; do
  echo "== $project"
  dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=normal" 2>&1 | tee -a "$work/test.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done
set -e

# The runner's summary per test project: "     Passed: 64" / "     Failed: 1" / "    Skipped: 2".
count() { awk -v key="$1:" '$1 == key { s += $2 } END { print s + 0 }' "$work/test.log"; }
passed=$(count Passed)
failed=$(count Failed)
skipped=$(count Skipped)

if [ -x "$root/../shared/checks/contract-smoke.sh" ] || [ -f "$root/../shared/checks/contract-smoke.sh" ]; then
  echo "== contract smoke check"
  if bash "$root/../shared/checks/contract-smoke.sh"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
fi

if [ "$failed" != 0 ]; then
  # Repeated at the end, where a CI log's tail shows it: which tests failed and why.
  echo "== failed tests"
  grep -E -A 12 '^  Failed [A-Za-z_]+\.[A-Za-z_.]' "$work/test.log" | grep -v -E '^\s+at (System|Microsoft|Xunit)\.' || true
fi
# The browser suites' screenshots (desktop, phone, dark) stay for a reviewer to look at.
shots=$(ls "$root/e2e/artifacts"/*.png 2>/dev/null | wc -l)
if [ "$shots" -gt 0 ]; then
  echo "== screenshots: $shots in $root/e2e/artifacts"
  ls "$root/e2e/artifacts"/*.png | sed 's|.*/|  |' | tr '\n' ' ' | fold -s -w 120; echo
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" = 0 ] && [ "$failed" = 0 ] && [ "$passed" -gt 0 ]

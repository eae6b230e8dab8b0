#!/usr/bin/env bash
# The load harness (benchmarks/README.md): the real app against its baselines, on SQLite and on PostgreSQL, measured in
# one run; writes benchmarks/reports/load-<date>.md and .json. Not part of the test command (a run takes ~10 minutes).
# Starts a throwaway PostgreSQL on a free loopback port, with fsync on (a commit is on disk, as in production), unless
# APPROVALSTUDIO_TEST_POSTGRES names a server. Arguments go to the harness: --seconds N (per phase, 10), --tasks N (40000: the faster runs answer 20,000 before the 64-connection phase),
# --hub-clients N (500), --hub-samples N (200), --warmup N (untimed seconds before each measured group, 5), --sqlite-only,
# --postgres-only, --out DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/approval-studio-load.XXXXXX)
chmod 755 "$work"
pg_stop=""
cleanup() {
  if [ -n "$pg_stop" ]; then eval "$pg_stop" >/dev/null 2>&1 || true; fi
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "== installing: postgresql"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

. build/postgres.sh
# fsync on: a commit is on disk, as in production (the tests' server has it off).
if [ -z "${APPROVALSTUDIO_TEST_POSTGRES:-}" ] && [[ " $* " != *" --sqlite-only "* ]]; then start_postgres "$work"; fi

dotnet build benchmarks/ApprovalStudio.Load -c Release -nologo -v q
dotnet run -c Release --no-build --project benchmarks/ApprovalStudio.Load -- "$@"

#!/usr/bin/env bash
# The load harness (benchmarks/README.md): the real app against its baselines, on SQLite and on PostgreSQL, measured in
# one run; writes benchmarks/reports/load-<date>.md and .json. Not part of the test command (a run takes ~10 minutes).
# Starts a throwaway PostgreSQL on a free loopback port, with fsync on (a commit is on disk, as in production), unless
# APPROVALSTUDIO_TEST_POSTGRES names a server. Arguments go to the harness: --seconds N (per phase, 10), --tasks N (12000),
# --hub-clients N (500), --hub-samples N (200), --sqlite-only, --out DIR.
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

if [ -z "${APPROVALSTUDIO_TEST_POSTGRES:-}" ] && [[ " $* " != *" --sqlite-only "* ]]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  pgdata="$work/pgdata"
  mkdir -p "$pgdata"
  echo postgres > "$work/pgpass"
  run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$pgdata" "$work/pgpass"; fi
  chmod 700 "$pgdata"
  echo "== starting PostgreSQL on 127.0.0.1:$pgport (fsync on)"
  run_pg "$pgbin/initdb" -D "$pgdata" -U postgres --pwfile="$work/pgpass" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$work/initdb.log"
  run_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdata -c max_connections=300" start >/dev/null
  pg_stop="run_pg $pgbin/pg_ctl -D $pgdata -m fast stop"
  export APPROVALSTUDIO_TEST_POSTGRES="Host=127.0.0.1;Port=$pgport;Username=postgres;Password=postgres"
fi

dotnet build benchmarks/ApprovalStudio.Load -c Release -nologo -v q
dotnet run -c Release --no-build --project benchmarks/ApprovalStudio.Load -- "$@"

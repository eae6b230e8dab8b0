# Sourced by build/test.sh and benchmarks/load.sh: a throwaway PostgreSQL cluster on a free loopback port.
# start_postgres WORK [SETTING...]: initdb in WORK/pgdata, start it with the extra server settings (e.g. "-c fsync=off"),
# export APPROVALSTUDIO_TEST_POSTGRES, and set pg_stop to the command that stops it (the caller runs it on exit).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_postgres() {
  local work=$1; shift
  local pgbin pgport pgdata
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgport=$(free_port)
  pgdata="$work/pgdata"
  mkdir -p "$pgdata"
  echo postgres > "$work/pgpass"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$pgdata" "$work/pgpass"; fi
  chmod 700 "$pgdata"
  echo "== starting PostgreSQL on 127.0.0.1:$pgport ${*:-}"
  run_pg "$pgbin/initdb" -D "$pgdata" -U postgres --pwfile="$work/pgpass" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$work/initdb.log"
  run_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdata -c max_connections=300 $*" start >/dev/null
  pg_stop="run_pg $pgbin/pg_ctl -D $pgdata -m immediate stop"
  export APPROVALSTUDIO_TEST_POSTGRES="Host=127.0.0.1;Port=$pgport;Username=postgres;Password=postgres"
}

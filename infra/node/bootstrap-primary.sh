#!/usr/bin/env bash
# Make this node the cluster's first primary: initdb, configuration, roles. Idempotent.
# Parameters: none. Secrets (PGW_PW_*) come from the secrets env file.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh

prepare_dirs() {
  mkdir -p "$PGW_LOG_DIR" "$PGW_SOCKET_DIR" "$(dirname "$PGW_PGDATA")"
  chown_pg "$PGW_LOG_DIR" "$PGW_SOCKET_DIR" "$(dirname "$PGW_PGDATA")"
  chmod 700 "$PGW_SOCKET_DIR"
}
prepare_dirs

# WAL segments of 4 MB, not PostgreSQL's 16 MB: a promotion copies the last segment to the new
# timeline and fills it up to the segment size (a 16 MB write and fsync on the failover and switchover
# path; about 50 ms on the lab's disk). Only initdb sets it; standbys inherit it.
if [ ! -s "$PGW_PGDATA/PG_VERSION" ]; then
  log "initdb $PGW_PGDATA (WAL segments of ${PGW_WAL_SEGSIZE_MB:-4} MB)"
  mkdir -p "$PGW_PGDATA"
  chown_pg "$PGW_PGDATA"
  chmod 700 "$PGW_PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$PGW_PW_POSTGRES" >"$pwfile"
  chown_pg "$pwfile"
  as_pg "$PGW_PGBIN/initdb" -D "$PGW_PGDATA" -U "$PGW_SUPERUSER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --wal-segsize="${PGW_WAL_SEGSIZE_MB:-4}" >/dev/null
  rm -f "$pwfile"
fi
render_config
pg_start

# Roles: the replication user, the workflows' admin user, pgpool's health-check user, the app.
psql_local <<'SQL'
\getenv pw_repl PGW_PW_REPLICATOR
\getenv pw_admin PGW_PW_PGWARDEN
\getenv pw_pgpool PGW_PW_PGPOOL
\getenv pw_app PGW_PW_APP
SELECT format('CREATE ROLE replicator LOGIN REPLICATION PASSWORD %L', :'pw_repl')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'replicator') \gexec
SELECT format('CREATE ROLE pgwarden LOGIN SUPERUSER PASSWORD %L', :'pw_admin')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgwarden') \gexec
SELECT format('CREATE ROLE pgpool LOGIN PASSWORD %L IN ROLE pg_monitor', :'pw_pgpool')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgpool') \gexec
SELECT format('CREATE ROLE app LOGIN PASSWORD %L', :'pw_app')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') \gexec
SELECT 'CREATE DATABASE app OWNER app'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app') \gexec
-- The workflows' verifying write through every pgpool logs in as pgpool (the only pgwarden login a
-- pgpool host holds a password for): this table and nothing else is writable to it.
CREATE TABLE IF NOT EXISTS pgwarden_heartbeat (source text PRIMARY KEY, at timestamptz NOT NULL, execution text);
ALTER TABLE pgwarden_heartbeat OWNER TO pgwarden;
GRANT SELECT, INSERT, UPDATE ON pgwarden_heartbeat TO pgpool;
SQL
result role=primary

#!/usr/bin/env bash
# Make this node a streaming standby of the primary: a replication slot on the primary,
# pg_basebackup, primary_conninfo, start, wait until streaming. Idempotent.
# Parameters: PRIMARY_HOST, PRIMARY_PORT.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
require_param PRIMARY_HOST
require_param PRIMARY_PORT
ensure_pgpass
mkdir -p "$PGW_LOG_DIR" "$PGW_SOCKET_DIR" "$(dirname "$PGW_PGDATA")"
chown_pg "$PGW_LOG_DIR" "$PGW_SOCKET_DIR" "$(dirname "$PGW_PGDATA")"
chmod 700 "$PGW_SOCKET_DIR"

if [ ! -s "$PGW_PGDATA/PG_VERSION" ]; then
  create_slot_on "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT"
  log "pg_basebackup from $PGW_PARAM_PRIMARY_HOST:$PGW_PARAM_PRIMARY_PORT"
  # Whatever is at PGDATA without a cluster goes; a symbolic link or a mount point there stays (emptied
  # in place: pg_basebackup fills an existing empty directory), so the data lands on its volume.
  real_pgdata=$(readlink -f -- "$PGW_PGDATA")
  if [ -d "$real_pgdata" ]; then
    find "$real_pgdata" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
    chown_pg "$real_pgdata"
    chmod 700 "$real_pgdata"
  else
    rm -rf "$PGW_PGDATA"
  fi
  as_pg env PGPASSFILE="$PGPASSFILE" "$PGW_PGBIN/pg_basebackup" -h "$PGW_PARAM_PRIMARY_HOST" -p "$PGW_PARAM_PRIMARY_PORT" \
    -U "$PGW_REPL_USER" -D "$PGW_PGDATA" -X stream -c fast -S "$(slot_name "$PGW_NODE")" -w
fi
render_config
write_standby_settings "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT"
pg_start
wait_until "${PGW_PARAM_WAIT_SECONDS:-60}" "$PGW_NODE to stream from the primary" is_streaming_from \
  "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT"
result role=standby upstream="$PGW_PARAM_PRIMARY_HOST:$PGW_PARAM_PRIMARY_PORT"

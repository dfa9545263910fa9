#!/usr/bin/env bash
# Point this standby at a (new) upstream: primary_conninfo and slot through ALTER SYSTEM and a reload
# (no restart on PostgreSQL 13+), then wait until it streams from it. Idempotent.
# Parameters: PRIMARY_HOST, PRIMARY_PORT, WAIT_SECONDS (default 30; 0 = do not wait for streaming).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
require_param PRIMARY_HOST
require_param PRIMARY_PORT
is_running || die "PostgreSQL is not running on $PGW_NODE"
is_in_recovery || die "$PGW_NODE is not a standby"
if ! is_streaming_from "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT"; then
  ensure_pgpass
  create_slot_on "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT"
  PGW_CI="$(primary_conninfo "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT")" PGW_SLOT="$(slot_name "$PGW_NODE")" psql_local <<'SQL' >/dev/null
\getenv ci PGW_CI
\getenv slot PGW_SLOT
ALTER SYSTEM SET primary_conninfo = :'ci';
ALTER SYSTEM SET primary_slot_name = :'slot';
SELECT pg_reload_conf();
SQL
  # WAIT_SECONDS=0: return once the new upstream is configured (the caller checks streaming later).
  if [ "${PGW_PARAM_WAIT_SECONDS:-30}" != 0 ]; then
    wait_until "${PGW_PARAM_WAIT_SECONDS:-30}" "$PGW_NODE to stream from $PGW_PARAM_PRIMARY_HOST:$PGW_PARAM_PRIMARY_PORT" \
      is_streaming_from "$PGW_PARAM_PRIMARY_HOST" "$PGW_PARAM_PRIMARY_PORT"
  fi
  changed=yes
else
  changed=no
fi
result upstream="$PGW_PARAM_PRIMARY_HOST:$PGW_PARAM_PRIMARY_PORT" changed=$changed

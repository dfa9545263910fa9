#!/usr/bin/env bash
# Cleanly stop PostgreSQL on this node. Idempotent. Parameters: MODE (smart|fast|immediate, default fast).
# Reports the cluster state and the last checkpoint of the stopped node (after a clean stop of a
# primary, the last WAL record: what a switchover's target must have replayed before it is promoted).
. "$(dirname "$0")/lib.sh"
pg_stop "${PGW_PARAM_MODE:-fast}"
state=""
lsn=""
if [ -s "$PGW_PGDATA/global/pg_control" ]; then
  ctl=$(as_pg "$PGW_PGBIN/pg_controldata" -D "$PGW_PGDATA" 2>/dev/null || true)
  state=$(sed -n 's/^Database cluster state: *//p' <<<"$ctl")
  lsn=$(sed -n 's/^Latest checkpoint location: *//p' <<<"$ctl")
fi
result running=no state="$state" checkpoint_lsn="$lsn"

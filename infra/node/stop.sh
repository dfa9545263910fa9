#!/usr/bin/env bash
# Cleanly stop PostgreSQL on this node. Idempotent. Parameters: MODE (smart|fast|immediate, default fast).
# Signals the postmaster itself and polls every 20 ms (pg_ctl -w polls every 100 ms: a switchover's
# write window includes this stop). Reports the cluster state and the last checkpoint of the stopped
# node (after a clean stop of a primary, its last WAL record: what a switchover's target must have
# replayed before it is promoted).
. "$(dirname "$0")/lib.sh"
mode=${PGW_PARAM_MODE:-fast}
case "$mode" in
  smart) sig=TERM ;;
  fast) sig=INT ;;
  immediate) sig=QUIT ;;
  *) die "unknown MODE $mode (smart|fast|immediate)" ;;
esac
if pid=$(postmaster_pid); then
  kill -s "$sig" "$pid"
  # Gone once it has exited: a zombie (state Z, not yet reaped by its parent, e.g. a container's init
  # that reaps lazily) has already finished its shutdown.
  gone() { ! kill -0 "$pid" 2>/dev/null || [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)" = Z ]; }
  poll_until 60 gone || die "PostgreSQL on $PGW_NODE did not stop within 60 s ($mode)"
fi
state=""
lsn=""
if [ -s "$PGW_PGDATA/global/pg_control" ]; then
  ctl=$(as_pg "$PGW_PGBIN/pg_controldata" -D "$PGW_PGDATA" 2>/dev/null || true)
  state=$(sed -n 's/^Database cluster state: *//p' <<<"$ctl")
  lsn=$(sed -n 's/^Latest checkpoint location: *//p' <<<"$ctl")
fi
result running=no state="${state// /_}" checkpoint_lsn="$lsn"

#!/usr/bin/env bash
# Start PostgreSQL on this node (a clean start). Idempotent. Refuses a fenced node (exit 3): only the
# rejoin brings it back, as a standby of the current primary.
# Parameters: AS_PRIMARY (yes: remove the standby.signal a switchover's stop left, to start the
# primary of record again after an aborted switchover).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
is_running || refuse_fenced
if [ "${PGW_PARAM_AS_PRIMARY:-no}" = yes ]; then
  rm -f "$PGW_PGDATA/standby.signal"
fi
pg_start
result running=yes

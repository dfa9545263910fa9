#!/usr/bin/env bash
# Start PostgreSQL on this node (a clean start; a fenced node comes up as a read-only standby). Idempotent.
# Parameters: AS_PRIMARY (yes: remove the standby.signal a switchover's stop left, to start the
# primary of record again after an aborted switchover; never for a fenced node).
. "$(dirname "$0")/lib.sh"
if [ "${PGW_PARAM_AS_PRIMARY:-no}" = yes ]; then
  [ ! -e "$PGW_PGDATA/pgwarden.fenced" ] || die "$PGW_NODE is fenced: it is not started as a primary"
  rm -f "$PGW_PGDATA/standby.signal"
fi
pg_start
result running=yes

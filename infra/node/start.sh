#!/usr/bin/env bash
# Start PostgreSQL on this node (a clean start). Idempotent. Refuses a fenced node (exit 3): only the
# rejoin brings it back, as a standby of the current primary.
. "$(dirname "$0")/lib.sh"
is_running || refuse_fenced
pg_start
result running=yes

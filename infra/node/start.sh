#!/usr/bin/env bash
# Start PostgreSQL on this node (a clean start; a fenced node comes up as a read-only standby). Idempotent.
. "$(dirname "$0")/lib.sh"
pg_start
result running=yes

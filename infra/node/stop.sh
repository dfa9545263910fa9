#!/usr/bin/env bash
# Cleanly stop PostgreSQL on this node. Idempotent. Parameters: MODE (smart|fast|immediate, default fast).
. "$(dirname "$0")/lib.sh"
pg_stop "${PGW_PARAM_MODE:-fast}"
result running=no

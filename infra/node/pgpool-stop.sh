#!/usr/bin/env bash
# Stop pgpool-II (fast shutdown). Idempotent.
. "$(dirname "$0")/lib.sh"
d=$PGW_PGPOOL_DIR
if [ -r "$d/run/pgpool.pid" ] && kill -0 "$(cat "$d/run/pgpool.pid")" 2>/dev/null; then
  pid=$(cat "$d/run/pgpool.pid")
  kill -INT "$pid"
  wait_until 30 "pgpool $PGW_NODE to stop" bash -c "! kill -0 $pid 2>/dev/null"
fi
result running=no

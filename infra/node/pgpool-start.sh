#!/usr/bin/env bash
# Start pgpool-II in the background with a fresh node status (-D: a stale pgpool_status from an
# earlier run must not keep nodes marked down). Idempotent.
. "$(dirname "$0")/lib.sh"
d=$PGW_PGPOOL_DIR
pid_alive() { [ -r "$d/run/pgpool.pid" ] && kill -0 "$(cat "$d/run/pgpool.pid")" 2>/dev/null; }
if pid_alive; then
  result running=yes
  exit 0
fi
rm -f "$d/run/pgpool.pid" "$d/run/.s.PGSQL.$PGW_PGPOOL_PORT" "$d/run/.s.PGSQL.$PGW_PCP_PORT"
as_pg setsid "${PGW_PGPOOL_BIN:-/usr/sbin}/pgpool" -n -D -f "$d/pgpool.conf" -F "$d/pcp.conf" -a "$d/pool_hba.conf" \
  </dev/null >>"$d/log/pgpool.log" 2>&1 &
ready() {
  PCPPASSFILE="$d/pcppass" as_pg env PCPPASSFILE="$d/pcppass" "${PGW_PGPOOL_BIN:-/usr/sbin}/pcp_node_count" \
    -h 127.0.0.1 -p "$PGW_PCP_PORT" -U pgwarden -w >/dev/null 2>&1
}
wait_until 30 "pgpool $PGW_NODE to answer PCP" ready
result running=yes pid="$(cat "$d/run/pgpool.pid")"

#!/usr/bin/env bash
# Re-render the configuration and reload it (pcp_reload_config).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
"$(dirname "$0")/configure-pgpool.sh" >/dev/null
as_pg env PCPPASSFILE="$PGW_PGPOOL_DIR/pcppass" "${PGW_PGPOOL_BIN:-/usr/sbin}/pcp_reload_config" \
  -h 127.0.0.1 -p "$PGW_PCP_PORT" -U pgwarden -w >/dev/null
result reloaded=yes

#!/usr/bin/env bash
# Baseline only: pgpool's follow_primary_command: point standby %d at the new primary and attach it.
# pgpool also runs this for the dead old primary: skip nodes that are not running.
# Arguments: %d %h %p %m %H %r %P
set -u
node=$1 port=$3 new_host=$5 new_port=$6
nodes="$(dirname "$(dirname "$PGW_PGPOOL_DIR")")/nodes"
for env in "$nodes"/*/node.env; do
  if grep -q "^PGW_PORT='$port'$" "$env"; then
    if PGW_NODE_ENV=$env PGW_PARAM_PRIMARY_HOST=$new_host PGW_PARAM_PRIMARY_PORT=$new_port PGW_PARAM_WAIT_SECONDS=10 \
      bash "$PGW_NODE_SCRIPTS/follow.sh" >>"$PGW_PGPOOL_DIR/log/native.log" 2>&1; then
      PCPPASSFILE="$PGW_PGPOOL_DIR/pcppass" "${PGW_PGPOOL_BIN:-/usr/sbin}/pcp_attach_node" -h 127.0.0.1 -p "$PGW_PCP_PORT" -U pgwarden -w -n "$node" >>"$PGW_PGPOOL_DIR/log/native.log" 2>&1
    fi
  fi
done
exit 0

#!/usr/bin/env bash
# pcp_detach_node on this pgpool instance. Idempotent (checks the node's status first).
# Parameters: NODE_ID (pgpool backend id).
. "$(dirname "$0")/lib.sh"
require_param NODE_ID
d=$PGW_PGPOOL_DIR
pcp() { as_pg env PCPPASSFILE="$d/pcppass" "${PGW_PGPOOL_BIN:-/usr/sbin}/$1" -h "${PGW_PGPOOL_LISTEN:-127.0.0.1}" -p "$PGW_PCP_PORT" -U pgwarden -w "${@:2}"; }
# pcp_node_info -v is verbose; the terse form is: host port status weight status_name ...
status=$(pcp pcp_node_info -n "$PGW_PARAM_NODE_ID" | cut -d' ' -f3)
# status 3 = down
if [ "$status" != 3 ]; then
  pcp pcp_detach_node -n "$PGW_PARAM_NODE_ID" >/dev/null
  changed=yes
else
  changed=no
fi
result detached=yes changed=$changed

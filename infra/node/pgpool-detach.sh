#!/usr/bin/env bash
# pcp_detach_node on this pgpool instance. Idempotent (checks the node's status first).
# Parameters: NODE_ID (pgpool backend id).
# pgpool runs its failover_command for this detach and, until that returns, ends the session of every
# client that runs a statement. A workflow detaches on purpose, so it leaves a marker that the
# failover_command (configure-pgpool.sh) takes to return at once without reporting the event.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
require_backend_id
d=$PGW_PGPOOL_DIR
read_pgpool_backend "$PGW_PARAM_NODE_ID" || die "cannot read this pgpool's status of backend $PGW_PARAM_NODE_ID (pcp_health_check_stats failed: see above)"
status=$backend_status
if [ "$status" != down ] && [ "$status" != quarantine ]; then
  marker="$d/run/planned-detach-$PGW_PARAM_NODE_ID"
  : >"$marker"
  chown_pg "$marker"
  # A node already down in pgpool cannot be detached again, so a marker the hook did not take is
  # harmless until the attach, which removes it.
  pcp pcp_detach_node -n "$PGW_PARAM_NODE_ID" >/dev/null || {
    rm -f "$marker"
    die "pcp_detach_node of backend $PGW_PARAM_NODE_ID failed"
  }
  changed=yes
else
  changed=no
fi
result detached=yes changed=$changed

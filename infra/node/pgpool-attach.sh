#!/usr/bin/env bash
# pcp_attach_node on this pgpool instance. Idempotent (checks the node's status first).
# Parameters: NODE_ID (pgpool backend id).
# pgpool-II (seen with 4.3) replaces the children that exited during a failover (every child that ran a statement
# then) only after the failover, which ends with a 1 s pause, and a failback queued meanwhile runs
# first: an attach right after a failover (a switchover's old primary, a rejoin) would find few live
# children, and its own failback would end the rest, leaving clients without a child for a second.
# So the attach waits (up to 5 s) until every child slot pgpool lists holds a live process.
# A backend this host cannot reach (a partition between this pgpool and the node) is not attached:
# pgpool would detach it again at its next health check, and clients of this pgpool would meet it in
# between. The result says attached=no reason=unreachable; the prober tries again later.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
require_backend_id
d=$PGW_PGPOOL_DIR
read_pgpool_backend "$PGW_PARAM_NODE_ID" || die "cannot read this pgpool's status of backend $PGW_PARAM_NODE_ID (pcp_health_check_stats failed: see above)"
status=$backend_status
# down and quarantine are pcp_node_info's status 3
[ "$status" = quarantine ] && status=down
# As the pgpool user: the path pgpool itself takes to the backend.
reachable() { as_pg timeout 2 bash -c "exec 3<>/dev/tcp/$backend_host/$backend_port" 2>/dev/null; }
children_alive() {
  local pids p
  pids=$(pcp pcp_proc_count) || return 1
  for p in $pids; do process_alive "$p" || return 1; done
}
if [ "$status" = down ] && ! reachable; then
  log "backend $PGW_PARAM_NODE_ID ($backend_host:$backend_port) does not answer from this pgpool: not attached"
  result attached=no changed=no reason=unreachable
  exit 0
fi
# pgpool-failover-hook.sh is waiting for pgwarden (this attach is probably that workflow's): pgpool
# replaces its children only once the hook returns, so waiting for them here would only add 5 s.
hook_running() {
  local pid
  { read -r pid <"$d/run/failover-hook-running"; } 2>/dev/null && [ -n "$pid" ] && process_alive "$pid"
}
if [ "$status" = down ]; then
  if hook_running; then
    log "pgpool is inside its failover_command: its children come back after it; attaching without waiting for them"
  else
    poll_until 5 children_alive || log "not every pgpool child is alive after 5 s; attaching anyway"
  fi
  rm -f "$d/run/planned-detach-$PGW_PARAM_NODE_ID" # once attached, its failures are reported again
  pcp pcp_attach_node -n "$PGW_PARAM_NODE_ID" >/dev/null
  changed=yes
else
  changed=no
fi
result attached=yes changed=$changed

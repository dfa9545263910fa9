#!/bin/bash
# pgpool-II failover_command: the fast-path sensor. It never promotes anything: it reports the event
# to pgwarden (PGW_TRIGGER_CMD reads the event JSON on stdin: the lab posts it to its control plane,
# AWS invokes the pgpool-hook Lambda) and waits until the workflow has acted, so that pgpool's own
# search for the primary finds the node pgwarden promoted. Kept lean: it is on the failover path, where
# each process started costs 20-40 ms on a busy VM (bash directly, not through env; printf -v and a
# here-string instead of command substitutions and a pipe).
# Arguments: %d %h %p %m %P %M %H %r %N %S
set -u
# pgpool runs this with its listening sockets open (they are not close-on-exec): close every inherited
# descriptor beyond stdio, so that nothing started here holds pgpool's ports after pgpool stops.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
done
set -a
# shellcheck disable=SC1090
. "${PGW_NODE_ENV:-/etc/pgwarden/node.env}"
set +a
printf -v now '%(%Y-%m-%dT%H:%M:%S)T' -1
log="${PGW_PGPOOL_DIR:-/tmp}/log/failover-hook.log"
# A detach a workflow asked for (pgpool-detach.sh left this marker) is not reported. pgpool puts a
# space before %d's value, so the node id comes in as an argument, never inside a path.
marker="${PGW_PGPOOL_DIR:-/nonexistent}/run/planned-detach-${1:-x}"
if [ -e "$marker" ]; then
  rm -f "$marker"
  echo "$now planned detach of backend $1, not reported" >>"$log"
  exit 0
fi
printf -v json '{"source":"pgpool","pgpool":"%s","failedNodeId":%s,"failedHost":"%s","failedPort":%s,"newMainNodeId":%s,"oldPrimaryNodeId":%s,"oldMainNodeId":%s,"newMainHost":"%s","newMainPort":%s,"oldPrimaryHost":"%s","oldPrimaryPort":%s,"at":"%sZ"}' \
  "${PGW_NODE:-pgpool}" "${1:--1}" "${2:-}" "${3:-0}" "${4:--1}" "${5:--1}" "${6:--1}" "${7:-}" "${8:-0}" "${9:-}" "${10:-0}" "$now"
echo "$now failover_command: $json" >>"$log"
if [ -n "${PGW_TRIGGER_CMD:-}" ]; then
  # While this waits, pgpool is inside its failover: it restarts its children only after this
  # returns. pgpool-attach.sh reads this marker so as not to wait for them (the workflow's own attach,
  # after a false alarm, would otherwise wait 5 s for children that cannot come back before it ends).
  running="${PGW_PGPOOL_DIR:-/nonexistent}/run/failover-hook-running"
  { echo $$ >"$running"; } 2>/dev/null || true
  out=$(timeout "${PGW_HOOK_TIMEOUT:-30}" bash -c "$PGW_TRIGGER_CMD" <<<"$json" 2>&1)
  rc=$?
  # Emptied, not removed: no rm process between the workflow's answer and pgpool's search for the
  # primary (pgpool-attach.sh reads an empty marker as no hook running).
  { : >"$running"; } 2>/dev/null || true
  echo "$now trigger (exit $rc): $out" >>"$log"
fi
exit 0

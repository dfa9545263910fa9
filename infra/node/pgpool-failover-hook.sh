#!/bin/bash
# pgpool-II failover_command: the fast-path sensor. It never promotes anything: it reports the event
# to pgwarden (PGW_TRIGGER_CMD reads the event JSON on stdin: in AWS it invokes the pgpool-hook Lambda;
# in the lab the hook POSTs it to the control plane itself, PGW_TRIGGER_URL_FILE) and waits until the workflow has acted, so that pgpool's own
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

# PGW_TRIGGER_URL_FILE (the lab): a file holding the control plane's http://host:port/... URL (with
# its API token, kept off command lines). The event is POSTed over bash's /dev/tcp, so no process is
# started: timeout, a shell and curl cost 60-100 ms on a busy VM, on the failover's path. Sets out to
# the answer's status line and body; fails without a 2xx answer (PGW_HOOK_TIMEOUT seconds per read).
post_event() {
  local url host port path status line body='' LC_ALL=C t="${PGW_HOOK_TIMEOUT:-30}"
  out=''
  if ! read -r url <"$PGW_TRIGGER_URL_FILE" 2>/dev/null; then
    out="cannot read $PGW_TRIGGER_URL_FILE"
    return 1
  fi
  if ! [[ $url =~ ^http://([^/:]+):([0-9]+)(/.*)$ ]]; then
    out="$PGW_TRIGGER_URL_FILE holds no http://host:port/ URL"
    return 1
  fi
  host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]} path=${BASH_REMATCH[3]}
  if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    out="cannot connect to $host:$port"
    return 1
  fi
  # HTTP/1.0: the answer comes whole (no chunks) and the server closes the connection after it.
  # Content-Length in bytes: LC_ALL=C makes ${#json} count bytes.
  printf 'POST %s HTTP/1.0\r\nHost: %s:%s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
    "$path" "$host" "$port" "${#json}" "$json" >&3
  if ! IFS= read -r -t "$t" status <&3; then
    exec 3<&-
    out="no answer from $host:$port within $t s"
    return 1
  fi
  while IFS= read -r -t "$t" line <&3 && [ -n "${line%$'\r'}" ]; do :; done
  while IFS= read -r -t "$t" line <&3 || [ -n "$line" ]; do body+=${line%$'\r'}; done
  exec 3<&-
  status=${status%$'\r'}
  out="$status $body"
  [[ $status =~ ^HTTP/1\.[01]\ 2 ]]
}

if [ -n "${PGW_TRIGGER_URL_FILE:-}" ] || [ -n "${PGW_TRIGGER_CMD:-}" ]; then
  # While this waits, pgpool is inside its failover: it restarts its children only after this
  # returns. pgpool-attach.sh reads this marker so as not to wait for them (the workflow's own attach,
  # after a false alarm, would otherwise wait 5 s for children that cannot come back before it ends).
  running="${PGW_PGPOOL_DIR:-/nonexistent}/run/failover-hook-running"
  { echo $$ >"$running"; } 2>/dev/null || true
  if [ -n "${PGW_TRIGGER_URL_FILE:-}" ]; then
    post_event
    rc=$?
  else
    out=$(timeout "${PGW_HOOK_TIMEOUT:-30}" bash -c "$PGW_TRIGGER_CMD" <<<"$json" 2>&1)
    rc=$?
  fi
  # Emptied, not removed: no rm process between the workflow's answer and pgpool's search for the
  # primary (pgpool-attach.sh reads an empty marker as no hook running).
  { : >"$running"; } 2>/dev/null || true
  echo "$now trigger (exit $rc): $out" >>"$log"
fi
exit 0

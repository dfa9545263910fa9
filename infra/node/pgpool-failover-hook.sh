#!/usr/bin/env bash
# pgpool-II failover_command: the fast-path sensor. It never promotes anything: it reports the event
# to pgwarden (PGW_TRIGGER_CMD reads the event JSON on stdin: the lab posts it to its control plane,
# AWS invokes the pgpool-hook Lambda) and waits until the workflow has acted, so that pgpool's own
# search for the primary finds the node pgwarden promoted.
# Arguments: %d %h %p %m %P %M %H %r %N %S
. "$(dirname "$0")/lib.sh"
json=$(printf '{"source":"pgpool","pgpool":"%s","failedNodeId":%s,"failedHost":"%s","failedPort":%s,"newMainNodeId":%s,"oldPrimaryNodeId":%s,"oldMainNodeId":%s,"newMainHost":"%s","newMainPort":%s,"oldPrimaryHost":"%s","oldPrimaryPort":%s,"at":"%s"}' \
  "$PGW_NODE" "${1:--1}" "${2:-}" "${3:-0}" "${4:--1}" "${5:--1}" "${6:--1}" "${7:-}" "${8:-0}" "${9:-}" "${10:-0}" "$(date -u +%FT%T.%3NZ)")
log "failover_command: $json"
if [ -n "${PGW_TRIGGER_CMD:-}" ]; then
  if ! out=$(printf '%s' "$json" | timeout "${PGW_HOOK_TIMEOUT:-30}" bash -c "$PGW_TRIGGER_CMD" 2>&1); then
    log "trigger failed: $out"
  else
    log "trigger: $out"
  fi
fi
exit 0

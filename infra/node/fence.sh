#!/usr/bin/env bash
# Fence this node so that it can never accept another write: SIGKILL every process of its data
# directory (SIGKILL also ends a frozen/SIGSTOPped process), then leave standby.signal and a fence
# marker so that whatever restarts it later gets a read-only standby that must be rejoined.
# Idempotent. Parameters: REASON (free text, recorded in the marker).
. "$(dirname "$0")/lib.sh"
killed=0
no_node_pids() { [ -z "$(node_pids)" ]; }
# A killed process leaves the list when it exits (a zombie has no cwd); the postmaster may fork a
# last child while we kill, hence the loop.
for _ in 1 2 3 4 5; do
  pids=$(node_pids)
  [ -n "$pids" ] || break
  for p in $pids; do
    kill -KILL "$p" 2>/dev/null && killed=$((killed + 1)) || true
  done
  poll_until 2 no_node_pids || true
done
no_node_pids || die "processes of $PGW_NODE survived SIGKILL"
if [ -d "$PGW_PGDATA" ]; then
  as_pg touch "$PGW_PGDATA/standby.signal"
  printf 'fenced at %s: %s\n' "$(date -u +%FT%TZ)" "${PGW_PARAM_REASON:-failover}" | as_pg tee "$PGW_PGDATA/pgwarden.fenced" >/dev/null
fi
result fenced=yes killed=$killed

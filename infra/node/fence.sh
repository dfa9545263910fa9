#!/usr/bin/env bash
# Fence this node so that it can never accept another write: SIGKILL every process of its data
# directory (SIGKILL also ends a frozen/SIGSTOPped process), then leave standby.signal and a fence
# marker so that whatever restarts it later gets a read-only standby that must be rejoined.
# Idempotent. Parameters: REASON (free text, recorded in the marker).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
killed=0
gone=no
# A killed process leaves the list when it exits (a zombie has no cwd); the postmaster may fork a
# last child while we kill, hence the loop. Kept lean (no process started that is not needed): this
# runs on the failover's critical path.
for _ in 1 2 3 4 5; do
  collect_node_pids
  if [ "${#NODE_PIDS[@]}" -eq 0 ]; then
    gone=yes
    break
  fi
  for p in "${NODE_PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null && killed=$((killed + 1)) || true
  done
  poll_until 2 no_node_pids || true
done
[ "$gone" = yes ] || no_node_pids || die "processes of $PGW_NODE survived SIGKILL"
if [ -d "$PGW_PGDATA" ]; then
  # Written here and given to the database OS user with one chown (not a runuser per file).
  : >"$PGW_PGDATA/standby.signal"
  TZ=UTC printf 'fenced at %(%FT%TZ)T: %s\n' -1 "${PGW_PARAM_REASON:-failover}" >"$PGW_PGDATA/pgwarden.fenced"
  chown_pg "$PGW_PGDATA/standby.signal" "$PGW_PGDATA/pgwarden.fenced"
fi
result fenced=yes killed=$killed

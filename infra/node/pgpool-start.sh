#!/usr/bin/env bash
# Start pgpool-II in the background with a fresh node status (-D: a stale pgpool_status from an
# earlier run must not keep nodes marked down). Idempotent. pgpool forks its PCP process only after
# its search for the primary (search_primary_node_timeout), so "answers PCP" means "ready". A pgpool
# that exits while starting is reported at once with the end of its log. pgpool does not stop when it
# cannot bind its PCP port (it logs a warning and serves PCP on its Unix socket only; our pcp calls
# would then reach whatever holds the port): that pgpool is stopped again. When the ports are held,
# as by processes of a pgpool stopped a moment ago, it is started once more when they are free.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
d=$PGW_PGPOOL_DIR
log_file=$d/log/pgpool.log
pid_alive() { local p; p=$(pgpool_pid) && kill -0 "$p" 2>/dev/null; }
if pid_alive; then
  result running=yes
  exit 0
fi
# pcp_* has no timeout of its own: a holder of the port that accepts and never answers would hang it.
ready() {
  as_pg timeout 5 env PCPPASSFILE="$d/pcppass" "${PGW_PGPOOL_BIN:-/usr/sbin}/pcp_node_count" \
    -h 127.0.0.1 -p "$PGW_PCP_PORT" -U pgwarden -w >/dev/null 2>&1
}
# This start's pgpool could not bind a TCP port (logged as a warning, not fatal, for PCP).
bind_failed() { tail -c +"$((offset + 1))" "$log_file" 2>/dev/null | grep -q 'bind on socket failed'; }
# Who listens on this pgpool's ports (empty when nobody does).
port_holders() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "( sport = :$PGW_PGPOOL_PORT or sport = :$PGW_PCP_PORT )" 2>/dev/null | tr -s ' ' | cut -d' ' -f4,6
}
ports_free() { [ -z "$(port_holders)" ]; }
# What went wrong: the lines this start added to pgpool's log, and the holders of its ports.
why() {
  local lines holders
  lines=$(tail -c +"$((offset + 1))" "$log_file" 2>/dev/null | grep -E 'FATAL|ERROR|PANIC|WARNING|could not|failed' | tail -n 4)
  holders=$(port_holders)
  printf '%s' "${lines:-pgpool logged nothing}"
  [ -z "$holders" ] || printf '; ports %s/%s held by: %s' "$PGW_PGPOOL_PORT" "$PGW_PCP_PORT" "$(echo "$holders" | tr '\n' ' ')"
}
# A backend connection silent this long fails (data unacknowledged or keepalives unanswered; pgwarden's
# patch 0003): a partition between this pgpool and a backend must not stall pgpool for TCP's ~15 min.
export PGW_BACKEND_DEAD_AFTER_MS=${PGW_BACKEND_DEAD_AFTER_MS:-10000}
# pgpool's shared memory (about 136 MB) and semaphores are IPC_PRIVATE: a pgpool killed by SIGKILL
# leaves them in the kernel for good, and nothing records their ids to remove them by. As root, pgpool
# runs in an IPC namespace of its own (it shares none with other processes: backends and PCP are
# sockets), which the kernel destroys, with everything in it, when its last process exits.
launch=()
if [ "$EUID" = 0 ]; then
  if unshare --ipc true 2>/dev/null; then launch=(unshare --ipc); fi
  launch+=(runuser -u "$PGW_OS_USER" --) # as_pg's, which is a function and cannot follow unshare
fi
for attempt in 1 2; do
  rm -f "$d/run/pgpool.pid" "$d/run/.s.PGSQL.$PGW_PGPOOL_PORT" "$d/run/.s.PGSQL.$PGW_PCP_PORT"
  offset=$(stat -c %s "$log_file" 2>/dev/null || echo 0)
  # The redirections are the background subshell's own: it must not hold this script's stdout/stderr
  # open (whoever runs this script waits for them to close).
  {
    "${launch[@]}" setsid "${PGW_PGPOOL_BIN:-/usr/sbin}/pgpool" -n -D -f "$d/pgpool.conf" -F "$d/pcp.conf" -a "$d/pool_hba.conf"
  } </dev/null >>"$log_file" 2>&1 &
  launcher=$!
  # Ready, or the pgpool we launched is gone ($! is its launcher, runuser or pgpool, alive as long as it is).
  settled() { bind_failed || ! process_alive "$launcher" || ready; }
  if ! poll_until 30 settled; then
    die "pgpool $PGW_NODE did not answer PCP within 30 s: $(why)"
  fi
  if bind_failed; then
    "$(dirname "$0")/pgpool-stop.sh" >/dev/null
    reason=$(why)
  elif ready; then
    result running=yes pid="$(pgpool_pid)"
    exit 0
  else
    reason=$(why)
  fi
  wait "$launcher" 2>/dev/null || true
  if [ "$attempt" = 1 ] && echo "$reason" | grep -qiE 'already in use|held by'; then
    log "pgpool could not start ($reason); starting it again once its ports are free"
    poll_until 15 ports_free || true
    continue
  fi
  die "pgpool $PGW_NODE could not start: $reason"
done

#!/usr/bin/env bash
# Stop pgpool-II. Idempotent. Fast shutdown (SIGINT) first; pgpool handles no signal while it
# processes a failover or failback (its failover_command may be waiting for a control plane that is
# already gone), so after 10 s it gets an immediate shutdown (SIGQUIT), and after 5 s more every
# process of its group is killed; then whatever is left in its session: a stop never leaves a pgpool,
# or anything it started, holding the ports.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
d=$PGW_PGPOOL_DIR
stopped() { ! process_alive "$pid"; }
if ! { pid=$(pgpool_pid) && kill -0 "$pid" 2>/dev/null; } && pid=$(pgpool_pid_by_config); then
  log "pgpool $PGW_NODE has no pid file but runs as pid $pid (its configuration file names it): stopping it"
fi
if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
  kill -INT "$pid"
  if ! poll_until 10 stopped; then
    log "pgpool $PGW_NODE did not stop within 10 s (fast): immediate shutdown"
    kill -QUIT "$pid" 2>/dev/null || true
    if ! poll_until 5 stopped; then
      log "pgpool $PGW_NODE did not stop within 5 s (immediate): killing its processes"
      # pgpool runs as the leader of its own session (setsid): its children share its process group.
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      wait_until 5 "pgpool $PGW_NODE to exit" stopped
    fi
  fi
  # What pgpool started and left behind still holds its listening sockets (a command it ran inherits
  # them; timeout(1) in the failover hook moves to a process group of its own, out of reach of the
  # group kill above): every process left in pgpool's session (setsid made its pid the session id).
  session_left() { pgrep -s "$pid" >/dev/null; }
  if session_left; then
    log "pgpool $PGW_NODE left processes in its session ($(pgrep -s "$pid" -d ' ')): killing them"
    pkill -KILL -s "$pid" || true
    wait_until 5 "the processes of pgpool $PGW_NODE's session to exit" sh -c "! pgrep -s $pid >/dev/null"
  fi
fi
result running=no

#!/usr/bin/env bash
# Rolling maintenance of this node (the workflow has detached it and, for the old primary, switched
# over first): stop PostgreSQL cleanly, run the maintenance command (an OS or PostgreSQL minor
# patch), start PostgreSQL again in the role it had. COMMAND=restart (default) only restarts.
# Every run is appended to $PGW_LOG_DIR/maintenance.log.
# Parameters: COMMAND (restart, or a shell command run as root with the node env loaded).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
cmd=${PGW_PARAM_COMMAND:-restart}
refuse_fenced
pg_stop fast
if [ "$cmd" != restart ]; then
  log "maintenance command: $cmd"
  # The command's own exit status (`if ! cmd; then rc=$?` would read the status of `!`, always 0).
  rc=0
  bash -c "$cmd" >>"$PGW_LOG_DIR/maintenance.out" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    # Leave the node as it was (running, in its role): the workflow aborts and reattaches it.
    pg_start
    die "maintenance command failed (exit $rc): $cmd"
  fi
fi
pg_start
printf '%s %s\n' "$(date -u +%FT%TZ)" "$cmd" | as_pg tee -a "$PGW_LOG_DIR/maintenance.log" >/dev/null
result maintained=yes command="$cmd"

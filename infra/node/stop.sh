#!/usr/bin/env bash
# Cleanly stop PostgreSQL on this node. Idempotent.
# Parameters: MODE (smart|fast|immediate, default fast); UNTIL (exit, default: the postmaster has
# exited | checkpoint: its control file says "shut down"); STANDBY_SIGNAL (yes: leave standby.signal
# in the data directory first, so that whatever starts this node next, a reboot included, starts it
# read-only: a switchover's old primary must never come back writable on the old timeline).
# Signals the postmaster itself and polls every 10 ms (pg_ctl -w polls every 100 ms: a switchover's
# write window includes this stop). Reports the cluster state and the last checkpoint of the stopped
# node (after a clean stop of a primary, its last WAL record: what a switchover's target must have
# replayed before it is promoted).
# UNTIL=checkpoint returns as soon as the shutdown checkpoint is in the control file: from then on the
# server accepts nothing and writes nothing; only its WAL senders still ship the WAL up to that
# checkpoint, which is what the switchover's target waits for anyway.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
mode=${PGW_PARAM_MODE:-fast}
until_=${PGW_PARAM_UNTIL:-exit}
state=""
lsn=""
case "$until_" in exit | checkpoint) ;; *) die "unknown UNTIL $until_ (exit|checkpoint)" ;; esac
case "$mode" in
  smart) sig=TERM ;;
  fast) sig=INT ;;
  immediate) sig=QUIT ;;
  *) die "unknown MODE $mode (smart|fast|immediate)" ;;
esac
if [ "${PGW_PARAM_STANDBY_SIGNAL:-no}" = yes ]; then
  [ -d "$PGW_PGDATA" ] || die "no data directory $PGW_PGDATA"
  as_pg touch "$PGW_PGDATA/standby.signal"
fi
if pid=$(postmaster_pid); then
  kill -s "$sig" "$pid"
  # The poll starts no process of its own but pg_controldata, and that only when the control file
  # changed since it was last read (-N: modified after its last access), or every 10th poll (a file
  # system mounted noatime, or a change within the same clock tick as the last read): on a busy VM
  # every process started costs 5-30 ms of the CPU the shutting-down server needs.
  # Gone once it has exited: a zombie has already finished its shutdown.
  gone() { ! process_alive "$pid"; }
  control=$PGW_PGDATA/global/pg_control
  polls=0
  checkpointed() {
    [ "$until_" = checkpoint ] || return 1
    polls=$((polls + 1))
    [ -N "$control" ] || [ $((polls % 10)) -eq 0 ] || return 1
    read_control && [ "$state" = "shut down" ]
  }
  # The pause: a read with a timeout on a pipe nobody writes to (sleep would be a process each time).
  exec {pause}<> <(:)
  deadline=$((SECONDS + 60))
  until gone || checkpointed; do
    [ "$SECONDS" -lt "$deadline" ] || die "PostgreSQL on $PGW_NODE did not stop within 60 s ($mode)"
    read -r -t 0.01 -u "$pause" _ || true
  done
  exec {pause}<&-
fi
# Already read when UNTIL=checkpoint returned on it.
[ "$state" = "shut down" ] || read_control || true
running=no
if [ -n "${pid:-}" ] && ! gone; then running=exiting; fi
result running=$running state="${state// /_}" checkpoint_lsn="$lsn"

#!/usr/bin/env bash
# Rejoin this node as a standby of the current primary (failback). pg_rewind to the primary's
# timeline; when rewind cannot work, a fresh pg_basebackup. Idempotent: a node that already streams
# from the primary is left alone.
# METHOD=standby is the switchover's old primary: cleanly shut down, its WAL a prefix of the new
# primary's, so it only needs standby settings (refused when the node was not shut down cleanly).
# Parameters: PRIMARY_HOST, PRIMARY_PORT, METHOD (auto|rewind|basebackup|standby, default auto),
#             WAIT_SECONDS (default 120; 0 = return once started).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
require_param PRIMARY_HOST
require_param PRIMARY_PORT
ensure_pgpass
method=${PGW_PARAM_METHOD:-auto}
host=$PGW_PARAM_PRIMARY_HOST
port=$PGW_PARAM_PRIMARY_PORT
mkdir -p "$PGW_LOG_DIR" "$PGW_SOCKET_DIR"
chown_pg "$PGW_LOG_DIR" "$PGW_SOCKET_DIR"

if [ "$method" = auto ] && is_running && is_in_recovery && is_streaming_from "$host" "$port"; then
  result method=none
  exit 0
fi

# A node that is still starting (e.g. `lab start` or an instance boot that triggered this rejoin)
# finishes starting first, so that whoever started it does not see its start fail.
accepting_or_stopped() { accepting_connections || ! is_running; }
if is_running; then poll_until 30 accepting_or_stopped || true; fi
pg_stop fast || pg_stop immediate
# The logging collector leaves after the postmaster (on its pipe's end): wait for it, with a deadline.
poll_until 5 no_node_pids || die "processes of $PGW_NODE are still running 5 s after its stop: ${NODE_PIDS[*]}"
release_stale_segment
rm -f "$PGW_PGDATA/postmaster.pid"

# Crash safety: from here until the node is a proper standby again, its directory is marked fenced
# (start.sh refuses it) and keeps standby.signal whenever it is not being rewound, so that a failure,
# or this script killed at any point, never leaves a directory that starts writable on an old timeline.
# A fresh copy is made beside the data directory and swapped in only when complete; what an interrupted
# run left behind is put right first. "The data directory" is the real one: when PGW_PGDATA is a
# symbolic link (PGDATA moved to a volume of its own and linked from the usual place), the copy is made
# beside its target, on the target's file system, and the link is left as it is.
real_pgdata=$(readlink -f -- "$PGW_PGDATA")
[ -n "$real_pgdata" ] || die "cannot resolve the data directory $PGW_PGDATA (a parent is missing)"
new_copy="$real_pgdata.rejoin-new"
old_copy="$real_pgdata.rejoin-old"
if [ ! -e "$real_pgdata" ] && [ -d "$old_copy" ]; then
  log "restoring $old_copy: an earlier rejoin stopped while swapping in a fresh copy"
  mv "$old_copy" "$real_pgdata"
fi
rm -rf "$new_copy" "$old_copy"
mark_fenced() {
  [ -d "$1" ] || return 0
  [ -e "$1/$FENCE_MARKER" ] ||
    printf 'rejoin under way since %s\n' "$(date -u +%FT%TZ)" | as_pg tee "$1/$FENCE_MARKER" >/dev/null
  as_pg touch "$1/standby.signal"
}
mark_fenced "$PGW_PGDATA"

# pg_rewind (PostgreSQL 15) takes the source's timeline from the source's control file, which a
# just-promoted primary updates only when its first checkpoint after the promotion completes: a spread
# checkpoint (about 0.1 s per dirty buffer here, minutes on a busy node). Until then pg_rewind works
# against the old timeline: it reports "no rewind required" or rewinds to the wrong point, and the node
# then fails to start ("requested timeline N does not contain minimum recovery point ... on timeline
# M") or never streams. As the pg_rewind documentation asks, checkpoint a recently promoted source
# first; CHECKPOINT also hurries a spread checkpoint that is under way. Skipped when not needed.
source_timeline_checkpointed() {
  local out
  if ! out=$(as_pg env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=5 "$PGW_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=$host port=$port user=pgwarden dbname=postgres" 2>&1 <<'SQL'
SELECT c.timeline_id AS control_tli,
       ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS current_tli
  FROM pg_control_checkpoint() c \gset
SELECT :control_tli <> :current_tli AS lagging \gset
\if :lagging
CHECKPOINT;
SELECT 'checkpointed (control file on timeline ' || :control_tli || ', current ' || :current_tli || ')';
\else
SELECT 'control file on the current timeline ' || :current_tli;
\endif
SQL
  ); then
    log "could not check the timeline in $host:$port's control file: $(echo "$out" | tail -n 1)"
    return 0
  fi
  log "source $host:$port: $out"
}

# The rewound node replays WAL from the redo point of the last checkpoint both nodes share. After a
# long (spread) checkpoint under heavy writes that point can be older than what either node still keeps
# (the source's wal_keep_size; the target's own old WAL is recycled by the crash recovery pg_rewind runs
# first): the node would then wait forever for WAL that is gone ("requested WAL segment ... has already
# been removed"), as a 1 GB database rewound after its bulk load here did. Rewind cannot work then.
rewound_wal_available() {
  local seg n d tli lsn suffix segsize
  seg=$(sed -n 's/^START WAL LOCATION: .*(file \([0-9A-F]\{24\}\))$/\1/p' "$PGW_PGDATA/backup_label" 2>/dev/null || true)
  if [ -n "$seg" ] && [ ! -f "$PGW_PGDATA/pg_wal/$seg" ] && [ "$(source_wal_count "name = '$seg'")" != 1 ]; then
    echo "pg_rewind: WAL segment $seg, where replay must start, is gone on both nodes" >>"$PGW_LOG_DIR/rewind.log"
    return 1
  fi
  # The source's WAL from the point where the histories forked, on its newer timeline: gone when the
  # source wrote more than wal_keep_size since its promotion before this node came back.
  d=$(sed -n 's/^pg_rewind: servers diverged at WAL location \([0-9A-F]*\/[0-9A-F]*\) on timeline \([0-9]*\)$/\1 \2/p' "$PGW_LOG_DIR/rewind.log")
  [ -n "$d" ] || return 0
  lsn=${d% *}
  tli=${d#* }
  # A WAL file name is timeline, the LSN's high 32 bits, then its low 32 bits / the segment size.
  segsize=$(control_field 'Bytes per WAL segment')
  suffix=$(printf '%08X%08X' "0x${lsn%/*}" $((0x${lsn#*/} / ${segsize:-16777216})))
  for f in "$PGW_PGDATA"/pg_wal/????????"$suffix"; do
    [ -f "$f" ] && [ $((0x$(basename "$f" | cut -c1-8))) -gt "$tli" ] && return 0
  done
  n=$(source_wal_count "name ~ '^[0-9A-F]{8}$suffix\$' and ('x' || substr(name, 1, 8))::bit(32)::int > $tli")
  [ "$n" -ge 1 ] 2>/dev/null && return 0
  echo "pg_rewind: the source's WAL from the fork at $lsn (segment $suffix) is gone" >>"$PGW_LOG_DIR/rewind.log"
  return 1
}

source_wal_count() {
  as_pg env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=5 "$PGW_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=$host port=$port user=pgwarden dbname=postgres" \
    -c "select count(*) from pg_ls_waldir() where $1" 2>/dev/null || echo 0
}

# A node that did not shut down cleanly (killed, fenced) needs crash recovery before pg_rewind. pg_rewind's
# own (a single-user postgres) ends it with a checkpoint on the node's timeline: on a standby that is WAL
# its primary never wrote, on the same timeline, which pg_rewind cannot see ("no rewind required"), and
# the node then never streams ("record with incorrect prev-link"). So recover it as a standby instead,
# following no one and reachable only on its socket, and stop it cleanly (a restartpoint).
recover_as_standby() {
  local state
  state=$(control_field 'Database cluster state')
  case "$state" in "shut down" | "shut down in recovery") return 0 ;; esac
  log "crash recovery as a standby first (cluster state: $state)"
  as_pg touch "$PGW_PGDATA/standby.signal"
  pg_ctl_start -w -t 120 -o "-c listen_addresses='' -c primary_conninfo='' -c primary_slot_name=''" || return 1
  pg_stop fast
}

rewind() {
  [ -s "$PGW_PGDATA/PG_VERSION" ] || return 1
  recover_as_standby || {
    echo "crash recovery as a standby failed: $(tail -n 2 "$PGW_LOG_DIR/startup.log" | tr '\n' ' ')" >"$PGW_LOG_DIR/rewind.log"
    pg_stop immediate || true
    return 1
  }
  source_timeline_checkpointed
  log "pg_rewind from $host:$port"
  # pg_rewind wants no signal files (it would run a single-user postgres if the node still needed
  # recovery, and that refuses standby mode): they go for the rewind only, and standby.signal is back
  # whatever happens (pg_rewind also deletes files the source does not have, the fence marker among them).
  rm -f "$PGW_PGDATA/standby.signal" "$PGW_PGDATA/recovery.signal"
  trap 'mark_fenced "$PGW_PGDATA"' EXIT
  local ok=0
  as_pg env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=5 "$PGW_PGBIN/pg_rewind" -D "$PGW_PGDATA" \
    --source-server="host=$host port=$port user=pgwarden dbname=postgres" >"$PGW_LOG_DIR/rewind.log" 2>&1 || ok=1
  mark_fenced "$PGW_PGDATA"
  trap - EXIT
  [ "$ok" = 0 ] && rewound_wal_available
}

basebackup() {
  log "pg_basebackup from $host:$port"
  # A mount point cannot be renamed, and a copy beside it would be on another file system: refused
  # before anything is touched (PostgreSQL's own advice: PGDATA a directory inside the mounted volume).
  if mountpoint -q -- "$real_pgdata"; then
    die "the data directory $real_pgdata is a mount point: a fresh copy cannot be swapped in for it; mount the volume one level up and keep PGDATA a directory inside it (pg_rewind, METHOD=rewind, works in place)"
  fi
  # What can fail comes first (the slot, then the whole copy, beside the data directory); the old data
  # is replaced only by a complete copy, which is marked fenced and a standby before it is swapped in.
  create_slot_on "$host" "$port"
  rm -rf "$new_copy"
  if ! as_pg env PGPASSFILE="$PGPASSFILE" "$PGW_PGBIN/pg_basebackup" -h "$host" -p "$port" -U "$PGW_REPL_USER" \
    -D "$new_copy" -X stream -c fast -S "$(slot_name "$PGW_NODE")" -w >"$PGW_LOG_DIR/basebackup.log" 2>&1; then
    rm -rf "$new_copy"
    die "pg_basebackup failed: $(tail -n 3 "$PGW_LOG_DIR/basebackup.log" | tr '\n' ' ')"
  fi
  mark_fenced "$new_copy"
  if [ -e "$real_pgdata" ]; then mv "$real_pgdata" "$old_copy"; fi
  mv "$new_copy" "$real_pgdata"
  rm -rf "$old_copy"
}

case "$method" in
  standby)
    state=$(control_field 'Database cluster state')
    [ "$state" = "shut down" ] || [ "$state" = "shut down in recovery" ] ||
      die "METHOD=standby needs a cleanly shut down node; $PGW_NODE is \"$state\" (use METHOD=auto)"
    used=standby
    ;;
  rewind) rewind || die "pg_rewind failed: $(tail -n 3 "$PGW_LOG_DIR/rewind.log" | tr '\n' ' ')" ; used=rewind ;;
  basebackup) basebackup; used=basebackup ;;
  auto)
    if rewind; then
      used=rewind
    else
      log "pg_rewind failed ($(tail -n 1 "$PGW_LOG_DIR/rewind.log")); falling back to pg_basebackup"
      basebackup
      used=basebackup
    fi
    ;;
  *) die "unknown METHOD $method (auto|rewind|basebackup|standby)" ;;
esac

rm -f "$PGW_PGDATA/backup_label.old"
render_config
write_standby_settings "$host" "$port"
create_slot_on "$host" "$port"
# A proper standby of the current primary now: start.sh may start it again.
rm -f "$PGW_PGDATA/$FENCE_MARKER"
wait_s=${PGW_PARAM_WAIT_SECONDS:-120}
if [ "$wait_s" = 0 ]; then
  pg_start
  result method=$used
  exit 0
fi
# A rewound node (or a fresh copy) replays the primary's WAL from the last common checkpoint before it
# accepts connections: on a large or busy database that can take longer than pg_ctl's 60 s, which
# failed the step without saying why. Wait as long as the caller allows instead, and fail at once if
# the postmaster exits.
# A postmaster that refuses to start removes its pid file as it exits, so its absence alone says
# nothing in the first moment; a FATAL or PANIC line that this start added to one of the node's logs
# does: the startup log (errors before the logging collector starts, e.g. a bad setting) or a server
# log (later ones, e.g. a socket lock file that a live process holds). Both are read from where they
# ended before the start, and only while no postmaster runs: a running one logs FATAL for every
# connection refused while it starts up. The reason given is start_failure's.
declare -A log_offset=()
mark_logs() {
  local f
  for f in "$PGW_LOG_DIR/startup.log" "$PGW_LOG_DIR"/postgresql-*.log; do
    [ -f "$f" ] && log_offset[$f]=$(stat -c %s "$f")
  done
  return 0
}
new_fatal_lines() {
  local f
  for f in "$PGW_LOG_DIR/startup.log" "$PGW_LOG_DIR"/postgresql-*.log; do
    [ -f "$f" ] || continue
    # (a process substitution: with pipefail, tail's SIGPIPE after an early match would fail a pipe)
    grep -qE 'FATAL|PANIC' < <(tail -c +$((${log_offset[$f]:-0} + 1)) "$f" 2>/dev/null) && return 0
  done
  return 1
}
started_or_dead() {
  accepting_connections && return 0
  if ! is_running; then
    # The pid file is empty for a moment after the postmaster creates it: only a pid that names an
    # exited process is a dead start.
    local pid
    if read_pid_file "$PGW_PGDATA/postmaster.pid" pid && ! process_alive "$pid" || new_fatal_lines; then
      die "$PGW_NODE exited while starting: $(start_failure)"
    fi
  fi
  return 1
}
if is_running; then
  log "already running"
else
  release_stale_segment
  rm -f "$PGW_PGDATA/postmaster.pid"
  mark_logs
  pg_ctl_start -W
fi
t_start=$SECONDS
wait_until "$wait_s" "$PGW_NODE to replay up to a consistent point and accept connections" started_or_dead
wait_until $((wait_s - (SECONDS - t_start) > 1 ? wait_s - (SECONDS - t_start) : 1)) \
  "$PGW_NODE to stream from $host:$port" is_streaming_from "$host" "$port"
result method=$used

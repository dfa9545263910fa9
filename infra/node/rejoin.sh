#!/usr/bin/env bash
# Rejoin this node as a standby of the current primary (failback). pg_rewind to the primary's
# timeline; when rewind cannot work, a fresh pg_basebackup. Idempotent: a node that already streams
# from the primary is left alone.
# METHOD=standby is the switchover's old primary: cleanly shut down, its WAL a prefix of the new
# primary's, so it only needs standby settings (refused when the node was not shut down cleanly).
# Parameters: PRIMARY_HOST, PRIMARY_PORT, METHOD (auto|rewind|basebackup|standby, default auto),
#             WAIT_SECONDS (default 120; 0 = return once started).
. "$(dirname "$0")/lib.sh"
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
if is_running; then poll_until 30 accepting_connections || true; fi
pg_stop fast || pg_stop immediate
# Fencing leaves processes killed and standby.signal behind; single-user crash recovery (run by
# pg_rewind) refuses standby mode, so the signal files go until we write them again below.
[ -z "$(node_pids)" ] || die "processes of $PGW_NODE are still running"
rm -f "$PGW_PGDATA/postmaster.pid" "$PGW_PGDATA/standby.signal" "$PGW_PGDATA/recovery.signal"

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

rewind() {
  [ -s "$PGW_PGDATA/PG_VERSION" ] || return 1
  source_timeline_checkpointed
  log "pg_rewind from $host:$port"
  as_pg env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=5 "$PGW_PGBIN/pg_rewind" -D "$PGW_PGDATA" \
    --source-server="host=$host port=$port user=pgwarden dbname=postgres" >"$PGW_LOG_DIR/rewind.log" 2>&1
}

basebackup() {
  log "pg_basebackup from $host:$port"
  local aside=""
  if [ -d "$PGW_PGDATA" ]; then
    # Keep the old data until the new copy is complete: nothing is lost if the backup fails.
    aside="$PGW_PGDATA.rejoin-$(date +%s)"
    mv "$PGW_PGDATA" "$aside"
  fi
  create_slot_on "$host" "$port"
  if as_pg env PGPASSFILE="$PGPASSFILE" "$PGW_PGBIN/pg_basebackup" -h "$host" -p "$port" -U "$PGW_REPL_USER" \
    -D "$PGW_PGDATA" -X stream -c fast -S "$(slot_name "$PGW_NODE")" -w >"$PGW_LOG_DIR/basebackup.log" 2>&1; then
    [ -z "$aside" ] || rm -rf "$aside"
  else
    rm -rf "$PGW_PGDATA"
    [ -z "$aside" ] || mv "$aside" "$PGW_PGDATA"
    die "pg_basebackup failed: $(tail -n 3 "$PGW_LOG_DIR/basebackup.log" | tr '\n' ' ')"
  fi
}

cluster_state() { as_pg "$PGW_PGBIN/pg_controldata" -D "$PGW_PGDATA" 2>/dev/null | sed -n 's/^Database cluster state: *//p'; }

case "$method" in
  standby)
    state=$(cluster_state)
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

rm -f "$PGW_PGDATA/pgwarden.fenced" "$PGW_PGDATA/backup_label.old"
render_config
write_standby_settings "$host" "$port"
create_slot_on "$host" "$port"
pg_start
wait_s=${PGW_PARAM_WAIT_SECONDS:-120}
[ "$wait_s" = 0 ] || wait_until "$wait_s" "$PGW_NODE to stream from $host:$port" is_streaming_from "$host" "$port"
result method=$used

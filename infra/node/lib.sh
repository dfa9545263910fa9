#!/usr/bin/env bash
# Shared by every node script. The same files run on an EC2 node (through SSM Run Command, as root)
# and in the lab (spawned locally). Node settings come from an env file, action parameters from
# PGW_PARAM_* variables. Each script sources this file from its own folder with builtins (no dirname
# process): on a busy VM every process started costs 20-40 ms, and several scripts run on the
# failover's critical path.
set -euo pipefail

PGW_NODE_ENV=${PGW_NODE_ENV:-/etc/pgwarden/node.env}
if [ ! -r "$PGW_NODE_ENV" ]; then
  echo "pgwarden: node env file $PGW_NODE_ENV is missing or unreadable" >&2
  exit 2
fi
set -a # exported: psql reads the secrets with \getenv, never from its command line
# shellcheck disable=SC1090
. "$PGW_NODE_ENV"
if [ -n "${PGW_SECRETS_ENV:-}" ] && [ -r "$PGW_SECRETS_ENV" ]; then
  # shellcheck disable=SC1090
  . "$PGW_SECRETS_ENV"
fi
set +a

PGW_PGBIN=${PGW_PGBIN:-/usr/lib/postgresql/15/bin}
PGW_OS_USER=${PGW_OS_USER:-postgres}
PGW_HOST=${PGW_HOST:-127.0.0.1}
PGW_LISTEN=${PGW_LISTEN:-$PGW_HOST}
PGW_SUPERUSER=${PGW_SUPERUSER:-postgres}
PGW_REPL_USER=${PGW_REPL_USER:-replicator}
PGW_HBA_CIDR=${PGW_HBA_CIDR:-127.0.0.1/32}
# This folder (AWS: /opt/pgwarden/node, whose env files do not name it), found with builtins.
if [ -z "${PGW_NODE_SCRIPTS:-}" ]; then
  case ${BASH_SOURCE[0]} in
    /*/*) PGW_NODE_SCRIPTS=${BASH_SOURCE[0]%/*} ;;
    */*) PGW_NODE_SCRIPTS=$PWD/${BASH_SOURCE[0]%/*} ;;
    *) PGW_NODE_SCRIPTS=$PWD ;;
  esac
fi
# TLS, when the node env names a certificate (PGW_SSL_CERT, PGW_SSL_KEY, PGW_SSL_CA): the server
# accepts TLS connections only, and every libpq client started from here (pg_basebackup, pg_rewind,
# psql over TCP, the walreceiver of a postmaster started here) verifies the server against the CA.
# Unix-socket connections are not affected (libpq ignores sslmode there).
if [ -n "${PGW_SSL_CA:-}" ]; then
  export PGSSLMODE=verify-full PGSSLROOTCERT=$PGW_SSL_CA
fi

log() { printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "${PGW_NODE:-?}" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
# Print a machine-readable result line (the caller parses the last `result` line of stdout).
result() { printf 'result %s\n' "$*"; }

# PostgreSQL refuses to run as root: drop to the database OS user when we are root.
as_pg() {
  if [ "$EUID" = 0 ]; then
    runuser -u "$PGW_OS_USER" -- "$@"
  else
    "$@"
  fi
}

psql_local() {
  as_pg env PGCONNECT_TIMEOUT=3 "$PGW_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGW_SOCKET_DIR" -p "$PGW_PORT" \
    -U "$PGW_SUPERUSER" -d postgres -At "$@"
}

# The pid on the first line of a pid or lock file (postmaster.pid, a socket lock) into the variable
# named $2; fails when the file is missing or its first line is no pid (empty while being written).
# Builtins only, as postmaster_pid.
read_pid_file() {
  local -n pid_out=$2
  pid_out=""
  { read -r pid_out <"$1"; } 2>/dev/null || true
  [[ $pid_out =~ ^[0-9]+$ ]]
}

# Builtins only: it runs in every poll of a start or stop, where each process started costs 5-30 ms
# on a busy VM (head and two readlinks took 100 ms of a switchover's stop).
postmaster_pid() {
  local pid
  read_pid_file "$PGW_PGDATA/postmaster.pid" pid || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid is not our postmaster: its working directory must be our data directory (-ef: the
  # same directory, whatever links lead there).
  [ "/proc/$pid/cwd" -ef "$PGW_PGDATA" ] || return 1
  echo "$pid"
}

is_running() { postmaster_pid >/dev/null; }

# One field of the control file, e.g. control_field 'Bytes per WAL segment'.
control_field() { "$PGW_PGBIN/pg_controldata" -D "$PGW_PGDATA" 2>/dev/null | sed -n "s/^$1: *//p"; }

# The process exists and has not exited (a zombie, exited but not yet reaped, e.g. by a container's
# init that reaps lazily, counts as gone).
# Builtins only (no process started): stop.sh polls it every 10 ms while the server shuts down.
process_alive() {
  local k v
  {
    while read -r k v; do
      [ "$k" = State: ] || continue
      [ "${v:0:1}" != Z ]
      return
    done <"/proc/$1/status"
  } 2>/dev/null || return 1
  return 1
}

# The pid in this pgpool's pid file (pgpool writes it with its terminating NUL byte, which a plain
# $(cat) reads with a warning); fails when there is no pid file.
pgpool_pid() {
  [ -r "$PGW_PGPOOL_DIR/run/pgpool.pid" ] && tr -d '\0\n' <"$PGW_PGPOOL_DIR/run/pgpool.pid"
}

# Removes the SysV shared memory segment a killed postmaster of this data directory left (its key and
# id on line 7 of postmaster.pid), when nothing is attached to it any more; call it before deleting a
# stale postmaster.pid or the directory: PostgreSQL removes such a segment at its next start only if
# the pid file still names it, and otherwise it stays in the kernel for good (shmmni limits them).
release_stale_segment() {
  local f="${1:-$PGW_PGDATA}/postmaster.pid" key id
  [ -r "$f" ] || return 0
  read -r key id < <(sed -n 7p "$f") || true
  case "$key$id" in '' | *[!0-9]*) return 0 ;; esac
  # /proc/sysvipc/shm: key shmid perms size cpid lpid nattch ...
  if awk -v k="$key" -v i="$id" 'NR > 1 && $1 == k && $2 == i && $7 == 0 { found = 1 } END { exit !found }' /proc/sysvipc/shm; then
    ipcrm -m "$id" 2>/dev/null && log "removed the shared memory segment $id (key $key) a killed postmaster left"
  fi
  return 0
}

# This pgpool's main process when its pid file is gone: the session leader (pgpool-start.sh runs it
# under setsid) whose command line names this pgpool's own configuration file. Seen once in CI during
# a failover: a process other than pgpool's main one ran the main one's exit callbacks ("system_will_go_down
# called from invalid process" in pgpool's log), which unlink the pid file and remove the semaphores,
# while the main process lived on, holding the ports. Which process it was is not known yet.
pgpool_pid_by_config() {
  local p sid
  for p in $(pgrep -f -- "-f $PGW_PGPOOL_DIR/pgpool.conf( |\$)" || true); do
    sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ')
    [ "$sid" = "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

# pcp_* command (pcp_node_info, pcp_attach_node, ...) against this pgpool instance. A PCP client over
# TCP, run as whoever runs the script (libpcp reads the 0600 pcppass file; root may): no runuser, whose
# PAM session costs more than the command on the failover's path (a detach, the attaches).
pcp() {
  PCPPASSFILE="$PGW_PGPOOL_DIR/pcppass" "${PGW_PGPOOL_BIN:-/usr/sbin}/$1" \
    -h 127.0.0.1 -p "$PGW_PCP_PORT" -U pgwarden -w "${@:2}"
}

# This pgpool's own view of backend $1, from its shared memory, into backend_host, backend_port and
# backend_status (up, waiting, down, quarantine or unused). pcp_health_check_stats, not pcp_node_info:
# pcp_node_info also pings the backend and connects to it for its role, so a backend that drops
# traffic (a partition, a frozen host) held it for libpq's 2 s minimum connect_timeout, on the
# failover's path. Variables, not output: the caller needs no command substitution (a fork) for it.
read_pgpool_backend() {
  local info
  backend_host="" backend_port="" backend_status=""
  info=$(pcp pcp_health_check_stats -n "$1") || return 1
  # terse form: node_id host port status role last_status_change ...
  read -r _ backend_host backend_port backend_status _ <<<"$info"
  [ -n "$backend_status" ]
}

# The control file's cluster state and latest checkpoint into $state and $lsn. pg_controldata only
# reads a file, so root runs it directly (no runuser on a switchover's path). Fails when the file is
# missing or was read while being rewritten (CRC mismatch).
read_control() {
  state=""
  lsn=""
  [ -s "$PGW_PGDATA/global/pg_control" ] || return 1
  local ctl nl=$'\n'
  ctl=$("$PGW_PGBIN/pg_controldata" -D "$PGW_PGDATA" 2>&1) || return 1
  # a control file read while it was written fails its CRC check: not read
  [[ $ctl != *CRC* ]] || return 1
  # parsed with bash's own matching: one process (pg_controldata) per read, not four
  local re_state="(^|$nl)Database cluster state: *([^$nl]*)" re_lsn="(^|$nl)Latest checkpoint location: *([^$nl]*)"
  if [[ $ctl =~ $re_state ]]; then state=${BASH_REMATCH[2]}; fi
  if [[ $ctl =~ $re_lsn ]]; then lsn=${BASH_REMATCH[2]}; fi
  [ -n "$state" ]
}

is_in_recovery() { [ "$(psql_local -c 'select pg_is_in_recovery()')" = "t" ]; }

# Every process whose working directory is this node's data directory: the postmaster and all
# its backends, including backends orphaned by a SIGKILL of the postmaster. Into the array NODE_PIDS,
# with builtins only (-ef: the same directory, whatever links lead there; a zombie has no cwd): fence.sh
# scans /proc with it on the failover's critical path, where on a busy VM every process started (find,
# readlink, a command substitution's fork) cost 20-40 ms.
collect_node_pids() {
  local p
  NODE_PIDS=()
  for p in /proc/[0-9]*; do
    [ "$p/cwd" -ef "$PGW_PGDATA" ] && NODE_PIDS+=("${p#/proc/}")
  done
  return 0
}

wait_until() {
  # wait_until <timeout-seconds> <description> <command...>: poll a condition with a deadline.
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then die "timed out after ${timeout}s waiting for $what"; fi
    sleep 0.05
  done
}

# poll_until <timeout-seconds> <command...>: like wait_until, but returns 1 instead of failing.
poll_until() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

accepting_connections() { as_pg "$PGW_PGBIN/pg_isready" -q -h "$PGW_SOCKET_DIR" -p "$PGW_PORT" -t 1; }

pg_start() {
  if is_running; then
    log "already running"
    return 0
  fi
  local attempt why
  for attempt in 1 2; do
    rm -f "$PGW_PGDATA/postmaster.pid"
    if pg_ctl_start -w -t 60; then
      wait_until 60 "$PGW_NODE to accept connections" accepting_connections
      return 0
    fi
    why=$(start_failure)
    # Processes of a node killed a moment ago may still hold its port or lock file (an init that reaps
    # lazily): once more, when they are gone.
    if [ "$attempt" = 1 ] && echo "$why" | grep -qiE 'already in use|lock file|another server'; then
      log "start failed ($why); retrying once the old processes are gone"
      poll_until 10 no_node_pids || true
      continue
    fi
    die "PostgreSQL on $PGW_NODE did not start: $why"
  done
}

# Why the last start failed: the last FATAL/PANIC lines of pg_ctl's log and of the newest server log
# (the glob's order is the weekday's name, not time), else the end of pg_ctl's log. The FATAL lines
# come first: the startup log's chatter ("redirecting log output...") filled the 600 characters.
start_failure() {
  local server why
  server=$(ls -t "$PGW_LOG_DIR"/postgresql-*.log 2>/dev/null | head -n 1 || true)
  why=$(grep -hE 'FATAL|PANIC' "$PGW_LOG_DIR/startup.log" ${server:+"$server"} 2>/dev/null | tail -n 3 || true)
  [ -n "$why" ] || why=$(tail -n 5 "$PGW_LOG_DIR/startup.log" 2>/dev/null || true)
  printf '%s\n' "$why" | tr '\n' ' ' | cut -c1-600
}

no_node_pids() {
  collect_node_pids
  [ "${#NODE_PIDS[@]}" -eq 0 ]
}

# pg_ctl start of this node with the given options (pg_ctl's own output to startup.log), once a
# socket lock that a dead postmaster left is cleared: every start of a node goes through here.
pg_ctl_start() {
  clear_stale_socket_lock
  as_pg "$PGW_PGBIN/pg_ctl" -D "$PGW_PGDATA" -l "$PGW_LOG_DIR/startup.log" -s "$@" start
}

# The Unix socket's lock file names the postmaster that held it. PostgreSQL takes a zombie (exited,
# not yet reaped: this sandbox's init reaps lazily) for a live postmaster and refuses to start, so a
# lock whose process is gone or a zombie is removed; a live one is left for PostgreSQL to refuse.
clear_stale_socket_lock() {
  [ -n "${PGW_SOCKET_DIR:-}" ] && [ -n "${PGW_PORT:-}" ] || return 0
  local f="$PGW_SOCKET_DIR/.s.PGSQL.$PGW_PORT.lock" pid
  read_pid_file "$f" pid || return 0
  if ! process_alive "$pid"; then
    log "removing the stale socket lock of exited process $pid"
    rm -f "$f"
  fi
}

# A fenced data directory (fence.sh, or a rejoin under way or interrupted) may hold the old timeline
# of a primary that was replaced: only the rejoin (rewind or fresh copy, then standby settings) may
# start it again. It clears the marker once the directory is a proper standby.
FENCE_MARKER=pgwarden.fenced
refuse_fenced() {
  local m="$PGW_PGDATA/$FENCE_MARKER"
  [ -e "$m" ] || return 0
  log "ERROR: $PGW_NODE is fenced ($(head -n 1 "$m" 2>/dev/null || echo "marker $m")): not starting it; rejoin it as a standby (pgwarden rejoin $PGW_NODE)"
  result refused=fenced
  exit 3
}

pg_stop() {
  local mode=${1:-fast}
  if ! is_running; then
    return 0
  fi
  as_pg "$PGW_PGBIN/pg_ctl" -D "$PGW_PGDATA" -m "$mode" -w -t 60 -s stop
}

# Node-specific configuration lives in the rendered postgresql.conf. pg_rewind and pg_basebackup copy
# the source's configuration files, so this runs again after either of them.
render_config() {
  local conf="$PGW_PGDATA/postgresql.conf"
  {
    echo "# Rendered by pgwarden infra/node/lib.sh for node $PGW_NODE. Edit the templates, not this file."
    cat "$PGW_NODE_SCRIPTS/postgresql.base.conf"
    if [ -r "$PGW_NODE_SCRIPTS/postgresql.logging.conf" ]; then
      echo
      cat "$PGW_NODE_SCRIPTS/postgresql.logging.conf"
    fi
    echo
    echo "# --- node $PGW_NODE"
    echo "cluster_name = 'pgw-$PGW_NODE'"
    echo "listen_addresses = '$PGW_LISTEN'"
    echo "port = $PGW_PORT"
    echo "unix_socket_directories = '$PGW_SOCKET_DIR'"
    echo "log_directory = '$PGW_LOG_DIR'"
    if [ -n "${PGW_SSL_CERT:-}" ]; then
      echo "ssl = on"
      echo "ssl_cert_file = '$PGW_SSL_CERT'"
      echo "ssl_key_file = '$PGW_SSL_KEY'"
      echo "ssl_ca_file = '$PGW_SSL_CA'"
      echo "ssl_min_protocol_version = 'TLSv1.2'"
    fi
    if [ -n "${PGW_EXTRA_CONF:-}" ]; then printf '%b\n' "$PGW_EXTRA_CONF"; fi
  } >"$conf.tmp"
  # With a certificate, TCP connections must use TLS: no line matches a plain one, so it is refused.
  local tcp=host
  if [ -n "${PGW_SSL_CERT:-}" ]; then tcp=hostssl; fi
  {
    echo "# Rendered by pgwarden infra/node/lib.sh"
    echo "local   all          all                      trust"
    printf '%-7s replication  %s  %s  scram-sha-256\n' "$tcp" "$PGW_REPL_USER" "$PGW_HBA_CIDR"
    printf '%-7s all          all             %s  scram-sha-256\n' "$tcp" "$PGW_HBA_CIDR"
  } >"$PGW_PGDATA/pg_hba.conf.tmp"
  chown_pg "$conf.tmp" "$PGW_PGDATA/pg_hba.conf.tmp"
  mv "$conf.tmp" "$conf"
  mv "$PGW_PGDATA/pg_hba.conf.tmp" "$PGW_PGDATA/pg_hba.conf"
}

chown_pg() {
  if [ "$EUID" = 0 ]; then chown "$PGW_OS_USER" "$@"; fi
}

# The standby's connection to its upstream. Written into postgresql.auto.conf (which ALTER SYSTEM
# also manages), so that a reload is enough to follow a new primary.
primary_conninfo() {
  local host=$1 port=$2
  local tls=""
  if [ -n "${PGW_SSL_CA:-}" ]; then tls=" sslmode=verify-full sslrootcert=$PGW_SSL_CA"; fi
  echo "host=$host port=$port user=$PGW_REPL_USER passfile=$PGW_PGPASS application_name=$PGW_NODE connect_timeout=2 keepalives_idle=2 keepalives_interval=1 keepalives_count=2$tls"
}

write_standby_settings() {
  local host=$1 port=$2
  local auto="$PGW_PGDATA/postgresql.auto.conf"
  {
    echo "# Do not edit this file manually! It will be overwritten by the ALTER SYSTEM command."
    echo "primary_conninfo = '$(primary_conninfo "$host" "$port")'"
    echo "primary_slot_name = '$(slot_name "$PGW_NODE")'"
  } >"$auto.tmp"
  chown_pg "$auto.tmp"
  mv "$auto.tmp" "$auto"
  as_pg touch "$PGW_PGDATA/standby.signal"
}

slot_name() { echo "pgw_${1//[^a-zA-Z0-9_]/_}"; }

# Replication passwords come from a pgpass file readable only by the database OS user.
ensure_pgpass() {
  [ -n "${PGW_PGPASS:-}" ] || die "PGW_PGPASS is not set in $PGW_NODE_ENV"
  [ -r "$PGW_PGPASS" ] || die "pgpass file $PGW_PGPASS is missing"
  export PGPASSFILE=$PGW_PGPASS
}

require_param() {
  local name="PGW_PARAM_$1"
  [ -n "${!name:-}" ] || die "missing parameter $1"
}

# A pgpool backend number (NODE_ID). pcp reads "x" as 0: checked here, before anything is asked.
require_backend_id() {
  require_param NODE_ID
  [[ $PGW_PARAM_NODE_ID =~ ^[0-9]{1,3}$ ]] || die "NODE_ID must be a pgpool backend number, got \"$PGW_PARAM_NODE_ID\""
}

# Create this node's physical slot on an upstream over a replication connection (idempotent).
create_slot_on() {
  local host=$1 port=$2 out
  if ! out=$(as_pg env PGPASSFILE="$PGPASSFILE" PGCONNECT_TIMEOUT=3 "$PGW_PGBIN/psql" -X -q -At \
    "host=$host port=$port user=$PGW_REPL_USER dbname=replication replication=true" \
    -c "CREATE_REPLICATION_SLOT $(slot_name "$PGW_NODE") PHYSICAL RESERVE_WAL" 2>&1); then
    case "$out" in
      *"already exists"*) log "slot $(slot_name "$PGW_NODE") already exists on $host:$port" ;;
      *) die "could not create slot on $host:$port: $out" ;;
    esac
  fi
}

is_streaming_from() {
  local host=$1 port=$2
  [ "$(psql_local -c "select count(*) from pg_stat_wal_receiver where status = 'streaming' and sender_host = '$host' and sender_port = $port" 2>/dev/null)" = 1 ]
}

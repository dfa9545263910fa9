#!/usr/bin/env bash
# Render this pgpool-II (4.5 or later) instance's configuration: streaming-replication mode, reads
# load-balanced to standbys, health check, PCP, scram through pool_passwd. pgpool is a router here,
# never a second brain: its failover_command only reports to pgwarden (pgpool-failover-hook.sh), and the
# pgwarden workflow is the only thing that promotes. Idempotent.
# Settings (pgpool env file): PGW_PGPOOL_DIR, PGW_PGPOOL_PORT, PGW_PCP_PORT, PGW_BACKENDS
# ("name=host:port ..." in backend id order), PGW_TRIGGER_CMD, secrets PGW_PW_*.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
d=$PGW_PGPOOL_DIR
# pgpool-II 4.5 or later: older releases end the session of every client that runs a statement while
# a failover, failback or detach is processed, whatever node the session uses.
version=$("${PGW_PGPOOL_BIN:-/usr/sbin}/pgpool" --version 2>&1 | sed -n 's/.*version \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
[ -n "$version" ] || die "no pgpool-II in ${PGW_PGPOOL_BIN:-/usr/sbin}"
read -r major minor <<<"$version"
[ "$major" -gt 4 ] || { [ "$major" -eq 4 ] && [ "$minor" -ge 5 ]; } ||
  die "pgpool-II $major.$minor is older than 4.5: it ends client sessions during a failover or detach"
mkdir -p "$d/run" "$d/log"
chown_pg "$d" "$d/run" "$d/log"
chmod 700 "$d/run"

backends=""
i=0
for b in $PGW_BACKENDS; do
  name=${b%%=*}
  hp=${b#*=}
  backends+="backend_hostname$i = '${hp%:*}'
backend_port$i = ${hp##*:}
backend_weight$i = ${PGW_BACKEND_WEIGHT:-1}
backend_flag$i = 'ALLOW_TO_FAILOVER'
backend_application_name$i = '$name'
"
  i=$((i + 1))
done

# TLS (PGW_SSL_CERT, PGW_SSL_KEY, PGW_SSL_CA): clients must use it (pool_hba hostssl), and pgpool
# speaks it to the backends too, checking their certificate chain against the CA (pgpool checks no
# host name; a backend never accepts the plain fallback: its pg_hba has hostssl lines only).
tls=""
tcp=host
if [ -n "${PGW_SSL_CERT:-}" ]; then
  tls="ssl = on
ssl_cert = '$PGW_SSL_CERT'
ssl_key = '$PGW_SSL_KEY'
ssl_ca_cert = '$PGW_SSL_CA'
ssl_min_protocol_version = 'TLSv1.2'"
  tcp=hostssl
fi

cat >"$d/pgpool.conf.tmp" <<CONF
# Rendered by pgwarden infra/node/configure-pgpool.sh for $PGW_NODE. Edit the script, not this file.
backend_clustering_mode = 'streaming_replication'
listen_addresses = '${PGW_PGPOOL_LISTEN:-127.0.0.1}'
port = $PGW_PGPOOL_PORT
# Its Unix socket in its own run directory, for its OS user only (pgpool 4.5+ ignores socket_dir and
# would put a world-writable socket in /tmp).
unix_socket_directories = '$d/run'
unix_socket_permissions = 0700
# PCP (no TLS in pgpool) never leaves the host: every pcp_* call runs here, through the node scripts.
pcp_listen_addresses = '127.0.0.1'
pcp_port = $PGW_PCP_PORT
pcp_socket_dir = '$d/run'
wd_ipc_socket_dir = '$d/run'
pid_file_name = '$d/run/pgpool.pid'
logdir = '$d/log'
log_destination = 'stderr'
log_line_prefix = '%m: %a pid %p: '
# PGW_PGPOOL_LOG_LEVEL=info adds pgpool's LOG lines (its failover processing) to its warnings and
# errors. Not 'log': as in PostgreSQL, log_min_messages ranks LOG above ERROR, so 'log' drops every
# WARNING and ERROR line (a failed bind of the PCP port, the errors children send their clients).
log_min_messages = ${PGW_PGPOOL_LOG_LEVEL:-warning}
log_connections = off

$backends
$tls
enable_pool_hba = on
pool_passwd = 'pool_passwd'
allow_clear_text_frontend_auth = off

num_init_children = ${PGW_PGPOOL_CHILDREN:-32}
max_pool = 2
child_life_time = 0
connection_life_time = 0
client_idle_limit = 0
reserved_connections = 0

load_balance_mode = on
disable_load_balance_on_write = 'transaction'
statement_level_load_balance = off
# The extended query protocol (node-postgres for every parameterized query) costs what the simple one
# does only with pgwarden's pgpool patch 0004 (infra/local/pgpool-patches/: one write per client
# pipeline instead of one per message, no Sync to nodes the pipeline did not reach, the answers to the
# client in one write); no setting does it. Measured per pgbench tpcb-like transaction through 4.6.1
# with patches 0001-0002 (write/read calls of pgpool, extended protocol; simple: 24/32): these 96/92;
# statement_level_load_balance = on 108/100 (a node per statement: BEGIN and END reach more nodes);
# load_balance_mode = off 84/84 (the Sync still goes to every node) and no read balancing;
# disable_load_balance_on_write = 'always' 96/92. With the patch: 16/32.
# Reads go to standbys (any of them, by weight); the primary serves them only when no standby is up.
database_redirect_preference_list = '.*:standby'

# The streaming-replication check (replication delay for delay_threshold, SHOW POOL_NODES) holds a lock
# that pgpool's search for the primary waits on, a second at a time: a check that is under way when a
# failover or failback starts (and that stalls on the node going down) adds a second to it. Every 10 s
# makes that rare; reads move off a standby lagging by more than delay_threshold within 10 s.
sr_check_period = ${PGW_SR_CHECK_PERIOD:-10}
sr_check_user = 'pgpool'
sr_check_password = ''
sr_check_database = 'postgres'
delay_threshold = ${PGW_DELAY_THRESHOLD_BYTES:-16777216}

health_check_period = ${PGW_HEALTH_CHECK_PERIOD:-1}
health_check_timeout = ${PGW_HEALTH_CHECK_TIMEOUT:-2}
health_check_user = 'pgpool'
health_check_password = ''
health_check_database = 'postgres'
health_check_max_retries = ${PGW_HEALTH_CHECK_RETRIES:-0}
health_check_retry_delay = 1
# Both timeouts outlast Linux's first SYN retransmission (1 s after the SYN): at 1 s, one dropped SYN
# failed a health check (in AWS, with no retry, a detached primary and a false-alarm failover).
connect_timeout = ${PGW_CONNECT_TIMEOUT_MS:-2000}

# pgpool only reports the event to pgwarden (a detach a workflow asked for is not reported: the hook
# takes pgpool-detach.sh's marker and returns at once).
failover_command = '${PGW_FAILOVER_COMMAND-$PGW_NODE_SCRIPTS/pgpool-failover-hook.sh %d %h %p %m %P %M %H %r %N %S}'
follow_primary_command = '${PGW_FOLLOW_PRIMARY_COMMAND-}'
failover_on_backend_error = on
failover_on_backend_shutdown = on
detach_false_primary = off
search_primary_node_timeout = ${PGW_SEARCH_PRIMARY_TIMEOUT:-10}
auto_failback = off

use_watchdog = off
memory_cache_enabled = off
CONF

{
  echo "# Rendered by pgwarden: scram/md5 clients, checked against pool_passwd"
  echo "local all all scram-sha-256"
  echo "$tcp all all ${PGW_HBA_CIDR:-127.0.0.1/32} scram-sha-256"
} >"$d/pool_hba.conf.tmp"

umask 077
{
  echo "pgpool:TEXT$PGW_PW_PGPOOL"
  echo "app:TEXT$PGW_PW_APP"
  # Not pgwarden (the automation role): its sessions go to the nodes directly; through a pgpool,
  # pgwarden's Lambdas log in as pgpool.
  # Never a superuser: a pgpool host holds no password that can run a shell on the nodes.
} >"$d/pool_passwd.tmp"
echo "pgwarden:$(printf '%s' "$PGW_PW_PCP" | md5sum | cut -d' ' -f1)" >"$d/pcp.conf.tmp"
echo "127.0.0.1:$PGW_PCP_PORT:pgwarden:$PGW_PW_PCP" >"$d/pcppass.tmp"
for f in pgpool.conf pool_hba.conf pool_passwd pcp.conf pcppass; do
  chown_pg "$d/$f.tmp"
  mv "$d/$f.tmp" "$d/$f"
done
chmod 600 "$d/pcppass" "$d/pool_passwd" "$d/pcp.conf"
result configured="$d/pgpool.conf" backends=$i

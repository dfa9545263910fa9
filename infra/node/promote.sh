#!/usr/bin/env bash
# Promote this standby to primary. Idempotent: a node that is already primary only gets its
# settings ensured. Only the failover/switchover workflow calls this (pgpool never does).
# Parameters: SYNC_STANDBYS (synchronous_standby_names for the new primary, may be empty),
#             SLOTS (comma-separated standby names that need a replication slot here).
. "$(dirname "$0")/lib.sh"
is_running || die "PostgreSQL is not running on $PGW_NODE"

# Slots first (possible on a standby), so that repointed standbys can stream the moment we promote.
IFS=',' read -r -a slots <<<"${PGW_PARAM_SLOTS:-}"
for s in "${slots[@]}"; do
  [ -n "$s" ] || continue
  psql_local -c "select pg_create_physical_replication_slot('$(slot_name "$s")', true) where not exists (select from pg_replication_slots where slot_name = '$(slot_name "$s")')" >/dev/null
done
PGW_SYNC="${PGW_PARAM_SYNC_STANDBYS:-}" psql_local <<'SQL' >/dev/null
\getenv sync PGW_SYNC
ALTER SYSTEM SET synchronous_standby_names = :'sync';
SELECT pg_reload_conf();
SQL

if is_in_recovery; then
  log "promoting"
  [ "$(psql_local -c 'select pg_promote(true, 60)')" = "t" ] || die "pg_promote did not complete"
  was=standby
else
  was=primary
fi
psql_local -c "ALTER SYSTEM RESET primary_conninfo" -c "ALTER SYSTEM RESET primary_slot_name" -c "select pg_reload_conf()" >/dev/null
rm -f "$PGW_PGDATA/pgwarden.fenced"
tl=$(psql_local -c "select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
lsn=$(psql_local -c "select pg_current_wal_lsn()")
result was=$was timeline="$tl" lsn="$lsn"

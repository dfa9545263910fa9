#!/usr/bin/env bash
# Promote this standby to primary, in one database session: replication slots for the standbys that
# will follow it (possible while still a standby), the synchronous quorum it must honour from its
# first commit, no upstream any more, then pg_promote. Idempotent: a node that is already primary
# only gets its settings ensured. Only the failover/switchover workflows call this; pgpool never does.
# Parameters: SYNC_STANDBYS (synchronous_standby_names for the new primary, may be empty),
#             SLOTS (comma-separated standby names that need a replication slot here).
. "$(dirname "$0")/lib.sh"
is_running || die "PostgreSQL is not running on $PGW_NODE"
out=$(PGW_SYNC="${PGW_PARAM_SYNC_STANDBYS:-}" PGW_SLOTS="${PGW_PARAM_SLOTS:-}" psql_local <<'SQL'
\getenv sync PGW_SYNC
\getenv slots PGW_SLOTS
SELECT pg_is_in_recovery() AS was_standby \gset
SELECT count(pg_create_physical_replication_slot(s, true))
  FROM (SELECT 'pgw_' || regexp_replace(n, '[^a-zA-Z0-9_]', '_', 'g') AS s
          FROM unnest(string_to_array(:'slots', ',')) AS n WHERE n <> '') w
 WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = w.s) \gset
ALTER SYSTEM SET synchronous_standby_names = :'sync';
ALTER SYSTEM RESET primary_conninfo;
ALTER SYSTEM RESET primary_slot_name;
SELECT pg_reload_conf() \gset
SELECT CASE WHEN pg_is_in_recovery() THEN pg_promote(true, 60) ELSE true END AS promoted \gset
SELECT :'was_standby' AS was_standby, :'promoted' AS promoted,
       ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS timeline,
       pg_current_wal_lsn() AS lsn;
SQL
)
IFS='|' read -r was_standby promoted tl lsn <<<"$out"
[ "$promoted" = t ] || die "pg_promote did not complete ($out)"
rm -f "$PGW_PGDATA/pgwarden.fenced"
if [ "$was_standby" = t ]; then was=standby; else was=primary; fi
result was=$was timeline="$tl" lsn="$lsn"

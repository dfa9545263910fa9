#!/usr/bin/env bash
# Promote this standby to primary, in one database session: replication slots for the standbys that
# will follow it (possible while still a standby), the synchronous quorum it must honour from its
# first commit, no upstream any more, then pg_promote. Idempotent: a node that is already primary
# only gets its settings ensured. Only the failover/switchover workflows call this; pgpool never does.
# Parameters: SYNC_STANDBYS (synchronous_standby_names for the new primary, may be empty),
#             SLOTS (comma-separated standby names that need a replication slot here).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
is_running || die "PostgreSQL is not running on $PGW_NODE"
slots=""
IFS=',' read -ra standbys <<<"${PGW_PARAM_SLOTS:-}"
for n in "${standbys[@]}"; do [ -n "$n" ] && slots+="${slots:+,}$(slot_name "$n")"; done
out=$(PGW_SYNC="${PGW_PARAM_SYNC_STANDBYS:-}" PGW_SLOTS="$slots" psql_local <<'SQL'
\getenv sync PGW_SYNC
\getenv slots PGW_SLOTS
SELECT pg_is_in_recovery() AS was_standby \gset
-- The slots' names (lib.sh's slot_name of each standby), comma-separated.
SELECT set_config('pgwarden.slots', :'slots', false) \gset
-- A standby being repointed at the same time may create its own slot first: tolerate that.
DO $$ DECLARE n text; BEGIN
  FOREACH n IN ARRAY string_to_array(current_setting('pgwarden.slots'), ',') LOOP
    CONTINUE WHEN n = '';
    BEGIN
      PERFORM pg_create_physical_replication_slot(n, true);
    EXCEPTION WHEN duplicate_object THEN NULL;
    END;
  END LOOP;
END $$;
ALTER SYSTEM SET synchronous_standby_names = :'sync';
SELECT pg_reload_conf() \gset
SELECT CASE WHEN pg_is_in_recovery() THEN pg_promote(false) ELSE true END AS promoted \gset
-- pg_promote(wait) polls every 100 ms; poll faster ourselves.
DO $$ BEGIN
  FOR i IN 1..3000 LOOP EXIT WHEN NOT pg_is_in_recovery(); PERFORM pg_sleep(0.01); END LOOP;
END $$;
-- A primary has no upstream (after the promotion: off the critical path).
ALTER SYSTEM RESET primary_conninfo;
ALTER SYSTEM RESET primary_slot_name;
SELECT pg_reload_conf() \gset
SELECT :'was_standby' AS was_standby, :'promoted' AS promoted,
       ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS timeline,
       pg_current_wal_lsn() AS lsn;
SQL
)
IFS='|' read -r was_standby promoted tl lsn <<<"$out"
[ "$promoted" = t ] && [ -n "$tl" ] || die "pg_promote did not complete ($out)"
rm -f "$PGW_PGDATA/pgwarden.fenced"
if [ "$was_standby" = t ]; then was=standby; else was=primary; fi
result was=$was timeline="$tl" lsn="$lsn"

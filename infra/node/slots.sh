#!/usr/bin/env bash
# Ensure a physical replication slot exists here for each named standby (works on a primary and on
# a standby, for cascading). Idempotent. Parameters: SLOTS (comma-separated standby names),
# DROP (comma-separated standby names whose slots go, e.g. a standby removed by scale-in).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
is_running || die "PostgreSQL is not running on $PGW_NODE"
IFS=',' read -r -a names <<<"${PGW_PARAM_SLOTS:-}"
made=0
for s in "${names[@]}"; do
  [ -n "$s" ] || continue
  slot=$(slot_name "$s")
  made=$((made + $(psql_local -c "select count(pg_create_physical_replication_slot('$slot', true)) where not exists (select from pg_replication_slots where slot_name = '$slot')")))
done
IFS=',' read -r -a gone <<<"${PGW_PARAM_DROP:-}"
dropped=0
for s in "${gone[@]}"; do
  [ -n "$s" ] || continue
  slot=$(slot_name "$s")
  dropped=$((dropped + $(psql_local -c "select count(pg_drop_replication_slot(slot_name)) from pg_replication_slots where slot_name = '$slot' and not active")))
done
result created=$made dropped=$dropped

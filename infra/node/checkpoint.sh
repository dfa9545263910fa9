#!/usr/bin/env bash
# Force a checkpoint (before a clean switchover, it shortens the shutdown checkpoint).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
psql_local -c 'CHECKPOINT' >/dev/null
result checkpoint=done

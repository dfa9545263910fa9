#!/usr/bin/env bash
# Force a checkpoint (before a clean switchover, it shortens the shutdown checkpoint).
. "$(dirname "$0")/lib.sh"
psql_local -c 'CHECKPOINT' >/dev/null
result checkpoint=done

#!/usr/bin/env bash
# Restart PostgreSQL on this node: the default "patch" of rolling maintenance.
. "$(dirname "$0")/lib.sh"
refuse_fenced
pg_stop fast
pg_start
result running=yes

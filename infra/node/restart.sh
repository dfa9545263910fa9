#!/usr/bin/env bash
# Restart PostgreSQL on this node: the default "patch" of rolling maintenance.
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
refuse_fenced
pg_stop fast
pg_start
result running=yes

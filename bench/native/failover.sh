#!/usr/bin/env bash
# Baseline only (npm run bench -- failover): pgpool-II's own native failover, as pgpool's sample
# failover.sh does it: when the primary fails, promote the new main node (%m, the lowest live node).
# No fencing, no choice by LSN, no proof of zero loss. Arguments: %d %h %p %m %H %r %P
set -u
failed=$1 new_host=$5 new_port=$6 old_primary=$7
[ "$failed" = "$old_primary" ] || exit 0
nodes="$(dirname "$(dirname "$PGW_PGPOOL_DIR")")/nodes"
for env in "$nodes"/*/node.env; do
  if grep -q "^PGW_PORT='$new_port'$" "$env"; then
    PGW_NODE_ENV=$env PGW_PARAM_SYNC_STANDBYS='' PGW_PARAM_SLOTS='' bash "$PGW_NODE_SCRIPTS/promote.sh" >>"$PGW_PGPOOL_DIR/log/native.log" 2>&1
  fi
done
exit 0

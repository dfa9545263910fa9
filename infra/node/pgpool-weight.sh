#!/usr/bin/env bash
# Set one backend's load-balancing weight in this pgpool instance (backend_weight<N> of the rendered
# pgpool.conf) and reload it. pgpool-II applies backend_weight on reload: every session that starts
# afterwards picks its load-balance node with the new weights; a session already open keeps the node it
# picked when it connected. WEIGHT=0: no new session reads from the node (scale in drains a standby so
# before detaching it). Returns once pgpool reports the new weight. Idempotent. The weight holds until
# the configuration is rendered again (configure-pgpool.sh, pgpool-reload.sh), which restores the
# default weight.
# Parameters: NODE_ID (pgpool backend id), WEIGHT (a non-negative number).
case $0 in */*) . "${0%/*}/lib.sh" ;; *) . ./lib.sh ;; esac # no dirname process: see lib.sh
require_backend_id
id=$PGW_PARAM_NODE_ID
w=${PGW_PARAM_WEIGHT:-}
[[ "$w" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WEIGHT must be a non-negative number, got \"$w\""
d=$PGW_PGPOOL_DIR
conf=$d/pgpool.conf

previous=$(sed -n "s/^backend_weight$id *= *//p" "$conf")
[ -n "$previous" ] || die "backend $id has no backend_weight in $conf"
if [ "$previous" != "$w" ]; then
  sed "s/^backend_weight$id *= .*/backend_weight$id = $w/" "$conf" >"$conf.tmp"
  chown_pg "$conf.tmp"
  chmod --reference="$conf" "$conf.tmp"
  mv "$conf.tmp" "$conf"
  changed=yes
else
  changed=no
fi
# Reload even when the file already had the weight (an earlier attempt may have stopped before it).
pcp pcp_reload_config >/dev/null
# The terse pcp_node_info is: host port status weight status_name ...; the weight is normalized, so only
# zero and non-zero can be compared with what was asked.
effective() {
  local lb
  lb=$(pcp pcp_node_info -n "$id" | cut -d' ' -f4)
  if [ "$(echo "$w" | tr -d '0.')" = "" ]; then [ "$(echo "$lb" | tr -d '0.')" = "" ]; else [ "$(echo "$lb" | tr -d '0.')" != "" ]; fi
}
wait_until 10 "pgpool to apply backend_weight$id = $w" effective
result weight="$w" previous="$previous" changed=$changed

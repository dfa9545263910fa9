#!/usr/bin/env bash
# Apply pgwarden's pgpool-II patches (every *.patch here, in name order) to an unpacked source tree.
# The one recipe both builds use: the lab's (infra/local/pgpool-build.ts) and the RPM for the AWS
# pgpool instances (infra/aws/pgpool-rpm/build-al2023.sh). A patch that does not apply stops the build.
#   apply.sh <pgpool-II source dir>
set -euo pipefail
src=${1:?usage: apply.sh <pgpool-II source dir>}
here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
export LC_ALL=C # name order, whatever the caller's locale
for p in "$here"/*.patch; do
  echo "applying $(basename "$p")"
  if ! out=$(patch -p1 --forward --batch -d "$src" -i "$p" 2>&1); then
    echo "patch $(basename "$p") does not apply to $src: $out" >&2
    exit 1
  fi
done

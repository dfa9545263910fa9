#!/usr/bin/env bash
# pgpool-II's own regression tests for failover, detach, promotion and failover sessions, run against
# the source pgwarden builds: the pinned pgpool-II tarball (version and SHA-256 read from
# infra/local/pgpool-build.ts), with the patches in this folder applied by apply.sh. The patches
# change how often pgpool looks while it processes a failover (wait_for_failover_to_finish,
# find_primary_node_repeatedly); these tests are upstream's check that failover, detach_false_primary,
# pcp_promote_node and the sessions that live through a failover still behave.
#
# What it does: download + check the tarball, unpack, apply.sh (unless --unpatched), ./configure
# --with-openssl, make, make install into the work folder; build the pgpool_recovery and
# pgpool_regclass extensions that pgpool_setup creates (online recovery makes the standbys) into a
# private, relocated copy of PostgreSQL's bin/lib/share (nothing of the system's is changed); then
# run src/test/regression/regress.sh once per test and print each result.
#
# How long: the build takes 40 s on 2 idle cores (3 minutes with the labs running), each test 0.5 to
# 3 minutes (upstream's limit: 5 minutes a test); the default set took 13 minutes of tests on the
# 2-core dev machine (README.md). Not part of npm test or CI.
#
# Usage: regress.sh [--unpatched] [--keep] [--workdir DIR] [--base-port N] [--timeout SEC] [TEST...]
#   TEST           test folder names under src/test/regression/tests (default: the set below)
#   --unpatched    build the tarball as released, without the patches (for comparison)
#   --keep         keep the work folder (sources, build, test clusters, logs)
#   --workdir DIR  work here (created; default a new /tmp/pgpool-regress.XXXXXX)
#   --base-port N  pgpool_setup's BASEPORT (default 31000: pgpool N, pcp N+1, PostgreSQL N+2...);
#                  the watchdog tests use N+1000.. for pgpool and N+2000.. for PostgreSQL
#   --timeout SEC  per test (default 300, regress.sh's own)
# Env: PGWARDEN_PG_BIN (default /usr/lib/postgresql/15/bin), PGWARDEN_DEBIAN_MIRROR,
#      PGWARDEN_PGPOOL_TARBALL (a local copy of the tarball; its SHA-256 is still checked),
#      PGW_* settings that infra/node/pgpool-start.sh exports for pgpool (its defaults unless set).
# Exit status: 0 when every test passed, 1 when one failed or timed out, 2 on a setup error.
#
# Changes to upstream's test harness (in the work copy only), so that it can share a machine:
#  - libs.sh's clean_all kills every process named pgpool or postgres on the machine (pgrep | kill -9),
#    the project's labs included; here it ends only the processes this run started.
#  - a few tests write pgpool_setup's default ports (11000-11099) out; they are moved to --base-port.
#  - the memory-leak tests measure the first pgpool child of the user in `ps x` (a lab's, when the
#    labs run as the same user); they measure a child of their own pgpool instead.
#  - pgpool_setup starts a recovered standby with "ssh -T localhost pg_ctl start": an ssh that runs
#    localhost's commands directly comes first on the tests' PATH (no sshd or keys needed).
#  - startall (pgpool_setup's) waits until pgpool's socket exists, instead of returning while pgpool
#    starts (the tests then `sleep 1` and connect: too short on a loaded machine).
#  - PostgreSQL refuses to run as root: as root, the tests run as the postgres OS user in a work
#    folder it owns, inside a cgroup of their own, so that every process they leave is ended.
set -euo pipefail

DEFAULT_TESTS=(
  003.failover
  016.node_0_is_not_primary
  017.node_0_is_down
  018.detach_primary
  034.promote_node
  037.failover_session
  055.backend_all_down
  069.memory_leak_extended
  071.execute_and_deallocate
  075.detach_primary_left_down_node
  079.multi_prepare
  081.detach_primary_all_down
)

here=$(cd "$(dirname "$0")" && pwd)
build_ts="$here/../pgpool-build.ts"
PG_BIN=${PGWARDEN_PG_BIN:-/usr/lib/postgresql/15/bin}
MIRROR=${PGWARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}

unpatched=false keep=false work="" base_port=31000 timeout=300 tests=()
while (($#)); do
  case $1 in
    --unpatched) unpatched=true ;;
    --keep) keep=true ;;
    --workdir) work=${2:?--workdir DIR}; shift ;;
    --base-port) base_port=${2:?--base-port N}; shift ;;
    --timeout) timeout=${2:?--timeout SEC}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (--help)" >&2; exit 2 ;;
    *) tests+=("$1") ;;
  esac
  shift
done
((${#tests[@]})) || tests=("${DEFAULT_TESTS[@]}")
[[ $base_port =~ ^[0-9]+$ && $timeout =~ ^[0-9]+$ ]] || { echo "--base-port and --timeout take numbers" >&2; exit 2; }

die() { echo "regress.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*"; }
t0=$SECONDS

# --- the pinned tarball, as pgpool-build.ts pins it -------------------------------------------
version=$(sed -n "s/^export const PGPOOL_VERSION = '\([0-9.]*\)';.*/\1/p" "$build_ts")
sha256=$(sed -n "s/^const PINNED_SHA256 = '\([0-9a-f]\{64\}\)';.*/\1/p" "$build_ts")
[[ -n $version && -n $sha256 ]] || die "cannot read PGPOOL_VERSION / PINNED_SHA256 from $build_ts"
url="$MIRROR/pool/main/p/pgpool2/pgpool2_${version}.orig.tar.gz"

# --- what the build and the tests need ----------------------------------------------------------
[[ -x $PG_BIN/pg_config && -x $PG_BIN/postgres ]] || die "no PostgreSQL server in $PG_BIN (PGWARDEN_PG_BIN)"
pg_major=$("$PG_BIN/pg_config" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
# gcc..patch: what pgpool-build.ts installs; libpq-dev has the pg_config configure finds on PATH;
# postgresql-client: psql, pgbench; bc: the tests compare versions with it; util-linux: runuser.
want=(gcc make libc6-dev libpq-dev libssl-dev curl patch bc util-linux "postgresql-$pg_major" "postgresql-client-$pg_major")
if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${want[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if ((EUID == 0)); then
      say "installing ${missing[*]}"
      apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    else
      die "missing Debian packages; run: sudo apt-get install --no-install-recommends ${missing[*]}"
    fi
  fi
fi
for c in gcc make curl patch tar sha256sum bc perl ss; do command -v "$c" >/dev/null || die "$c not found"; done

# --- work folder, cleanup ---------------------------------------------------------------------------
if [[ -n $work ]]; then mkdir -p "$work"; work=$(cd "$work" && pwd); else work=$(mktemp -d /tmp/pgpool-regress.XXXXXX); fi
sock=$work/sock results=$work/results
mkdir -p "$sock" "$results" "$work/home"
: >"$results/summary"
cgroup="" inner_pid=""
run_user=$(id -un)
((EUID == 0)) && run_user=postgres

# Ends every process this run started. In a cgroup: all of them (the kernel tracks them, daemons
# included). Otherwise: the test runner's process tree and the PostgreSQL and pgpool servers named by
# the pid files under the work folder, with their children.
kill_tree() { # pid...: the pids and all their descendants, SIGKILL
  local all=" $* " changed=1 pid ppid
  while ((changed)); do
    changed=0
    while read -r pid ppid; do
      if [[ $all == *" $ppid "* && $all != *" $pid "* ]]; then all+="$pid "; changed=1; fi
    done < <(ps -e -o pid=,ppid=)
  done
  for pid in $all; do kill -9 "$pid" 2>/dev/null || true; done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $cgroup && -d $cgroup ]]; then
    echo 1 >"$cgroup/cgroup.kill" 2>/dev/null || xargs -r kill -9 <"$cgroup/cgroup.procs" 2>/dev/null || true
    for _ in $(seq 150); do grep -q 'populated 0' "$cgroup/cgroup.events" && break; sleep 0.2; done
    rmdir "$cgroup" 2>/dev/null || echo "regress.sh: cgroup $cgroup still has processes" >&2
  fi
  [[ -n $inner_pid ]] && kill_tree "$inner_pid"
  [[ -x $work/kill-ours.sh ]] && PGW_WORK=$work PGW_SOCK=$sock PGW_CGROUP="" "$work/kill-ours.sh" || true
  if $keep; then echo "work folder kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports ------------------------------------------------------------------------------------------
# pgpool_setup: pgpool base, pcp base+1, PostgreSQL base+2..; watchdog_setup: W_BASE_PORT.. (4 a pgpool)
# and PostgreSQL from W_BASE_PORT+1000.
w_base=$((base_port + 1000))
busy=$(ss -Hltn | awk '{print $4}' | sed 's/.*://' | awk -v a="$base_port" -v b="$w_base" \
  '($1>=a && $1<a+20) || ($1>=b && $1<b+20) || ($1>=b+1000 && $1<b+1020)' | sort -un | tr '\n' ' ')
[[ -z $busy ]] || die "ports in use near --base-port $base_port: $busy"

# --- source -------------------------------------------------------------------------------------------
say "pgpool-II $version, $( $unpatched && echo 'UNPATCHED (as released)' || echo "patches: $(cd "$here" && ls *.patch 2>/dev/null | tr '\n' ' ')")"
say "work folder $work"
tarball=$work/pgpool2_${version}.orig.tar.gz
if [[ -n ${PGWARDEN_PGPOOL_TARBALL:-} ]]; then
  cp "$PGWARDEN_PGPOOL_TARBALL" "$tarball"
else
  say "downloading $url"
  curl -fsS --retry 3 -m 300 -o "$tarball" "$url" || die "download of $url failed"
fi
got=$(sha256sum "$tarball" | cut -d' ' -f1)
[[ $got == "$sha256" ]] || die "$tarball: SHA-256 $got, expected $sha256 (pinned in pgpool-build.ts)"
tar -xzf "$tarball" -C "$work"
src=$work/pgpool-II-$version
[[ -d $src ]] || die "the tarball has no pgpool-II-$version folder"
if ! $unpatched; then bash "$here/apply.sh" "$src" | sed 's/^/  /'; fi

# --- build ------------------------------------------------------------------------------------------
inst=$work/install
say "configure, make, make install (log: $work/build.log)"
{
  (cd "$src" && ./configure --prefix="$inst" --with-openssl) &&
    make -C "$src" -j"$(nproc)" &&
    make -C "$src" install
} >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; die "pgpool-II build failed"; }
[[ -x $inst/bin/pgpool && -x $inst/bin/pgpool_setup && -x $inst/bin/pgproto ]] || die "the install lacks pgpool, pgpool_setup or pgproto"
"$inst/bin/pgpool" --version

# A relocated copy of PostgreSQL (bin copied, lib linked, share copied): its own pkglibdir and
# extension folder take pgpool_recovery and pgpool_regclass, which pgpool_setup creates in every
# cluster; PostgreSQL finds share/ and lib/ relative to its binary.
pgroot=$work/pg
pg_bindir=$("$PG_BIN/pg_config" --bindir) pg_pkglib=$("$PG_BIN/pg_config" --pkglibdir)
pg_share=$("$PG_BIN/pg_config" --sharedir) pg_incserver=$("$PG_BIN/pg_config" --includedir-server)
mkdir -p "$pgroot$(dirname "$pg_bindir")" "$pgroot$pg_pkglib" "$pgroot$(dirname "$pg_share")"
cp -a "$pg_bindir" "$pgroot$pg_bindir"
cp -a "$pg_share" "$pgroot$pg_share"
for f in "$pg_pkglib"/*; do ln -s "$f" "$pgroot$pg_pkglib/"; done
pgbin=$pgroot$pg_bindir
[[ $("$pgbin/pg_config" --sharedir) == "$pgroot$pg_share" ]] || die "the PostgreSQL copy in $pgroot is not relocatable"
# The extensions need the server headers: postgresql-server-dev-N's, or, when that is not installed,
# the same version's package unpacked here (installing it would pull in clang/llvm, and its current
# version upgrades the running postgresql-N).
if [[ ! -f $pg_incserver/postgres.h ]]; then
  pkg="postgresql-server-dev-$pg_major"
  ver=$(dpkg-query -W -f='${Version}' "postgresql-$pg_major" 2>/dev/null) || die "no server headers in $pg_incserver (install $pkg)"
  say "unpacking $pkg=$ver's headers (not installed)"
  mkdir -p "$work/deb" && chmod 777 "$work/deb"
  (cd "$work/deb" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) ||
    die "apt-get download $pkg=$ver failed; install it (apt-get install $pkg=$ver) and run again"
  dpkg-deb -x "$work"/deb/*.deb "$work/deb/root"
  pg_incserver=$work/deb/root$pg_incserver
  [[ -f $pg_incserver/postgres.h ]] || die "$pkg has no postgres.h"
fi
for ext in pgpool-recovery pgpool-regclass; do
  # with_llvm=no: no JIT bitcode (it needs clang).
  make -C "$src/src/sql/$ext" USE_PGXS=1 PG_CONFIG="$pgbin/pg_config" includedir_server="$pg_incserver" with_llvm=no \
    install >>"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; die "building the $ext extension failed"; }
done
say "built in $((SECONDS - t0)) s"

# --- the test harness -------------------------------------------------------------------------------
rdir=$src/src/test/regression
for t in "${tests[@]}"; do [[ -f $rdir/tests/$t/test.sh ]] || die "no test $t in $rdir/tests"; done
# pgpool_setup's pgpool_remote_start (online recovery: it makes the standbys) starts the recovered
# PostgreSQL with "ssh -T localhost pg_ctl ... start"; the run needs no ssh to itself: this ssh, first
# on the tests' PATH, runs a command for localhost here.
mkdir -p "$work/bin"
cat >"$work/bin/ssh" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do
  case $1 in -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;; -*) shift ;; *) break ;; esac
done
host=$1; shift
case $host in
  localhost|127.0.0.1|::1) exec sh -c "$*" ;;
  *) echo "regress.sh's ssh: only localhost, not $host" >&2; exit 255 ;;
esac
EOF
chmod 755 "$work/bin/ssh"

# pgpool_setup's startall starts pgpool in the background and returns; the tests then `sleep 1` and
# connect. On a loaded machine pgpool is not listening yet (071 failed that way: every psql refused,
# then a check that expects logged statements failed). startall now waits (up to 30 s) until pgpool's
# socket exists: this helper, first on the tests' PATH, added after each pgpool start in startall.
cat >"$work/bin/pgw-wait-pgpool" <<'EOF'
#!/usr/bin/env bash
[ -r ./bashrc.ports ] || exit 0
. ./bashrc.ports
for _ in $(seq 300); do
  [ -S "${PGHOST:-/tmp}/.s.PGSQL.$PGPOOL_PORT" ] && exit 0
  sleep 0.1
done
echo "pgw-wait-pgpool: no pgpool socket on port $PGPOOL_PORT after 30 s" >&2
EOF
chmod 755 "$work/bin/pgw-wait-pgpool"
perl -pi -e 's{^(\s*)(echo .*log/pgpool\.log &\x27 >> \$STARTALL)$}{$1$2\n$1echo pgw-wait-pgpool >> \$STARTALL}' "$inst/bin/pgpool_setup"
grep -q '^ *echo pgw-wait-pgpool >> \$STARTALL' "$inst/bin/pgpool_setup" ||
  die "pgpool_setup: no pgpool start line to add the wait after"

cat >"$work/kill-ours.sh" <<'EOF'
#!/usr/bin/env bash
# Ends the pgpool and postgres processes this run started (regress.sh's clean_all, and the cleanup).
killed=()
if [[ -n ${PGW_CGROUP:-} && -r $PGW_CGROUP/cgroup.procs ]]; then
  for pid in $(cat "$PGW_CGROUP/cgroup.procs"); do
    [[ $pid == "$$" ]] && continue
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    if [[ $comm == postgres || $comm == pgpool ]]; then kill -9 "$pid" 2>/dev/null && killed+=("$pid"); fi
  done
else
  # pid files: postmaster.pid (the postmaster) and pgpool_setup's run/pgpool.pid, with their children
  pids=$(find "$PGW_WORK" \( -name postmaster.pid -o -name pgpool.pid \) -exec head -n1 {} \; 2>/dev/null | tr -cd '0-9\n')
  for pid in $pids; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    [[ $comm == postgres || $comm == pgpool ]] || continue
    kids=$(ps -e -o pid=,ppid= | awk -v p="$pid" '$2==p {print $1}')
    kill -9 "$pid" $kids 2>/dev/null && killed+=("$pid" $kids)
  done
fi
# SIGKILL skips their exit handlers: the System V shared memory segments they created (now
# unattached) and the semaphore sets they last operated on stay behind (a test that timed out left
# pgpool's and PostgreSQL's). Only those of the processes just killed are removed.
if ((${#killed[@]})); then
  for _ in $(seq 50); do
    alive=0
    for pid in "${killed[@]}"; do [[ -d /proc/$pid ]] && alive=1 && break; done
    ((alive)) || break
    sleep 0.1
  done
  ours() { [[ " ${killed[*]} " == *" $1 "* ]]; }
  ipcs -m -p | awk '$1 ~ /^[0-9]+$/ {print $1, $3}' | while read -r id cpid; do
    ours "$cpid" && ipcs -m -i "$id" | grep -qw 'nattch=0' && ipcrm -m "$id" 2>/dev/null
  done
  ipcs -s | awk '$2 ~ /^[0-9]+$/ {print $2}' | while read -r id; do
    for pid in $(ipcs -s -i "$id" | awk 'NF == 5 && $1 ~ /^[0-9]+$/ {print $5}'); do
      if ours "$pid"; then ipcrm -s "$id" 2>/dev/null; break; fi
    done
  done
fi
rm -f "$PGW_SOCK"/.s.PGSQL.* "$PGW_SOCK"/.s.PGSQL.*.lock
exit 0
EOF
chmod 755 "$work/kill-ours.sh"
cat >>"$rdir/libs.sh" <<'EOF'

#-------------------------------------------
# pgwarden (infra/local/pgpool-patches/regress.sh): upstream's clean_all kills every pgpool and
# postgres process on the machine; this one ends only those the run started.
#-------------------------------------------
function clean_all {
	"$PGW_WORK/kill-ours.sh"
}
EOF
# pgpool_setup's default ports written out in tests (071: psql -p 11000; 055 and 003's expected
# output: backend ports 11002, 11003) follow --base-port.
for t in "${tests[@]}"; do
  { grep -rlE '\b110[0-9]{2}\b' "$rdir/tests/$t" || true; } | while read -r f; do
    PGW_BASE=$base_port perl -pi -e 's/\b110(\d\d)\b/$ENV{PGW_BASE}+$1/ge' "$f"
    echo "  ports moved to $base_port.. in tests/$t/${f#"$rdir/tests/$t/"}"
  done
done

# The memory-leak tests (060, 069, 070) measure the first "pgpool: wait for connection request" of
# `ps x`, i.e. any pgpool child of the user (the labs' too); they measure their own pgpool's child.
for t in "${tests[@]}"; do
  f=$rdir/tests/$t/test.sh
  if grep -q 'ps x|grep "pgpool: wait for connection request"' "$f"; then
    sed -i 's/ps x|grep "pgpool: wait for connection request"/ps -o pid=,args= --ppid $(cat run\/pgpool.pid)|grep "pgpool: wait for connection request"/' "$f"
    echo "  tests/$t measures its own pgpool's child"
  fi
done

# --- run ----------------------------------------------------------------------------------------------
# Runs as the test user, in the regression folder: regress.sh once per test (it takes one test name
# pattern and empties log/ each time), the result line parsed and the logs kept in results/.
run_tests() {
  set -uo pipefail
  cd "$PGW_RDIR" || exit 2
  local t start res secs
  for t in "$@"; do
    start=$SECONDS
    echo -n "$t ... "
    ./regress.sh -m noinstall -i "$PGW_INST" -p "$PGW_PGBIN" -s "$PGW_SOCK" -t "$PGW_TIMEOUT" "^${t//./\\.}\$" \
      >"$PGW_RESULTS/$t.regress.out" 2>&1
    res=$(sed 's/\x1b[[(][0-9;]*[A-Za-z]//g' "$PGW_RESULTS/$t.regress.out" |
      sed -n "s/^testing ${t//./\\.}\.\.\.\(.*\)\.\$/\1/p" | tail -n1)
    secs=$((SECONDS - start))
    [[ -n $res ]] || res="no result"
    cp log/"$t" "$PGW_RESULTS/$t.log" 2>/dev/null
    find "tests/$t/testdir" -path '*log/pgpool.log' 2>/dev/null | while read -r f; do
      g=${f#tests/"$t"/testdir/}
      cp "$f" "$PGW_RESULTS/$t.${g//\//_}"
    done
    echo "$res ($secs s)"
    echo "$t $res $secs" >>"$PGW_RESULTS/summary"
    "$PGW_WORK/kill-ours.sh"
  done
}

if ((EUID == 0)); then
  chown -R postgres: "$work"
  # A cgroup (v2) of the run's own: cleanup ends whatever the tests leave running, daemons included.
  cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
  if [[ -n $cg2 ]] && mkdir "$cg2/pgw-regress-$$" 2>/dev/null; then cgroup=$cg2/pgw-regress-$$; fi
fi
say "running ${#tests[@]} tests as $run_user (ports $base_port.., watchdog $w_base..; ${timeout} s limit each)"
env_vars=(
  PGW_WORK="$work" PGW_RDIR="$rdir" PGW_INST="$inst" PGW_PGBIN="$pgbin" PGW_SOCK="$sock"
  PGW_RESULTS="$results" PGW_TIMEOUT="$timeout" PGW_CGROUP="$cgroup"
  BASEPORT="$base_port" W_BASE_PORT="$w_base" PGHOST="$sock" HOME="$work/home" TERM=dumb PSQLRC=/dev/null
  PATH="$work/bin:$pgbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" LANG=C LC_ALL=C
)
# The PGW_* settings infra/node/pgpool-start.sh exports for pgpool (read by patches; the caller's
# environment wins), so that the tests run the patched code as pgwarden's pgpools do.
start_sh=$here/../../node/pgpool-start.sh
if [[ -f $start_sh ]]; then
  while read -r name def; do
    env_vars+=("$name=${!name:-$def}")
    say "pgpool gets $name=${!name:-$def} (as pgpool-start.sh)"
  done < <(sed -n 's/^export \(PGW_[A-Z0-9_]*\)=\${PGW_[A-Z0-9_]*:-\([^}]*\)}.*/\1 \2/p' "$start_sh")
fi
inner="$(declare -f run_tests); run_tests $(printf '%q ' "${tests[@]}")"
tstart=$SECONDS
if ((EUID == 0)); then
  # shellcheck disable=SC2016
  bash -c 'if [[ -n $1 ]]; then echo $$ >"$1/cgroup.procs"; fi; shift; exec "$@"' _ "$cgroup" \
    runuser -u postgres -- env -i "${env_vars[@]}" bash -c "$inner" &
else
  env -i "${env_vars[@]}" bash -c "$inner" &
fi
inner_pid=$!
wait "$inner_pid" || true
inner_pid=""

# --- results ------------------------------------------------------------------------------------------
echo
echo "pgpool-II $version $($unpatched && echo unpatched || echo patched), PostgreSQL $pg_major, $(date -u +%Y-%m-%dT%H:%MZ)"
failed=0
while read -r t res secs; do
  printf '  %-36s %-10s %4d s\n' "$t" "$res" "$secs"
  if [[ $res != ok ]]; then
    failed=$((failed + 1))
    echo "  --- last lines of $t's log:"
    tail -n 25 "$results/$t.log" 2>/dev/null | sed 's/^/    | /'
  fi
done <"$results/summary"
ran=$(wc -l <"$results/summary")
((ran == ${#tests[@]})) || { echo "only $ran of ${#tests[@]} tests ran"; failed=$((failed + ${#tests[@]} - ran)); }
echo "$((ran - failed < 0 ? 0 : ran - failed)) ok, $failed not ok; tests $((SECONDS - tstart)) s, total $((SECONDS - t0)) s"
((failed == 0)) || exit 1

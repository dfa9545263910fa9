#!/usr/bin/env bash
# Build the pgpool-II RPM the pgpool instances install (stack parameter PgpoolPackageS3Uri), on an
# Amazon Linux 2023 aarch64 machine (a t4g.small for a few minutes, or an arm64 AL2023 container).
# Same recipe as the lab's build (infra/local/pgpool-build.ts): Debian trixie's pgpool-II source
# tarball, checked against the same pinned SHA-256, `./configure --with-openssl`, make, install into a
# staging tree, with pgwarden's patches applied by the same script (infra/local/pgpool-patches/apply.sh);
# here the tree is then wrapped in an RPM.
#   infra/aws/pgpool-rpm/build-al2023.sh [out-dir]     -> out-dir/pgpool-II-4.6.1-1.pgwarden.al2023.aarch64.rpm
set -euo pipefail

VERSION=4.6.1
# infra/local/pgpool-build.ts PINNED_SHA256: keep the two in step.
SHA256=0f8805d93bc40002c8019dc40ae03a71a3d144bd39f3dffe6fa01f7fc19bb8e8
URL=${PGWARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}/pool/main/p/pgpool2/pgpool2_${VERSION}.orig.tar.gz
OUT=$(realpath "${1:-.}")
PATCHES=$(cd "$(dirname "$0")/../../local/pgpool-patches" && pwd)

. /etc/os-release
if [ "$ID" != amzn ] || [ "${VERSION_ID%%.*}" != 2023 ] || [ "$(uname -m)" != aarch64 ]; then
  echo "build-al2023.sh: run on Amazon Linux 2023 aarch64 (this is $PRETTY_NAME on $(uname -m))" >&2
  exit 1
fi

sudo dnf install -y gcc make glibc-devel libpq-devel openssl-devel rpm-build tar gzip
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 3 -o "$work/pgpool.tar.gz" "$URL"
echo "$SHA256  $work/pgpool.tar.gz" | sha256sum -c -
tar -xzf "$work/pgpool.tar.gz" -C "$work"
# The lab's patches (each says why), applied as the lab's build applies them.
bash "$PATCHES/apply.sh" "$work/pgpool-II-$VERSION"

cd "$work/pgpool-II-$VERSION"
# /usr/bin is what the instances use (PGW_PGPOOL_BIN); configuration is rendered by configure-pgpool.sh.
./configure --prefix=/usr --libdir=/usr/lib64 --sysconfdir=/etc/pgpool-II --with-openssl >"$work/configure.log"
make -j"$(nproc)" >"$work/make.log"
make install DESTDIR="$work/root" >"$work/install.log"

mkdir -p "$work/rpm"/{BUILD,RPMS,SPECS}
(cd "$work/root" && find . -type f -o -type l | sed 's|^\.||') >"$work/files.list"
cat >"$work/rpm/SPECS/pgpool-II.spec" <<SPEC
Name:           pgpool-II
Version:        $VERSION
Release:        1.pgwarden.al2023
Summary:        pgpool-II $VERSION for pgwarden (Debian trixie's source, built on Amazon Linux 2023)
License:        BSD
URL:            https://www.pgpool.net/
# libpq and OpenSSL come from the AL2023 repositories (reached through the VPC's S3 gateway endpoint).
Requires:       libpq, openssl-libs
AutoReqProv:    yes
%description
pgpool-II $VERSION (connection pooling, load balancing and failover for PostgreSQL), built for pgwarden.
%install
cp -a $work/root/. %{buildroot}/
%files -f $work/files.list
SPEC
rpmbuild --define "_topdir $work/rpm" -bb "$work/rpm/SPECS/pgpool-II.spec" >"$work/rpmbuild.log"
rpm=$(find "$work/rpm/RPMS" -name '*.rpm' | head -n1)
cp "$rpm" "$OUT/"
echo "built $OUT/$(basename "$rpm")"
rpm -qpi "$OUT/$(basename "$rpm")" | head -n 3

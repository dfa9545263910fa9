#!/usr/bin/env bash
# The cluster's private CA and a server certificate signed by it (openssl). The lab and the EC2 user
# data both use this; in AWS the CA then lives in Secrets Manager (infra/aws/userdata/common.sh).
#   tls-certs.sh ca DIR              DIR/ca.key + DIR/ca.crt (kept when they exist)
#   tls-certs.sh server DIR SANS     DIR/server.key + DIR/server.crt for SANS ("IP:10.0.1.5,DNS:x"),
#                                    signed with DIR/ca.key
# Keys are mode 0600. Not sourced from lib.sh: it runs before a node env file exists.
set -euo pipefail
cmd=${1:?usage: tls-certs.sh ca|server DIR [SANS]}
dir=${2:?usage: tls-certs.sh ca|server DIR [SANS]}
umask 077
mkdir -p "$dir"
case "$cmd" in
  ca)
    if [ -s "$dir/ca.crt" ] && [ -s "$dir/ca.key" ]; then exit 0; fi
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=pgwarden cluster CA" \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    ;;
  server)
    sans=${3:?usage: tls-certs.sh server DIR SANS}
    [ -s "$dir/ca.crt" ] && [ -s "$dir/ca.key" ] || { echo "tls-certs.sh: no CA in $dir" >&2; exit 1; }
    cn=${sans%%,*}
    openssl req -newkey rsa:2048 -nodes -subj "/CN=${cn#*:}" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 3650 -out "$dir/server.crt" -extfile "$dir/server.ext" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/server.ext"
    ;;
  *)
    echo "tls-certs.sh: unknown command $cmd (ca or server)" >&2
    exit 2
    ;;
esac
chmod 644 "$dir"/*.crt

#!/bin/bash
# pgwarden ${ClusterName}: first boot of ${InstanceName} (EC2 user data, runs once).
# Passwords are read here from Secrets Manager into root-only files; none is in this text.
set -euo pipefail
exec > >(tee -a /var/log/pgwarden-bootstrap.log) 2>&1
export AWS_DEFAULT_REGION=${AWS::Region}
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=10

imds() {
  local token
  token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}
secret_field() { aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text | jq -r ".$2"; }

# A bootstrap never fails in silence: on any error the operators get a notification, and an instance
# with a CreationPolicy (pgpool) signals FAILURE so that the deploy fails and rolls back, naming it.
bootstrap_done() {
  local rc=$? status=SUCCESS reason
  if [ "$rc" -ne 0 ]; then
    status=FAILURE
    reason="pgwarden ${ClusterName}: bootstrap of ${InstanceName} failed (exit $rc): $(tail -n 3 /var/log/pgwarden-bootstrap.log | tr '\n' ' ' | cut -c1-600)"
    aws sns publish --topic-arn "${NotifyTopic}" --subject "pgwarden ${ClusterName}: ${InstanceName} bootstrap failed" \
      --message "$reason (full log: /var/log/pgwarden-bootstrap.log)" || true
  fi
  if [ -n "${SignalResource}" ]; then
    aws cloudformation signal-resource --stack-name "${AWS::StackName}" --logical-resource-id "${SignalResource}" \
      --unique-id "$(imds instance-id)" --status "$status" || true
  fi
}
trap bootstrap_done EXIT

# TLS: the cluster's CA is in Secrets Manager. The first primary creates it (tls-certs.sh) when the
# secret holds none; every other instance waits for it (up to 30 minutes). Each instance then signs
# its own server certificate for SANS and keeps only the CA certificate: the key is deleted. Secret
# values go through 0600 files, never a command line.
tls_setup() {
  local role=$1 sans=$2 dir=${PGW_TLS_DIR:-/etc/pgwarden/tls} scripts=${PGW_NODE_SCRIPTS:-/opt/pgwarden/node} json
  umask 077
  mkdir -p "$dir"
  json=$(mktemp)
  for _ in $(seq 1 "${PGW_TLS_WAIT_ATTEMPTS:-180}"); do
    aws secretsmanager get-secret-value --secret-id "${TlsCaSecret}" --query SecretString --output text >"$json"
    if [ -n "$(jq -r '.cert // empty' "$json")" ]; then
      jq -r .cert "$json" >"$dir/ca.crt"
      jq -r .key "$json" >"$dir/ca.key"
      break
    fi
    if [ "$role" = primary ]; then
      "$scripts/tls-certs.sh" ca "$dir"
      jq -n --rawfile cert "$dir/ca.crt" --rawfile key "$dir/ca.key" '{cert: $cert, key: $key}' >"$json"
      aws secretsmanager put-secret-value --secret-id "${TlsCaSecret}" --secret-string "file://$json" >/dev/null
      jq -n --rawfile cert "$dir/ca.crt" '{cert: $cert}' >"$json"
      aws secretsmanager put-secret-value --secret-id "${TlsCaCertSecret}" --secret-string "file://$json" >/dev/null
      break
    fi
    echo "pgwarden: waiting for the cluster CA in ${TlsCaSecret} (pg1 creates it)"
    sleep "${PGW_TLS_WAIT_S:-10}"
  done
  rm -f "$json"
  [ -s "$dir/ca.key" ] || {
    echo "pgwarden: no cluster CA in ${TlsCaSecret} after $((${PGW_TLS_WAIT_ATTEMPTS:-180} * ${PGW_TLS_WAIT_S:-10})) s" >&2
    return 1
  }
  "$scripts/tls-certs.sh" server "$dir" "$sans"
  rm -f "$dir/ca.key" "$dir/ca.srl"
  chown -R "${PGW_OS_USER:-postgres}" "$dir"
  umask 022
}

dnf install -y unzip jq amazon-cloudwatch-agent

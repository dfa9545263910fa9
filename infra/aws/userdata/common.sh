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

dnf install -y unzip jq amazon-cloudwatch-agent

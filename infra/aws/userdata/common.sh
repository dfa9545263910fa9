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

dnf install -y unzip jq amazon-cloudwatch-agent

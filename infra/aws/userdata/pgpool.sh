# pgpool-II is not in the Amazon Linux 2023 repositories and the VPC has no internet route: it comes
# from the RPM the operator built and staged in S3 (docs/aws.md, "Building the pgpool-II package").
if [ -z "${PgpoolPackageS3Uri}" ]; then
  echo "pgwarden: no pgpool-II package: deploy with --param=pgpoolPackageS3Uri=s3://<bucket>/<key>.rpm (docs/aws.md)" >&2
  exit 1
fi
aws s3 cp "${PgpoolPackageS3Uri}" /tmp/pgpool.rpm
dnf install -y /tmp/pgpool.rpm postgresql15
# pgpool runs as the postgres OS user, as on the nodes (the client package does not create it).
id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/pgwarden --shell /sbin/nologin postgres
# configure-pgpool.sh refuses a pgpool-II older than 4.5 too; say it here, where the package came in.
version=$(pgpool --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)
case "$version" in
  4.[5-9].* | [5-9].*) echo "pgwarden: pgpool-II $version installed" ;;
  *)
    echo "pgwarden: ${PgpoolPackageS3Uri} installed pgpool-II '$version'; 4.5 or later is needed" >&2
    exit 1
    ;;
esac

install_node_scripts

umask 077
mkdir -p /etc/pgwarden
cat >/etc/pgwarden/secrets.env <<SECRETS
PGW_PW_PGPOOL=$(secret_field ${PgpoolSecret} password)
PGW_PW_PCP=$(secret_field ${PcpSecret} password)
PGW_PW_APP=$(secret_field ${AppSecret} password)
SECRETS
umask 022

ip=$(imds local-ipv4)
# Clients reach pgpool by its address (the probe) or through the NLB's name (the endpoint).
tls_setup pgpool "IP:$ip,DNS:${PgpoolNlbDns}"
cat >/etc/pgwarden/node.env <<ENV
PGW_CLUSTER=${ClusterName}
PGW_NODE=${InstanceName}
PGW_HOST=$ip
PGW_PGPOOL_LISTEN=$ip
PGW_PGPOOL_DIR=/var/lib/pgwarden/pgpool
PGW_PGPOOL_PORT=9999
PGW_PCP_PORT=9898
PGW_PGPOOL_BIN=/usr/bin
PGW_BACKENDS="${Backends}"
PGW_TRIGGER_CMD="aws lambda invoke --region ${AWS::Region} --function-name ${PgpoolHookFunction} --cli-binary-format raw-in-base64-out --payload file:///dev/stdin /dev/null"
PGW_HBA_CIDR=${VpcCidr}
PGW_SECRETS_ENV=/etc/pgwarden/secrets.env
# The hook returns once the workflow has started; promotion through SSM takes seconds in AWS, so
# pgpool keeps searching for the promoted primary (once a second) instead of giving up.
PGW_SEARCH_PRIMARY_TIMEOUT=0
# TLS to clients (pool_hba hostssl) and to the backends (infra/node/configure-pgpool.sh)
PGW_SSL_CERT=/etc/pgwarden/tls/server.crt
PGW_SSL_KEY=/etc/pgwarden/tls/server.key
PGW_SSL_CA=/etc/pgwarden/tls/ca.crt
ENV

/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "ssm:${AgentConfigParameter}"
/opt/pgwarden/node/configure-pgpool.sh
/opt/pgwarden/node/pgpool-start.sh

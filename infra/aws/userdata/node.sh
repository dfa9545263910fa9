dnf install -y postgresql15 postgresql15-server postgresql15-contrib

# PGDATA lives on the node's own data volume (${DataVolumeId}, DeletionPolicy Retain), attached by
# CloudFormation once the instance runs. Found by its id (NVMe serial), formatted only if it is blank:
# a volume that already holds a cluster (a replaced root volume, a retained volume) is used as it is.
dev=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$(echo "${DataVolumeId}" | tr -d -)
for _ in $(seq 1 600); do [ -e "$dev" ] && break; sleep 1; done
[ -e "$dev" ] || {
  echo "pgwarden: data volume ${DataVolumeId} was not attached within 10 minutes" >&2
  exit 1
}
blkid "$dev" >/dev/null || mkfs.xfs -q "$dev"
mkdir -p /var/lib/pgwarden
grep -q ' /var/lib/pgwarden ' /etc/fstab || echo "UUID=$(blkid -s UUID -o value "$dev") /var/lib/pgwarden xfs defaults,noatime,nofail 0 2" >>/etc/fstab
mount -a
chown postgres:postgres /var/lib/pgwarden

install_node_scripts

umask 077
mkdir -p /etc/pgwarden
cat >/etc/pgwarden/secrets.env <<SECRETS
PGW_PW_POSTGRES=$(secret_field ${PostgresSecret} password)
PGW_PW_REPLICATOR=$(secret_field ${ReplicatorSecret} password)
PGW_PW_PGWARDEN=$(secret_field ${DbSecret} password)
PGW_PW_PGPOOL=$(secret_field ${PgpoolSecret} password)
PGW_PW_APP=$(secret_field ${AppSecret} password)
SECRETS
printf '*:*:*:replicator:%s\n' "$(secret_field ${ReplicatorSecret} password)" >/etc/pgwarden/pgpass
chown postgres /etc/pgwarden/pgpass
umask 022

ip=$(imds local-ipv4)
tls_setup "${BootstrapRole}" "IP:$ip"
cat >/etc/pgwarden/node.env <<ENV
PGW_CLUSTER=${ClusterName}
PGW_NODE=${InstanceName}
PGW_HOST=$ip
PGW_LISTEN=$ip
PGW_PORT=5432
PGW_PGBIN=/usr/bin
PGW_PGDATA=/var/lib/pgwarden/data
PGW_LOG_DIR=/var/lib/pgwarden/data/log
PGW_SOCKET_DIR=/run/pgwarden
PGW_HBA_CIDR=${VpcCidr}
PGW_PGPASS=/etc/pgwarden/pgpass
PGW_SECRETS_ENV=/etc/pgwarden/secrets.env
PGW_WAL_SEGSIZE_MB=${WalSegmentSizeMB}
# TLS only (pg_hba hostssl), verified by every client (infra/node/lib.sh)
PGW_SSL_CERT=/etc/pgwarden/tls/server.crt
PGW_SSL_KEY=/etc/pgwarden/tls/server.key
PGW_SSL_CA=/etc/pgwarden/tls/ca.crt
ENV

/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "ssm:${AgentConfigParameter}"

if [ -f /var/lib/pgwarden/data/PG_VERSION ]; then
  # The data volume holds this node's cluster already: start it in the role its data says (a standby
  # keeps its standby.signal); the workflows repoint or rejoin it as the topology needs.
  echo "pgwarden: ${InstanceName} has data on ${DataVolumeId}; starting it as it is"
  /opt/pgwarden/node/start.sh
elif [ "${BootstrapRole}" = spare ]; then
  # A spare: installed and reachable over SSM, PostgreSQL not started. The scale-out workflow clones
  # it from the primary (clone-standby) when the read-load alarm fires.
  echo "pgwarden: ${InstanceName} is a spare node; scale out turns it into a standby"
elif [ "${BootstrapRole}" = primary ]; then
  /opt/pgwarden/node/bootstrap-primary.sh
else
  # The primary boots at the same time: retry until it has bootstrapped (at most 30 minutes).
  for attempt in $(seq 1 60); do
    if PGW_PARAM_PRIMARY_HOST=${PrimaryHost} PGW_PARAM_PRIMARY_PORT=5432 PGW_PARAM_WAIT_SECONDS=600 \
      /opt/pgwarden/node/bootstrap-standby.sh; then
      break
    fi
    echo "bootstrap-standby attempt $attempt failed; retrying in 30 s"
    sleep 30
  done
fi

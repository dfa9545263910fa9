/**
 * The lab: a real PostgreSQL 15 cluster (primary + streaming standbys), pgpool-II and Redis on
 * loopback, built with the very infra/node scripts that SSM runs on EC2, plus the control plane that
 * stands in for the AWS services. All state lives in one git-ignored folder.
 *
 * What the rest of pgwarden imports from the lab; docs/architecture.md says which file holds what.
 */
export {
  AWS_SIM_PROFILE,
  DEFAULT_PORT_BASE,
  defaultLabDir,
  LAB_PROFILE,
  LabError,
  PROFILES,
  profileByName,
  REPO_ROOT,
  type LabConfig,
  type LabNode,
  type LabOptions,
  type LabPgpool,
  type LabProfile,
  type Secrets,
} from './config';
export { Lab } from './lab';
export { redisCli } from './services';
export { renderStatus, type LabStatus, type NodeStatus, type PgpoolStatus } from './status';

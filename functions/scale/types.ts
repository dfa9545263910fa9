/** The scale-out and scale-in workflows' state documents. */
import type { PlannedInput } from '../switchover/common';

/** A provisioned instance for the new standby (AWS: launched from the node launch template; lab: Lab.addNode). */
export interface NewNode {
  name: string;
  host: string;
  port: number;
  backendId: number;
  instanceId: string;
}

export interface ScaleOutInput extends PlannedInput {
  node: NewNode;
}

export interface ScaleInInput extends PlannedInput {
  /** The standby to remove; absent = the most recently added standby. */
  node?: string;
  precheck?: { node: string; remaining: string[] };
}

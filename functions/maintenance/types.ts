/** The rolling maintenance workflow's state document. */
import type { PlannedInput } from '../planned/common';

export interface MaintenanceInput extends PlannedInput {
  /** What runs on each node while PostgreSQL is stopped: "restart" (default) or a shell command. */
  command?: string;
}

/** One node's maintenance: also the item the Map state iterates over. */
export interface NodeMaintenance extends PlannedInput {
  node: string;
  command: string;
}

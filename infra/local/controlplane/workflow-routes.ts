/** Control-plane routes of the switchover, rejoin, maintenance and scaling workflows. */
import type { ControlPlane } from './server';

export function register(_cp: ControlPlane): void {
  // Filled in by the switchover/rejoin/maintenance/scale work (issue 4).
}

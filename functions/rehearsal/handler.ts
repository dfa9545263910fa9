/**
 * Scheduled rehearsal Lambda (EventBridge, parameter RehearsalSchedule, weekly by default): sends the
 * rehearsal input to every workflow step Lambda (PGWARDEN_REHEARSAL_FUNCTIONS, generated from the ASL
 * files), publishes RehearsalFailures and notifies when one failed (rehearse.ts). Retries of functions
 * that are being reactivated stop REHEARSAL_MARGIN_MS before this Lambda's own timeout, so that the
 * metrics and the notification always go out.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { readEnv, readRehearsalFunctions } from '../lib/env';
import type { LambdaContext } from '../lib/aws/logger';
import type { Deps } from '../lib/ports';
import { LambdaRehearsalInvoker } from './aws';
import { DEFAULT_OPTIONS, runRehearsal, type RehearsalSummary } from './rehearse';

export const REHEARSAL_MARGIN_MS = 30_000;
/** Without a Lambda context (a direct call): 10 minutes. */
const DEFAULT_BUDGET_MS = 600_000;

let deps: Deps | undefined;
let invoker: LambdaRehearsalInvoker | undefined;

export const handler = async (
  event?: unknown,
  context?: LambdaContext & { getRemainingTimeInMillis?: () => number },
): Promise<RehearsalSummary> => {
  const { withInvocationLog } = await import('../lib/aws/logger');
  if (!deps) {
    const { awsDeps } = await import('../lib/aws/deps');
    deps = awsDeps();
  }
  if (!invoker) {
    const { tracedClient } = await import('../lib/aws/tracing');
    invoker = new LambdaRehearsalInvoker(tracedClient(new LambdaClient({ region: readEnv().region })));
  }
  const d = deps;
  const inv = invoker;
  return withInvocationLog(event, context, () => {
    const names = readRehearsalFunctions();
    const budget = context?.getRemainingTimeInMillis?.() ?? DEFAULT_BUDGET_MS;
    return runRehearsal(d, names, inv, {
      ...DEFAULT_OPTIONS,
      deadline: d.now().getTime() + budget - REHEARSAL_MARGIN_MS,
      now: () => d.now().getTime(),
      sleep: (ms) => d.sleep(ms),
    });
  });
};

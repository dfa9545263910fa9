/**
 * The `aws-sim` lab profile: the latencies the lab's stand-ins add so that a failover in the lab takes
 * as long as the same failover would in AWS. One table, each figure with its source
 * (/work/shared/AWS-LATENCIES.md collects them) and whether it is an estimate. docs/aws.md carries
 * the same table (renderLatencyTable; test/unit/aws-sim.test.ts keeps them equal).
 */

export interface Latency {
  /** What the lab delays. */
  what: string;
  /** Milliseconds the lab adds (a typical figure, not the tail). */
  ms: number;
  /** The published range, typical / tail, as AWS-LATENCIES.md states it. */
  published: string;
  source: string;
  estimate: boolean;
}

export const AWS_SIM_LATENCIES = {
  ssmDelivery: {
    what: 'SSM Run Command: SendCommand until the script runs on the instance (per node command)',
    ms: 1000,
    published: '0.3–1.5 s',
    source: 'amazon-ssm-agent release notes and issues (ssmmessages websocket since agent 3.1.821)',
    estimate: true,
  },
  ssmResultVisible: {
    what: 'SSM: a finished command until GetCommandInvocation reports it (eventually consistent)',
    ms: 300,
    published: 'trivial command → Success seen 1–3 s / 60 s+',
    source: 'aws-sdk and amazon-ssm-agent issues',
    estimate: true,
  },
  ssmPollInitial: {
    what: 'SSM: first GetCommandInvocation poll after SendCommand; the interval then doubles',
    ms: 100,
    published: 'pgwarden configuration',
    source: 'functions/lib/aws/ssm-node-commands.ts (pollInitialMs)',
    estimate: false,
  },
  ssmPollMax: {
    what: 'SSM: longest interval between two GetCommandInvocation polls of a node command',
    ms: 250,
    published: 'pgwarden configuration',
    source: 'functions/lib/aws/ssm-node-commands.ts (runPollMaxMs; 2000 before the cut)',
    estimate: false,
  },
  lambdaCold: {
    what: 'Lambda invoke, cold (first invoke of each function in the lab process): init + handler',
    ms: 375,
    published: 'init ~100–140 ms hello world; ~375 ms with three SDK v3 clients and a first HTTPS call',
    source: 'maxday/lambda-perf; Node 22 cold-start write-ups (2025)',
    estimate: false,
  },
  lambdaWarm: {
    what: 'Lambda invoke, warm: round trip',
    ms: 30,
    published: '15–40 ms / 100 ms',
    source: 'maxday/lambda-perf',
    estimate: true,
  },
  sfnStart: {
    what: 'Step Functions StartExecution until the first state runs',
    ms: 75,
    published: '50–100 ms',
    source: 'no published figure',
    estimate: true,
  },
  sfnTransition: {
    what: 'Step Functions (Standard): a Task state invoking its Lambda, over the Lambda invoke',
    ms: 50,
    published: '30–100 ms, tail 0.5–1 s',
    source: 'no published figure',
    estimate: true,
  },
  metricIngestion: {
    what: 'CloudWatch: a high-resolution datapoint until the alarm evaluation sees it',
    ms: 2000,
    published: 'a few seconds (datapoint → ALARM 10–25 s / 30–60 s with a 10 s alarm)',
    source: 'AWS re:Post answers; user reports',
    estimate: true,
  },
  alarmPeriod: {
    what: 'CloudWatch alarm period and evaluation cadence (high-resolution metric)',
    ms: 10_000,
    published: 'periods 10, 20, 30 s or multiples of 60; a 10 s alarm is evaluated every 10 s',
    source: 'CloudWatch User Guide, "Using Amazon CloudWatch alarms"; PutMetricAlarm Period',
    estimate: false,
  },
  alarmToEventBridge: {
    what: 'CloudWatch alarm state change until the event is on EventBridge',
    ms: 500,
    published: '< 1 s / 2 s',
    source: 'CloudWatch "Alarm events and EventBridge" (no figure published)',
    estimate: true,
  },
  eventBridgeToLambda: {
    what: 'EventBridge rule until its Lambda target is invoked',
    ms: 130,
    published: 'p99 ≈ 130 ms since Nov 2024 (≈ 2.2 s in 2023)',
    source: 'AWS What’s New, Nov 2024 (IngestionToInvocationStartLatency)',
    estimate: false,
  },
  ec2Event: {
    what: 'EC2: an instance failure until its `stopped` state-change event',
    ms: 10_000,
    published: 'force stop → stopped 10–40 s with --skip-os-shutdown, 30–90 s otherwise',
    source: 'EC2 User Guide, instance stop methods (no figure published)',
    estimate: true,
  },
  pgpoolHookCli: {
    what: "pgpool's failover_command: `aws lambda invoke` (AWS CLI start) before the hook Lambda runs",
    ms: 500,
    published: '—',
    source: 'no published figure (AWS CLI v2 start on t4g.small)',
    estimate: true,
  },
  probeInterval: {
    what: 'Prober: one write probe through the primary, publishing PrimaryWritable at high resolution',
    ms: 2000,
    published: 'pgwarden configuration',
    source: 'functions/probe/handler.ts (PGWARDEN_PROBE_EVERY_S, every 2 s inside the per-minute probe Lambda)',
    estimate: false,
  },
} satisfies Record<string, Latency>;

export type LatencyKey = keyof typeof AWS_SIM_LATENCIES;

/** pgpool's health check in AWS: configure-pgpool.sh's defaults (the AWS user data sets none). */
export const AWS_PGPOOL_HEALTH_CHECK = {
  periodS: 1,
  timeoutS: 2,
  retries: 0,
  connectTimeoutMs: 2000,
  source: 'infra/node/configure-pgpool.sh defaults, unchanged by infra/aws/userdata/pgpool.sh',
};

export function ms(key: LatencyKey): number {
  return AWS_SIM_LATENCIES[key].ms;
}

/** The markdown table of docs/aws.md. */
export function renderLatencyTable(): string {
  const rows = Object.entries(AWS_SIM_LATENCIES as Record<string, Latency>).map(
    ([k, l]) =>
      `| ${k} | ${l.what} | ${l.ms} | ${l.published} | ${l.source} | ${l.estimate ? 'estimate' : 'published'} |`,
  );
  const h = AWS_PGPOOL_HEALTH_CHECK;
  rows.push(
    `| pgpoolHealthCheck | pgpool health check: period ${h.periodS} s, timeout ${h.timeoutS} s, retries ${h.retries}, connect_timeout ${h.connectTimeoutMs} ms | - | as configured in AWS | ${h.source} | configuration |`,
  );
  return [
    '| key | what the lab delays | ms added | published | source | how sure |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

export const sleep = (m: number) => new Promise<void>((r) => setTimeout(r, m));

/**
 * Cold on the first invoke of each function in this process, warm afterwards. A function is warm once
 * an invoke's init has finished: invokes that overlap a cold one are cold too (Lambda starts another
 * execution environment for them).
 */
export class LambdaSim {
  private readonly warm = new Set<string>();
  async invoke(fn: string): Promise<boolean> {
    const cold = !this.warm.has(fn);
    await sleep(cold ? ms('lambdaCold') : ms('lambdaWarm'));
    this.warm.add(fn);
    return cold;
  }
}

/**
 * When the SSM adapter's caller sees a command's result: SSM delivers it after ssmDelivery, the script
 * runs `runMs`, SSM reports it ssmResultVisible later, and the adapter sees it at its next poll
 * (first after ssmPollInitial, the interval doubling up to ssmPollMax). Returns ms since SendCommand.
 */
export function ssmSeenAtMs(runMs: number): number {
  const ready = ms('ssmDelivery') + runMs + ms('ssmResultVisible');
  let t = 0;
  let interval = ms('ssmPollInitial');
  while (t < ready) {
    t += interval;
    interval = Math.min(interval * 2, ms('ssmPollMax'));
  }
  return t;
}

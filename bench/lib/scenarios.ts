/**
 * The benchmark's scenarios. Each runs against one freshly started server, drives load from the
 * agent processes, and returns its figures. Throughput is jobs counted divided by the wall time
 * from the first task's start to the last counted job. The submit, end-to-end and foreground
 * scenarios exist once per load {@link Pattern}: `bg-submit` streams, `bg-submit-libgearman`
 * makes libgearman's batch-and-wait traffic, and so on.
 */
import { runPhase, type Agent, type PhasePlan } from './agent-pool.js';
import { BenchError } from './bench-error.js';
import type { ServerProcess } from './servers.js';
import type { UniqueMode } from './submit-packets.js';
import type { Pattern, Task, TaskResult } from './tasks.js';

/** How many jobs each scenario uses. */
export interface Sizes {
  /** Background submits of 100 bytes. */
  readonly bgJobs: number;
  /** Jobs submitted by 2 clients and done by 4 workers. */
  readonly e2eJobs: number;
  /** Sequential foreground jobs for latency. */
  readonly latencyJobs: number;
  /** Foreground jobs spread over 4 clients for throughput. */
  readonly fgJobs: number;
  /** Jobs queued for the memory and deep-queue scenarios. */
  readonly queuedJobs: number;
  /** Submits timed on an empty and on a full server in the deep-queue scenario. */
  readonly probeJobs: number;
  /** 10 MB jobs run through the client library. */
  readonly libraryJobs: number;
}

/** The brief's sizes. */
export const FULL_SIZES: Sizes = {
  bgJobs: 200_000,
  e2eJobs: 200_000,
  latencyJobs: 10_000,
  fgJobs: 200_000,
  queuedJobs: 1_000_000,
  probeJobs: 100_000,
  libraryJobs: 60,
};

/** Tiny sizes for a smoke run. */
export const QUICK_SIZES: Sizes = {
  bgJobs: 2_000,
  e2eJobs: 2_000,
  latencyJobs: 200,
  fgJobs: 2_000,
  queuedJobs: 10_000,
  probeJobs: 1_000,
  libraryJobs: 4,
};

/** Knobs of the load shape, shared by every server so the comparison is like for like. */
export interface LoadShape {
  /** Unacknowledged background submits allowed per connection. */
  readonly submitWindow: number;
  /** Foreground jobs in flight per client in the throughput scenario. */
  readonly foregroundWindow: number;
  /** Connections used by the background-submit scenario. */
  readonly submitConnections: number;
  /** Unique ids of submitted jobs: distinct per job (as libgearman sends) or empty. */
  readonly uniques: UniqueMode;
  /** Load-generator processes: 2 puts workers and clients apart, 1 puts them together. */
  readonly agents: 1 | 2;
  /** Workers in the end-to-end scenario (how many sleep and are woken). */
  readonly e2eWorkers: number;
  /** Jobs per batch in the libgearman pattern (libgearman's clients: 100). */
  readonly batchSize: number;
}

/** The default load shape. */
export const DEFAULT_SHAPE: LoadShape = {
  submitWindow: 1000,
  foregroundWindow: 16,
  submitConnections: 1,
  agents: 2,
  uniques: 'distinct',
  e2eWorkers: 4,
  batchSize: 100,
};

/** What a scenario needs to run. */
export interface ScenarioContext {
  readonly server: ServerProcess;
  /** Two load-generator processes. */
  readonly agents: readonly [Agent, Agent];
  readonly sizes: Sizes;
  readonly shape: LoadShape;
  readonly timeoutMs: number;
  /** Progress lines for the person watching. */
  log(line: string): void;
}

/** One figure from one scenario on one server. */
export interface Measurement {
  /** Stable key, e.g. `bg-submit.rate`. */
  readonly key: string;
  readonly value: number;
  /** Jobs the load generator counted for this figure (what the smoke test checks). */
  readonly jobsCounted: number;
  /** Jobs it was asked to count. */
  readonly jobsExpected: number;
  /** Extra facts worth keeping in the JSON record (RSS before/after, …). */
  readonly detail?: Record<string, number>;
}

/** A named scenario. */
export interface Scenario {
  readonly name: ScenarioName;
  readonly summary: string;
  /** Whether it runs on the null server too (it only answers background submits). */
  readonly nullServer?: boolean;
  run(ctx: ScenarioContext): Promise<Measurement[]>;
}

/** Scenario names, in run order. */
export const SCENARIO_NAMES = [
  'bg-submit',
  'bg-submit-libgearman',
  'end-to-end',
  'end-to-end-libgearman',
  'fg-latency',
  'fg-latency-libgearman',
  'fg-throughput',
  'fg-throughput-libgearman',
  'memory',
  'deep-queue',
  'library-10mb',
] as const;
/** One of {@link SCENARIO_NAMES}. */
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const FUNCTION = 'bench';

/** The one result of a kind in a phase (each phase runs at most one task of each kind). */
export function only(results: TaskResult[][], kind: Task['kind']): TaskResult {
  const found = results.flat().find((r) => r.kind === kind);
  if (!found) throw new BenchError('AGENT_FAILED', `no ${kind} result`);
  return found;
}

/**
 * Places workers on one load-generator process and clients on the other, or everything on the
 * first when the shape asks for a single process.
 */
function plan(ctx: ScenarioContext, workers: Task[], clients: Task[]): PhasePlan {
  if (ctx.shape.agents === 1) return [[ctx.agents[0], [...workers, ...clients]]];
  return [
    [ctx.agents[0], workers],
    [ctx.agents[1], clients],
  ];
}

/** Jobs per second between two wall-clock times in ms. */
export function rate(counted: number, startedAt: number, finishedAt: number): number {
  const seconds = (finishedAt - startedAt) / 1000;
  return seconds > 0 ? counted / seconds : 0;
}

/** The value below which `fraction` of the sorted samples fall (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] as number;
}

function splitEvenly(total: number, parts: number): number {
  return Math.ceil(total / parts);
}

/** The scenario of `base` in `pattern`: `base` itself streams, `base-libgearman` batches. */
function named(base: string, pattern: Pattern): ScenarioName {
  return (pattern === 'stream' ? base : `${base}-libgearman`) as ScenarioName;
}

/** The submit window of a pattern: streaming's sliding window, or libgearman's batch. */
function submitWindow(ctx: ScenarioContext, pattern: Pattern): number {
  return pattern === 'stream' ? ctx.shape.submitWindow : ctx.shape.batchSize;
}

async function backgroundSubmit(
  ctx: ScenarioContext,
  jobs: number,
  payloadBytes: number,
  connections: number,
  pattern: Pattern = 'stream',
): Promise<TaskResult> {
  const perConnection = splitEvenly(jobs, connections);
  const results = await runPhase(
    [
      [
        ctx.agents[0],
        [
          {
            kind: 'bg-submit',
            port: ctx.server.port,
            functionName: FUNCTION,
            connections,
            jobsPerConnection: perConnection,
            payloadBytes,
            window: submitWindow(ctx, pattern),
            uniques: ctx.shape.uniques,
            pattern,
          },
        ],
      ],
    ],
    ctx.timeoutMs,
  );
  return only(results, 'bg-submit');
}

/**
 * Runs `phase` and adds the server's CPU time per job counted by its first figure, in µs, as
 * `<scenario>.cpu`.
 */
async function withServerCpu(
  ctx: ScenarioContext,
  scenario: string,
  phase: () => Promise<Measurement[]>,
): Promise<Measurement[]> {
  const before = await ctx.server.cpuMs();
  const measured = await phase();
  const cpuMs = (await ctx.server.cpuMs()) - before;
  const first = measured[0];
  if (first === undefined) throw new BenchError('AGENT_FAILED', `${scenario}: no figure`);
  const perJob = first.jobsCounted > 0 ? (cpuMs * 1000) / first.jobsCounted : 0;
  return [
    ...measured,
    {
      key: `${scenario}.cpu`,
      value: perJob,
      jobsCounted: first.jobsCounted,
      jobsExpected: first.jobsExpected,
    },
  ];
}

function bgSubmit(pattern: Pattern): Scenario {
  const name = named('bg-submit', pattern);
  return {
    name,
    summary:
      pattern === 'stream'
        ? 'SUBMIT_JOB_BG of 100 bytes, pipelined, no workers'
        : 'SUBMIT_JOB_BG of 100 bytes in batches of 100, each waiting for its JOB_CREATEDs',
    nullServer: true,
    run(ctx) {
      return withServerCpu(ctx, name, async () => {
        const r = await backgroundSubmit(
          ctx,
          ctx.sizes.bgJobs,
          100,
          ctx.shape.submitConnections,
          pattern,
        );
        return [
          {
            key: `${name}.rate`,
            value: rate(r.counted, r.startedAt, r.finishedAt),
            jobsCounted: r.counted,
            jobsExpected: r.sent,
          },
        ];
      });
    },
  };
}

function endToEnd(pattern: Pattern): Scenario {
  const name = named('end-to-end', pattern);
  return {
    name,
    summary: '2 clients submit background jobs, 4 workers (--e2e-workers) complete them',
    run(ctx) {
      const jobs = splitEvenly(ctx.sizes.e2eJobs, 2) * 2;
      const workerTask: Task = {
        kind: 'workers',
        port: ctx.server.port,
        functionName: FUNCTION,
        count: ctx.shape.e2eWorkers,
        target: jobs,
        resultBytes: 0,
        pattern,
      };
      const submitTask: Task = {
        kind: 'bg-submit',
        port: ctx.server.port,
        functionName: FUNCTION,
        connections: 2,
        jobsPerConnection: jobs / 2,
        payloadBytes: 100,
        window: submitWindow(ctx, pattern),
        uniques: ctx.shape.uniques,
        pattern,
      };
      return withServerCpu(ctx, name, async () => {
        const results = await runPhase(plan(ctx, [workerTask], [submitTask]), ctx.timeoutMs);
        const workers = only(results, 'workers');
        const submit = only(results, 'bg-submit');
        const start = Math.min(workers.startedAt, submit.startedAt);
        return [
          {
            key: `${name}.rate`,
            value: rate(workers.counted, start, workers.finishedAt),
            jobsCounted: workers.counted,
            jobsExpected: jobs,
            detail: { submitted: submit.counted },
          },
        ];
      });
    },
  };
}

async function foreground(
  ctx: ScenarioContext,
  clients: number,
  workers: number,
  jobs: number,
  window: number,
  recordLatency: boolean,
  pattern: Pattern,
): Promise<{ clients: TaskResult; workers: TaskResult; total: number }> {
  const perClient = splitEvenly(jobs, clients);
  const total = perClient * clients;
  const workerTask: Task = {
    kind: 'workers',
    port: ctx.server.port,
    functionName: FUNCTION,
    count: workers,
    target: total,
    resultBytes: 10,
    pattern,
  };
  const clientTask: Task = {
    kind: 'fg-clients',
    port: ctx.server.port,
    functionName: FUNCTION,
    count: clients,
    jobsPerClient: perClient,
    window,
    payloadBytes: 100,
    uniques: ctx.shape.uniques,
    recordLatency,
    pattern,
  };
  const results = await runPhase(plan(ctx, [workerTask], [clientTask]), ctx.timeoutMs);
  return { clients: only(results, 'fg-clients'), workers: only(results, 'workers'), total };
}

/** The latency percentiles reported, with the suffix of their keys. */
const LATENCY_PERCENTILES: readonly (readonly [string, number])[] = [
  ['p50', 0.5],
  ['p99', 0.99],
  ['p99.9', 0.999],
];

function fgLatency(pattern: Pattern): Scenario {
  const name = named('fg-latency', pattern);
  return {
    name,
    summary:
      pattern === 'stream'
        ? '1 client, 1 worker (GRAB_JOB), sequential SUBMIT_JOB → WORK_COMPLETE'
        : '1 client, 1 worker (GRAB_JOB_ALL, a write per packet), sequential SUBMIT_JOB → WORK_COMPLETE',
    run(ctx) {
      return withServerCpu(ctx, name, async () => {
        const r = await foreground(ctx, 1, 1, ctx.sizes.latencyJobs, 1, true, pattern);
        const sorted = [...(r.clients.latenciesUs ?? [])].sort((a, b) => a - b);
        const base = { jobsCounted: r.clients.counted, jobsExpected: r.total };
        return LATENCY_PERCENTILES.map(([suffix, fraction]) => ({
          key: `${name}.${suffix}`,
          value: percentile(sorted, fraction),
          ...base,
        }));
      });
    },
  };
}

function fgThroughput(pattern: Pattern): Scenario {
  const name = named('fg-throughput', pattern);
  return {
    name,
    summary:
      pattern === 'stream'
        ? '4 clients (16 jobs in flight each), 4 workers, foreground jobs'
        : '4 clients (batches of 100, each waiting for every WORK_COMPLETE), 4 GRAB_JOB_ALL workers',
    run(ctx) {
      const window = pattern === 'stream' ? ctx.shape.foregroundWindow : ctx.shape.batchSize;
      return withServerCpu(ctx, name, async () => {
        const r = await foreground(ctx, 4, 4, ctx.sizes.fgJobs, window, false, pattern);
        return [
          {
            key: `${name}.rate`,
            value: rate(r.clients.counted, r.clients.startedAt, r.clients.finishedAt),
            jobsCounted: r.clients.counted,
            jobsExpected: r.total,
          },
        ];
      });
    },
  };
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const memory: Scenario = {
  name: 'memory',
  summary: 'VmRSS growth per queued 1-byte background job',
  async run(ctx) {
    await settle(300);
    const before = await ctx.server.rssBytes();
    const r = await backgroundSubmit(ctx, ctx.sizes.queuedJobs, 1, 1);
    await settle(500);
    const after = await ctx.server.rssBytes();
    return [
      {
        key: 'memory.bytes-per-job',
        value: (after - before) / r.counted,
        jobsCounted: r.counted,
        jobsExpected: r.sent,
        detail: { rssBeforeBytes: before, rssAfterBytes: after },
      },
    ];
  },
};

const deepQueue: Scenario = {
  name: 'deep-queue',
  summary: 'submit rate on an empty server, then with the queue full',
  async run(ctx) {
    const probe = ctx.sizes.probeJobs;
    const empty = await backgroundSubmit(ctx, probe, 100, 1);
    const fillJobs = Math.max(0, ctx.sizes.queuedJobs - probe);
    ctx.log(`  filling the queue with ${fillJobs} more jobs`);
    const fill = await backgroundSubmit(ctx, fillJobs, 1, 1);
    const full = await backgroundSubmit(ctx, probe, 100, 1);
    const emptyRate = rate(empty.counted, empty.startedAt, empty.finishedAt);
    const fullRate = rate(full.counted, full.startedAt, full.finishedAt);
    const counted = empty.counted + fill.counted + full.counted;
    const expected = empty.sent + fill.sent + full.sent;
    return [
      {
        key: 'deep-queue.rate-full',
        value: fullRate,
        jobsCounted: counted,
        jobsExpected: expected,
        detail: {
          emptyRate,
          queuedBeforeProbe: empty.counted + fill.counted,
          fillRate: rate(fill.counted, fill.startedAt, fill.finishedAt),
        },
      },
      {
        key: 'deep-queue.full-vs-empty',
        value: emptyRate > 0 ? fullRate / emptyRate : 0,
        jobsCounted: counted,
        jobsExpected: expected,
      },
    ];
  },
};

/** The payload of the library scenario: 10 MB. */
export const LIBRARY_PAYLOAD_BYTES = 10 * 1000 * 1000;

const library10mb: Scenario = {
  name: 'library-10mb',
  summary: 'the client library: 10 MB foreground jobs echoed by a library worker',
  async run(ctx) {
    const jobs = ctx.sizes.libraryJobs;
    const workerTask: Task = {
      kind: 'lib-worker',
      port: ctx.server.port,
      functionName: FUNCTION,
      concurrency: 2,
      target: jobs,
    };
    const clientTask: Task = {
      kind: 'lib-clients',
      port: ctx.server.port,
      functionName: FUNCTION,
      jobs,
      inFlight: 2,
      payloadBytes: LIBRARY_PAYLOAD_BYTES,
    };
    const results = await runPhase(plan(ctx, [workerTask], [clientTask]), ctx.timeoutMs);
    const clients = only(results, 'lib-clients');
    const seconds = (clients.finishedAt - clients.startedAt) / 1000;
    return [
      {
        key: 'library-10mb.mb-per-s',
        value: seconds > 0 ? (clients.counted * LIBRARY_PAYLOAD_BYTES) / 1e6 / seconds : 0,
        jobsCounted: clients.counted,
        jobsExpected: jobs,
      },
    ];
  },
};

/** Every scenario by name. */
export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  'bg-submit': bgSubmit('stream'),
  'bg-submit-libgearman': bgSubmit('libgearman'),
  'end-to-end': endToEnd('stream'),
  'end-to-end-libgearman': endToEnd('libgearman'),
  'fg-latency': fgLatency('stream'),
  'fg-latency-libgearman': fgLatency('libgearman'),
  'fg-throughput': fgThroughput('stream'),
  'fg-throughput-libgearman': fgThroughput('libgearman'),
  memory,
  'deep-queue': deepQueue,
  'library-10mb': library10mb,
};

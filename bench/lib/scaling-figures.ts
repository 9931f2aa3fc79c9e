/**
 * The figures of "how cost grows" (issue 16, part 4): each is a curve over a few points (10,
 * 1,000 and 10,000 connections, …), one line per server. A point runs on a freshly started
 * server and reports its values: rates, the server's CPU time per job, its peak RSS.
 */
import { runPhase, type Agent, type PhasePlan } from './agent-pool.js';
import { only, percentile, rate } from './scenarios.js';
import type { ServerKind, ServerProcess } from './servers.js';
import type { UniqueMode } from './submit-packets.js';
import type { BackgroundSubmitTask, Pattern, Task, TaskResult } from './tasks.js';

/** Figure names, in run order. */
export const SCALING_FIGURES = [
  'connections-idle',
  'connections-active',
  'functions',
  'workers',
  'deep-queue',
] as const;
/** One of {@link SCALING_FIGURES}. */
export type ScalingFigureName = (typeof SCALING_FIGURES)[number];

/** The x points of each figure and the jobs each point runs. */
export interface ScalingSizes {
  readonly connections: readonly number[];
  readonly functions: readonly number[];
  readonly workers: readonly number[];
  readonly queued: readonly number[];
  /** Submits per rate measurement (connections, functions, the deep-queue probe). */
  readonly jobs: number;
  /** Background jobs done by the sleeping workers, per point. */
  readonly workerJobs: number;
  /** Sequential foreground jobs timed with the sleeping workers, per point. */
  readonly latencyJobs: number;
}

/** The points. */
export const FULL_SCALING_SIZES: ScalingSizes = {
  connections: [10, 1_000, 10_000],
  functions: [1, 100, 10_000],
  workers: [1, 100, 10_000],
  queued: [0, 100_000, 1_000_000],
  jobs: 100_000,
  workerJobs: 20_000,
  latencyJobs: 200,
};

/** Tiny points for a smoke run. */
export const QUICK_SCALING_SIZES: ScalingSizes = {
  connections: [10, 100],
  functions: [1, 10],
  workers: [1, 10],
  queued: [0, 10_000],
  jobs: 2_000,
  workerJobs: 500,
  latencyJobs: 50,
};

/** How the load generator talks in every figure. */
export interface ScalingLoad {
  readonly pattern: Pattern;
  /** libgearman: the batch; stream: the sliding window of unacknowledged submits. */
  readonly window: number;
  readonly uniques: UniqueMode;
}

/** What a point needs to run. */
export interface PointContext {
  readonly server: ServerProcess;
  readonly agents: readonly [Agent, Agent];
  readonly sizes: ScalingSizes;
  readonly load: ScalingLoad;
  readonly timeoutMs: number;
  log(line: string): void;
}

/** What a point measured. */
export interface PointValues {
  /** By {@link ValueSpec.key}. */
  readonly values: Record<string, number>;
  readonly jobsCounted: number;
  readonly jobsExpected: number;
}

/** One value a figure reports at each point: a panel of its chart. */
export interface ValueSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
}

/** A line of a figure: a server kind, perhaps with extra flags. */
export interface Series {
  readonly label: string;
  readonly kind: ServerKind;
  readonly args: readonly string[];
}

/** A figure: its points, lines, values and how one point is measured. */
export interface FigureSpec {
  readonly name: ScalingFigureName;
  readonly title: string;
  readonly xTitle: string;
  points(sizes: ScalingSizes): readonly number[];
  /** The lines drawn for the chosen server kinds. */
  series(kinds: readonly ServerKind[]): Series[];
  readonly values: readonly ValueSpec[];
  /** Connections the server (and the busiest load generator) holds at point `x`. */
  connections(x: number): number;
  run(ctx: PointContext, x: number): Promise<PointValues>;
}

const FUNCTION = 'scale';
/** How often the server's RSS is sampled during a phase, for its peak. */
const RSS_SAMPLE_MS = 100;
/** Workers in the functions figure, each able to do every function. */
const FUNCTION_WORKERS = 4;

const RATE: ValueSpec = { key: 'rate', label: 'submit rate', unit: 'jobs/s' };
const CPU: ValueSpec = { key: 'cpu', label: 'server CPU per submit', unit: 'µs' };
const RSS: ValueSpec = { key: 'rss', label: 'server peak RSS', unit: 'MB' };

/** What a phase cost the server: CPU from go to done, and its peak RSS meanwhile. */
interface PhaseCost {
  readonly results: TaskResult[][];
  readonly cpuMs: number;
  readonly peakRssBytes: number;
}

/**
 * Runs a phase, reading the server's CPU time once every connection is open (so opening 10,000
 * connections or registering 10,000 functions is not charged to the jobs) and sampling its RSS
 * until the phase ends.
 */
async function measuredPhase(ctx: PointContext, plan: PhasePlan): Promise<PhaseCost> {
  let peak = 0;
  let cpuBefore = 0;
  let timer: NodeJS.Timeout | undefined;
  const sample = async (): Promise<void> => {
    try {
      peak = Math.max(peak, await ctx.server.rssBytes());
    } catch {
      // The server went away; the phase reports that itself.
    }
  };
  try {
    const results = await runPhase(plan, ctx.timeoutMs, async () => {
      cpuBefore = await ctx.server.cpuMs();
      await sample();
      timer = setInterval(() => void sample(), RSS_SAMPLE_MS);
    });
    const cpuMs = (await ctx.server.cpuMs()) - cpuBefore;
    await sample();
    return { results, cpuMs, peakRssBytes: peak };
  } finally {
    clearInterval(timer);
  }
}

const perJobUs = (cpuMs: number, jobs: number): number => (jobs > 0 ? (cpuMs * 1000) / jobs : 0);
const megabytes = (bytes: number): number => bytes / 2 ** 20;

function submitTask(
  ctx: PointContext,
  connections: number,
  jobsPerConnection: number,
  extra: Partial<BackgroundSubmitTask> = {},
): BackgroundSubmitTask {
  return {
    kind: 'bg-submit',
    port: ctx.server.port,
    functionName: FUNCTION,
    connections,
    jobsPerConnection,
    payloadBytes: 100,
    window: ctx.load.window,
    uniques: ctx.load.uniques,
    pattern: ctx.load.pattern,
    ...extra,
  };
}

/** Every chosen kind as one line. */
const plainSeries = (kinds: readonly ServerKind[]): Series[] =>
  kinds.map((kind) => ({ label: kind, kind, args: [] }));
/** The null server cannot queue or hand out jobs. */
const realServers = (kinds: readonly ServerKind[]): Series[] =>
  plainSeries(kinds.filter((k) => k !== 'null'));

/** Rate and CPU of a submit phase, with the peak RSS. */
function submitFigures(cost: PhaseCost, submit: TaskResult, expected: number): PointValues {
  return {
    values: {
      rate: rate(submit.counted, submit.startedAt, submit.finishedAt),
      cpu: perJobUs(cost.cpuMs, submit.counted),
      rss: megabytes(cost.peakRssBytes),
    },
    jobsCounted: submit.counted,
    jobsExpected: expected,
  };
}

const connectionsIdle: FigureSpec = {
  name: 'connections-idle',
  title: 'Idle connections: one client submitting while N others sit connected',
  xTitle: 'idle connections',
  points: (s) => s.connections,
  series: plainSeries,
  values: [RATE, CPU, RSS],
  connections: (x) => x + 1,
  async run(ctx, x) {
    const jobs = ctx.sizes.jobs;
    // The idle connections live in the submitter's agent: an agent closes its connections when
    // all its tasks are done, and the idle ones are done at once.
    const cost = await measuredPhase(ctx, [
      [
        ctx.agents[1],
        [{ kind: 'idle', port: ctx.server.port, connections: x }, submitTask(ctx, 1, jobs)],
      ],
    ]);
    return submitFigures(cost, only(cost.results, 'bg-submit'), jobs);
  },
};

const connectionsActive: FigureSpec = {
  name: 'connections-active',
  title: 'Active connections: N clients all submitting background jobs',
  xTitle: 'submitting connections',
  points: (s) => s.connections,
  series: plainSeries,
  values: [RATE, CPU, RSS],
  connections: (x) => x,
  async run(ctx, x) {
    const perConnection = Math.ceil(ctx.sizes.jobs / x);
    const cost = await measuredPhase(ctx, [[ctx.agents[1], [submitTask(ctx, x, perConnection)]]]);
    return submitFigures(cost, only(cost.results, 'bg-submit'), perConnection * x);
  },
};

const functions: FigureSpec = {
  name: 'functions',
  title: 'Functions: jobs spread over N functions',
  xTitle: 'functions',
  points: (s) => s.functions,
  series: realServers,
  values: [
    RATE,
    CPU,
    {
      key: 'e2e-rate',
      label: `end to end, ${FUNCTION_WORKERS} workers doing every function`,
      unit: 'jobs/s',
    },
    { key: 'e2e-cpu', label: 'server CPU per job, end to end', unit: 'µs' },
    RSS,
  ],
  connections: () => FUNCTION_WORKERS + 1,
  async run(ctx, x) {
    const jobs = ctx.sizes.jobs;
    // End to end first, on the empty server: workers that CAN_DO every function, asleep.
    const e2e = await measuredPhase(ctx, [
      [
        ctx.agents[0],
        [
          {
            kind: 'workers',
            port: ctx.server.port,
            functionName: FUNCTION,
            functions: x,
            count: FUNCTION_WORKERS,
            target: jobs,
            resultBytes: 0,
            pattern: ctx.load.pattern,
          },
        ],
      ],
      [ctx.agents[1], [submitTask(ctx, 1, jobs, { functions: x })]],
    ]);
    const workers = only(e2e.results, 'workers');
    const e2eStart = Math.min(workers.startedAt, only(e2e.results, 'bg-submit').startedAt);
    // Then submits with no workers: every job stays queued under its function.
    const submit = await measuredPhase(ctx, [
      [ctx.agents[1], [submitTask(ctx, 1, jobs, { functions: x })]],
    ]);
    const figures = submitFigures(submit, only(submit.results, 'bg-submit'), jobs);
    return {
      values: {
        ...figures.values,
        'e2e-rate': rate(workers.counted, e2eStart, workers.finishedAt),
        'e2e-cpu': perJobUs(e2e.cpuMs, workers.counted),
        rss: megabytes(Math.max(e2e.peakRssBytes, submit.peakRssBytes)),
      },
      jobsCounted: figures.jobsCounted + workers.counted,
      jobsExpected: jobs * 2,
    };
  },
};

/** gearmand and Gearbox wake every sleeping worker of the function by default; `-w 1` one. */
const WAKE_ONE = ['-w', '1'];

const sleepingWorkers: FigureSpec = {
  name: 'workers',
  title: 'Sleeping workers: N workers of one function asleep when jobs arrive',
  xTitle: 'sleeping workers of the function',
  points: (s) => s.workers,
  series: (kinds) =>
    realServers(kinds).flatMap((s) => [
      s,
      { label: `${s.label} ${WAKE_ONE.join(' ')}`, kind: s.kind, args: WAKE_ONE },
    ]),
  values: [
    { key: 'e2e-rate', label: 'background jobs done', unit: 'jobs/s' },
    { key: 'e2e-cpu', label: 'server CPU per job', unit: 'µs' },
    { key: 'p50', label: 'sequential foreground latency p50', unit: 'µs' },
    { key: 'p99', label: 'sequential foreground latency p99', unit: 'µs' },
    RSS,
  ],
  connections: (x) => x + 1,
  async run(ctx, x) {
    const workers = (target: number): Task => ({
      kind: 'workers',
      port: ctx.server.port,
      functionName: FUNCTION,
      count: x,
      target,
      resultBytes: 0,
      pattern: ctx.load.pattern,
    });
    const jobs = ctx.sizes.workerJobs;
    const e2e = await measuredPhase(ctx, [
      [ctx.agents[0], [workers(jobs)]],
      [ctx.agents[1], [submitTask(ctx, 1, jobs)]],
    ]);
    const done = only(e2e.results, 'workers');
    const e2eStart = Math.min(done.startedAt, only(e2e.results, 'bg-submit').startedAt);
    // One job at a time: each arrives with (nearly) every worker asleep, so its latency
    // includes waking them — all of them, or one with -w 1.
    const sequential = ctx.sizes.latencyJobs;
    const fg = await measuredPhase(ctx, [
      [ctx.agents[0], [workers(sequential)]],
      [
        ctx.agents[1],
        [
          {
            kind: 'fg-clients',
            port: ctx.server.port,
            functionName: FUNCTION,
            count: 1,
            jobsPerClient: sequential,
            window: 1,
            payloadBytes: 100,
            uniques: ctx.load.uniques,
            recordLatency: true,
            pattern: ctx.load.pattern,
          },
        ],
      ],
    ]);
    const clients = only(fg.results, 'fg-clients');
    const sorted = [...(clients.latenciesUs ?? [])].sort((a, b) => a - b);
    return {
      values: {
        'e2e-rate': rate(done.counted, e2eStart, done.finishedAt),
        'e2e-cpu': perJobUs(e2e.cpuMs, done.counted),
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        rss: megabytes(Math.max(e2e.peakRssBytes, fg.peakRssBytes)),
      },
      jobsCounted: done.counted + clients.counted,
      jobsExpected: jobs + sequential,
    };
  },
};

const deepQueue: FigureSpec = {
  name: 'deep-queue',
  title: 'Queue depth: submit rate with N jobs already queued',
  xTitle: 'jobs queued before the probe',
  points: (s) => s.queued,
  series: realServers,
  values: [RATE, { key: 'vs-empty', label: 'rate ÷ empty-server rate', unit: '×' }, CPU, RSS],
  connections: () => 1,
  async run(ctx, x) {
    const jobs = ctx.sizes.jobs;
    let filled = 0;
    if (x > 0) {
      ctx.log(`    filling the queue with ${x} jobs`);
      // The fill streams 1-byte jobs whatever the pattern: it is set-up, not the figure.
      const fill = await runPhase(
        [
          [
            ctx.agents[1],
            [submitTask(ctx, 1, x, { payloadBytes: 1, pattern: 'stream', window: 1000 })],
          ],
        ],
        ctx.timeoutMs,
      );
      filled = only(fill, 'bg-submit').counted;
    }
    const probe = await measuredPhase(ctx, [[ctx.agents[1], [submitTask(ctx, 1, jobs)]]]);
    const figures = submitFigures(probe, only(probe.results, 'bg-submit'), jobs);
    // vs-empty is filled in once the empty point (x = 0) of the same line is known.
    return {
      ...figures,
      jobsCounted: figures.jobsCounted + filled,
      jobsExpected: figures.jobsExpected + x,
    };
  },
};

/** Every figure by name. */
export const FIGURES: Readonly<Record<ScalingFigureName, FigureSpec>> = {
  'connections-idle': connectionsIdle,
  'connections-active': connectionsActive,
  functions,
  workers: sleepingWorkers,
  'deep-queue': deepQueue,
};

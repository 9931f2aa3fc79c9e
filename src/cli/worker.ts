/**
 * `gearbox worker`: the `gearman -w` mode. For every job it runs COMMAND with the workload on
 * stdin and sends the command's stdout back as the result; a non-zero exit fails the job (the
 * output so far goes back as WORK_DATA, then the failure). Without a command the workload is
 * echoed, to stdout and back as the result (as `gearman -w` does). Stops after `-c COUNT` jobs,
 * or gracefully on SIGINT / SIGTERM. A daemon's log on stderr: every reconnect attempt with its
 * backoff, every failed job; with `-v` also each job's start, duration and exit status.
 */
import { Worker } from '../worker/worker.js';
import { commandHandler } from '../worker/command-runner.js';
import type { WorkerJob } from '../worker/worker-job.js';
import { HELP_OPTION, serverListOptions, serversFromOptions } from './common-options.js';
import { formatHelp, parseOptions } from './options.js';
import { positiveInteger } from './option-values.js';
import { UsageError } from './usage-error.js';

/** Every option of `gearbox worker`, in the order `--help` lists them. */
export const WORKER_OPTIONS = [
  {
    name: 'function',
    short: 'f',
    value: 'NAME',
    repeat: 'list',
    help: 'function to register (required)',
  },
  ...serverListOptions(),
  { name: 'count', short: 'c', value: 'N', help: 'exit after N jobs', default: 'no limit' },
  { name: 'concurrency', value: 'N', help: 'run up to N jobs at once', default: '1' },
  {
    name: 'timeout',
    short: 't',
    value: 'MS',
    help: 'fail a job that runs longer than MS milliseconds',
    default: 'none',
  },
  { name: 'id', short: 'i', value: 'ID', help: 'client id shown by `gearbox admin --workers`' },
  {
    name: 'verbose',
    short: 'v',
    help: "log each job's start, duration and exit status on stderr",
  },
  HELP_OPTION,
] as const;

const HELP = formatHelp(
  {
    usage: 'usage: gearbox worker -f FUNCTION [options] [-- COMMAND [ARGS ...]]',
    about:
      'Runs COMMAND for each job of FUNCTION with the workload on stdin; its stdout is the result and ' +
      'a non-zero exit status fails the job, like `gearman -w`. Without COMMAND it is an echo worker: ' +
      'the workload is printed on stdout and sent back as the result.',
    notes: [
      'While a server is down or lost, every reconnect attempt is logged on stderr with its backoff ' +
        '(up to 5 s between attempts); failed jobs are always logged.',
    ],
  },
  WORKER_OPTIONS,
);

function log(message: string): void {
  console.error(`gearbox worker: ${message}`);
}

/** `850 ms`, `2.4 s`. */
function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Logs the connection story: a lost server, each reconnect attempt with its backoff (every one
 * of the first ten in a row, then every tenth, so that a long outage stays readable), and the
 * connect that ends an outage; the first connect only with `-v`. Returns the function to call
 * once `start()` has settled: lines until then wait for it, so that the reason the first
 * attempt failed comes before the retries.
 */
function followConnections(worker: Worker, verbose: boolean): () => void {
  let held: string[] | undefined = [];
  const say = (message: string): void => {
    if (held) held.push(message);
    else log(message);
  };
  const attempts = new Map<string, number>();
  worker.on('disconnect', (_server, error) => say(error.message));
  worker.on('reconnecting', (server, delay, attempt) => {
    attempts.set(server, attempt);
    if (attempt <= 10 || attempt % 10 === 0)
      say(`reconnecting to ${server} in ${formatDuration(delay)} (attempt ${attempt})`);
  });
  worker.on('connect', (server) => {
    const failed = attempts.get(server);
    attempts.delete(server);
    if (failed !== undefined) say(`connected to ${server} (attempt ${failed})`);
    else if (verbose) say(`connected to ${server}`);
  });
  return () => {
    for (const message of held ?? []) log(message);
    held = undefined;
  };
}

/**
 * Runs `gearbox worker`; resolves with the exit status once the worker has stopped. A bad
 * command line throws a `UsageError`, which `main` prints.
 */
export async function run(argv: string[]): Promise<number> {
  const options = parseOptions('worker', WORKER_OPTIONS, argv, { positionals: true });
  if (options.has('help')) {
    console.log(HELP);
    return 0;
  }
  const functions = options.values('function');
  if (functions.length === 0) throw new UsageError('MISSING_VALUE', '-f FUNCTION is required');
  const number = (name: 'count' | 'concurrency' | 'timeout'): number | undefined => {
    const text = options.value(name);
    return text === undefined ? undefined : positiveInteger(options.shown(name), text);
  };
  const count = number('count');
  const concurrency = number('concurrency') ?? 1;
  const timeout = number('timeout');
  const servers = serversFromOptions(options);
  const verbose = options.has('verbose');
  const [command, ...args] = options.positionals;
  const perform =
    command === undefined
      ? (job: WorkerJob): Buffer => {
          process.stdout.write(job.workload);
          return job.workload;
        }
      : commandHandler({ command, args });

  let worker: Worker;
  let started = 0;
  let done = 0;
  let finished: (() => void) | undefined;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const startedAt = new WeakMap<WorkerJob, number>();
  const elapsed = (job: WorkerJob): string =>
    formatDuration(performance.now() - (startedAt.get(job) ?? performance.now()));
  const outcome = command === undefined ? 'echoed' : 'exit status 0';
  const handler = async (job: WorkerJob): Promise<Buffer> => {
    startedAt.set(job, performance.now());
    if (verbose) log(`job ${job.handle} (${job.functionName}) started`);
    started += 1;
    // The last allowed job has begun: take no more.
    if (count !== undefined && started >= count)
      for (const name of functions) worker.unregister(name);
    try {
      const result = await perform(job);
      if (verbose)
        log(`job ${job.handle} (${job.functionName}) done in ${elapsed(job)}, ${outcome}`);
      return result;
    } finally {
      done += 1;
      // Leave once the last allowed job has answered (the result is sent right after this).
      if (count !== undefined && done >= count) setImmediate(() => finished?.());
    }
  };
  try {
    worker = new Worker({
      servers,
      concurrency: count === undefined ? concurrency : Math.min(concurrency, count),
      clientId: options.value('id'),
    });
    for (const name of functions) worker.register(name, handler, { timeout });
  } catch (err) {
    // The Worker refuses a bad client id or function name with a TypeError: a usage error here.
    throw new UsageError('BAD_VALUE', (err as Error).message, { cause: err });
  }
  worker.on('failed', (job, error) =>
    log(`job ${job.handle} (${job.functionName}) failed after ${elapsed(job)}: ${error.message}`),
  );
  const startSettled = followConnections(worker, verbose);
  worker.on('warning', (error) => log(error.message));
  const stopSignal = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  try {
    await worker.start();
  } catch (err) {
    // The worker keeps retrying (each attempt is logged); carry on, like a daemon should.
    log((err as Error).message);
  }
  startSettled();
  await Promise.race([allDone, stopSignal]);
  await worker.stop({ timeout: 30_000 });
  return 0;
}

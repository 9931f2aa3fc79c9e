/**
 * `gearbox worker`: the `gearman -w` mode. For every job it runs COMMAND with the workload on
 * stdin and sends the command's stdout back as the result; a non-zero exit fails the job (the
 * output so far goes back as WORK_DATA, then the failure). Without a command the workload is
 * echoed. Stops after `-c COUNT` jobs, or gracefully on SIGINT / SIGTERM.
 */
import { Worker } from '../worker/worker.js';
import { commandHandler } from '../worker/command-runner.js';
import type { WorkerJob } from '../worker/worker-job.js';
import { HELP_OPTION, serverListOptions, serversFromOptions } from './common-options.js';
import { formatHelp, parseOptions } from './options.js';
import { positiveInteger } from './option-values.js';
import { UsageError } from './usage-error.js';

const DEFAULT_HOST = 'localhost';

/** Every option of `gearbox worker`, in the order `--help` lists them. */
export const WORKER_OPTIONS = [
  {
    name: 'function',
    short: 'f',
    value: 'NAME',
    repeat: 'list',
    help: 'function to register (required)',
  },
  ...serverListOptions(DEFAULT_HOST),
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
  { name: 'verbose', short: 'v', help: 'log each job on stderr' },
  HELP_OPTION,
] as const;

const HELP = formatHelp(
  {
    usage: 'usage: gearbox worker -f FUNCTION [options] [-- COMMAND [ARGS ...]]',
    about:
      'Runs COMMAND for each job of FUNCTION with the workload on stdin; its stdout is the result and ' +
      'a non-zero exit status fails the job, like `gearman -w`. Without COMMAND the workload is echoed.',
  },
  WORKER_OPTIONS,
);

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
  const servers = serversFromOptions(options, DEFAULT_HOST);
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
  const handler = async (job: WorkerJob): Promise<Buffer> => {
    if (verbose) console.error(`job ${job.handle} (${job.functionName})`);
    started += 1;
    // The last allowed job has begun: take no more.
    if (count !== undefined && started >= count)
      for (const name of functions) worker.unregister(name);
    try {
      return await perform(job);
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
    console.error(`gearbox worker: job ${job.handle} failed: ${error.message}`),
  );
  worker.on('disconnect', (server, error) =>
    console.error(`gearbox worker: ${error.message}; reconnecting to ${server}`),
  );
  worker.on('warning', (error) => console.error(`gearbox worker: ${error.message}`));
  const stopSignal = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  try {
    await worker.start();
  } catch (err) {
    // The worker keeps retrying; say so and carry on, like a daemon should.
    console.error(`gearbox worker: ${(err as Error).message}`);
  }
  await Promise.race([allDone, stopSignal]);
  await worker.stop({ timeout: 30_000 });
  return 0;
}
